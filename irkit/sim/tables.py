"""Server-side printing: ``meta.k8s.io/v1`` Table answers, the columns ``kubectl get`` shows.

kubectl asks for a Table and prints whatever columns the server sends; a server that cannot
answer with one makes kubectl fall back to NAME and AGE only. These are the columns a real
cluster shows for the types responders look at most.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from irkit.model.kinds import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj, datetime], Any]]


def age(obj: Obj, now: datetime) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2 or (unit == "m" and seconds >= 120):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _name(obj: Obj, _: datetime) -> str:
    return str(obj["metadata"]["name"])


def _get(*path: str, default: Any = "") -> Callable[[Obj, datetime], Any]:
    def read(obj: Obj, _: datetime) -> Any:
        cur: Any = obj
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
            if cur is None:
                return default
        return cur

    return read


def _pod_ready(obj: Obj, _: datetime) -> str:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(obj.get('spec', {}).get('containers') or [])}"


def _restarts(obj: Obj, _: datetime) -> int:
    return sum(
        s.get("restartCount", 0) for s in obj.get("status", {}).get("containerStatuses") or []
    )


def _ready_of(obj: Obj, _: datetime) -> str:
    st = obj.get("status", {})
    return f"{st.get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 1)}"


def _svc_ports(obj: Obj, _: datetime) -> str:
    ports = obj.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _selector(obj: Obj, _: datetime) -> str:
    sel = obj.get("spec", {}).get("podSelector", {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"


def _node_roles(obj: Obj, _: datetime) -> str:
    labels = obj["metadata"].get("labels") or {}
    roles = [k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")]
    return ",".join(roles) or "<none>"


def _node_status(obj: Obj, _: datetime) -> str:
    conditions = obj.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return "Ready" if ready or not conditions else "NotReady"


_AGE: Column = ("Age", "date", age)
_NAME: Column = ("Name", "string", _name)
COLUMNS: dict[str, list[Column]] = {
    "pods": [
        _NAME,
        ("Ready", "string", _pod_ready),
        ("Status", "string", _get("status", "phase", default="Pending")),
        ("Restarts", "integer", _restarts),
        _AGE,
        ("IP", "string", _get("status", "podIP", default="<none>")),
        ("Node", "string", _get("spec", "nodeName", default="<none>")),
    ],
    "deployments": [
        _NAME,
        ("Ready", "string", _ready_of),
        ("Up-to-date", "integer", _get("status", "updatedReplicas", default=0)),
        ("Available", "integer", _get("status", "availableReplicas", default=0)),
        _AGE,
    ],
    "replicasets": [
        _NAME,
        ("Desired", "integer", _get("spec", "replicas", default=0)),
        ("Current", "integer", _get("status", "replicas", default=0)),
        ("Ready", "integer", _get("status", "readyReplicas", default=0)),
        _AGE,
    ],
    "statefulsets": [_NAME, ("Ready", "string", _ready_of), _AGE],
    "daemonsets": [
        _NAME,
        ("Desired", "integer", _get("status", "desiredNumberScheduled", default=0)),
        ("Ready", "integer", _get("status", "numberReady", default=0)),
        _AGE,
    ],
    "services": [
        _NAME,
        ("Type", "string", _get("spec", "type", default="ClusterIP")),
        ("Cluster-IP", "string", _get("spec", "clusterIP", default="<none>")),
        ("Port(s)", "string", _svc_ports),
        _AGE,
    ],
    "networkpolicies": [_NAME, ("Pod-Selector", "string", _selector), _AGE],
    "events": [
        (
            "Last Seen",
            "string",
            lambda o, now: age({"metadata": {"creationTimestamp": o.get("lastTimestamp")}}, now),
        ),
        ("Type", "string", _get("type")),
        ("Reason", "string", _get("reason")),
        (
            "Object",
            "string",
            lambda o, _: (
                f"{o['involvedObject'].get('kind', '').lower()}/"
                f"{o['involvedObject'].get('name', '')}"
            ),
        ),
        ("Message", "string", _get("message")),
    ],
    "namespaces": [_NAME, ("Status", "string", _get("status", "phase", default="Active")), _AGE],
    "nodes": [
        _NAME,
        ("Status", "string", _node_status),
        ("Roles", "string", _node_roles),
        _AGE,
        ("Version", "string", _get("status", "nodeInfo", "kubeletVersion", default="v1.32.0")),
    ],
    "secrets": [
        _NAME,
        ("Type", "string", _get("type", default="Opaque")),
        ("Data", "integer", lambda o, _: len(o.get("data") or {})),
        _AGE,
    ],
    "configmaps": [_NAME, ("Data", "integer", lambda o, _: len(o.get("data") or {})), _AGE],
}


def to_table(rt: ResourceType, items: list[Obj], list_meta: dict[str, Any]) -> Obj:
    now = datetime.now(UTC)
    columns = COLUMNS.get(rt.plural, [_NAME, _AGE])
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": title,
                "type": kind,
                "format": "name" if i == 0 and title == "Name" else "",
                "description": "",
                "priority": 0,
            }
            for i, (title, kind, _) in enumerate(columns)
        ],
        "rows": [
            {
                "cells": [read(obj, now) for _, _, read in columns],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
            for obj in items
        ],
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept
