"""The scenario's pre-alert API activity (``drill.audit``) as kube-apiserver audit events.

A simulator drill appends them to the simulator's audit log before the alert fires, so the
audit evidence a runbook collects holds what the attacker did, not only irkit's own requests
(which the scorecard never counts). Pure: the runner writes the lines.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from irkit.drill.scenario import AuditSeed


def audit_lines(seeds: Sequence[AuditSeed], at: datetime) -> list[str]:
    """One JSON line (audit.k8s.io/v1 Event, stage ResponseComplete) per seed, stamped ``at``."""
    stamp = at.isoformat().replace("+00:00", "Z")
    lines = []
    for seed in seeds:
        group, _, resource = seed.resource.rpartition("/")
        ref = {"resource": resource, "namespace": seed.namespace, "name": seed.name}
        if group:
            ref["apiGroup"] = group
        path = f"/namespaces/{seed.namespace}" if seed.namespace else ""
        uri = f"/api/v1{path}/{resource}" + (f"/{seed.name}" if seed.name else "")
        user: dict[str, object] = {"username": seed.user, "groups": ["system:authenticated"]}
        if seed.pod:
            user["extra"] = {"authentication.kubernetes.io/pod-name": [seed.pod]}
        event = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": str(uuid.uuid4()),
            "stage": "ResponseComplete",
            "requestURI": uri,
            "verb": seed.verb,
            "user": user,
            "sourceIPs": ["10.0.0.1"],
            "userAgent": seed.user_agent,
            "objectRef": {k: v for k, v in ref.items() if v},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": stamp,
            "stageTimestamp": stamp,
        }
        lines.append(json.dumps(event, separators=(",", ":")))
    return lines


__all__ = ["audit_lines"]
