"""What ``collect_audit`` writes: events in scope, never the request or response bodies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from irkit.actions.collect_audit import collect_audit
from irkit.audit.files import AuditLogFiles
from irkit.audit.source import AuditScope
from irkit.evidence.bundle import BundleWriter

SECRET = "IRKIT-CANARY-7f3a9c2e-DO-NOT-LEAK"


def test_request_and_response_bodies_never_enter_the_bundle(tmp_path: Path) -> None:
    encoded = base64.b64encode(SECRET.encode()).decode()
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "a-1",
        "stage": "ResponseComplete",
        "verb": "create",
        "user": {"username": "mallory"},
        "objectRef": {"resource": "secrets", "namespace": "prod", "name": "db"},
        "responseStatus": {"code": 201},
        "requestObject": {"kind": "Secret", "stringData": {"password": SECRET}},
        "responseObject": {"kind": "Secret", "data": {"password": encoded}},
        "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z",
        "stageTimestamp": "2026-11-26T10:00:00.100000Z",
    }
    log = tmp_path / "audit.log"
    log.write_text(json.dumps(event) + "\n")
    writer = BundleWriter(tmp_path / "evidence", "inc-1", clock=lambda: datetime.now(UTC))
    scope = AuditScope(since=None, until=None, namespace="prod")
    assert collect_audit(writer, [AuditLogFiles(log)], scope) == 1
    (entry,) = writer.entries
    data = (writer.folder / entry.path).read_text()
    assert SECRET not in data and encoded not in data
    written = json.loads(data)
    assert "requestObject" not in written and "responseObject" not in written
    assert written["objectRef"]["name"] == "db" and written["verb"] == "create"
