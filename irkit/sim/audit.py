"""Kubernetes audit log of the simulated API server.

irkit rebuilds incident timelines from kube-apiserver audit logs. The simulator writes the same
file format (``--audit-log-path``: one ``audit.k8s.io/v1`` ``Event`` per line, JSON) so that the
log readers and the drills run against realistic files instead of hand-written fixtures.

Only the ``Metadata`` level is produced: no request or response bodies, so secrets read during
a drill never land in the log. Field names, key order and omissions follow real events, e.g.::

    {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"...",
     "stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods?limit=500",
     "verb":"list","user":{"username":"jane","groups":["system:authenticated"]},
     "sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.30.0",
     "objectRef":{"resource":"pods","namespace":"prod","apiVersion":"v1"},
     "responseStatus":{"metadata":{},"code":200},
     "requestReceivedTimestamp":"2026-11-26T13:45:15.123456Z",
     "stageTimestamp":"2026-11-26T13:45:15.125001Z",
     "annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from irkit.sim.rbac import UserInfo

STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
DECISIONS = ("allow", "forbid")
# The order kube-apiserver serialises ObjectReference fields in; empty ones are left out.
_OBJECT_REF_KEYS = (
    "resource",
    "namespace",
    "name",
    "uid",
    "apiGroup",
    "apiVersion",
    "resourceVersion",
    "subresource",
)
# Go's encoding/json escapes these; doing the same keeps lines byte-comparable with real logs.
_GO_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


class AuditLog:
    """An append-only JSON-lines audit file, safe to write from the server's handler threads.

    ``AuditLog(None)`` is a disabled log: ``write`` does nothing. Writing after ``close`` raises
    ValueError, because silently losing audit events would hide a shutdown-order bug.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._file: TextIO | None = None if path is None else _open_append(path)

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def write(self, event: Mapping[str, Any]) -> None:
        """Append one event as one line, flushed so a reader (or a crash) sees whole lines."""
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        line = line.translate(_GO_JSON_ESCAPES) + "\n"
        with self._lock:
            if self._closed:
                raise ValueError("audit log is closed")
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_event(
    *,
    audit_id: str,
    request_uri: str,
    verb: str,
    user: UserInfo,
    source_ip: str,
    user_agent: str,
    object_ref: Mapping[str, str] | None,
    code: int,
    received: datetime,
    completed: datetime,
    stage: str = "ResponseComplete",
    reason: str = "",
    message: str = "",
    details: Mapping[str, Any] | None = None,
    decision: str | None = None,
    decision_reason: str = "",
) -> dict[str, Any]:
    """An ``audit.k8s.io/v1`` ``Event`` at the Metadata level.

    ``verb`` is the Kubernetes verb (get, list, watch, create, update, patch, delete,
    deletecollection), or the lowercase HTTP method for non-resource URLs, as upstream logs it.
    ``reason``, ``message`` and ``details`` describe a failed answer (code >= 400), as in its
    Status. ``decision`` ("allow" or "forbid") and ``decision_reason`` become the
    ``authorization.k8s.io/*`` annotations; with no decision (e.g. authentication failed) there
    are no annotations. Timestamps must be timezone-aware.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown audit stage {stage!r}: expected one of {', '.join(STAGES)}")
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": stage,
        "requestURI": request_uri,
        "verb": verb,
        "user": _user(user),
        "sourceIPs": [source_ip],
    }
    if user_agent:
        event["userAgent"] = user_agent
    if object_ref:
        event["objectRef"] = _object_ref(object_ref)
    event["responseStatus"] = _response_status(code, reason, message, details)
    event["requestReceivedTimestamp"] = rfc3339_micro(received)
    event["stageTimestamp"] = rfc3339_micro(completed)
    if decision is not None:
        event["annotations"] = _annotations(decision, decision_reason)
    return event


def rfc3339_micro(moment: datetime) -> str:
    """``2026-11-26T13:45:15.123456Z``: Go's RFC3339Micro in UTC, which audit events use."""
    if moment.tzinfo is None:
        raise ValueError(f"audit timestamps must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _open_append(path: str | os.PathLike[str]) -> TextIO:
    # Created 0600 like kube-apiserver's log file: audit events name users, IPs and objects.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    if stat.S_ISREG(os.fstat(fd).st_mode):  # an existing file keeps its mode otherwise
        os.fchmod(fd, 0o600)  # (and /dev/stdout, a tty, is left alone)
    return open(fd, "a", encoding="utf-8")


def _user(user: UserInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name}
    if groups := user.effective_groups:
        out["groups"] = list(groups)
    return out


def _object_ref(ref: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(ref) - set(_OBJECT_REF_KEYS))
    if unknown:
        raise ValueError(
            f"unknown objectRef keys {unknown}: expected some of {', '.join(_OBJECT_REF_KEYS)}"
        )
    return {key: ref[key] for key in _OBJECT_REF_KEYS if ref.get(key)}


def _response_status(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None
) -> dict[str, Any]:
    status: dict[str, Any] = {"metadata": {}}
    if code >= 400:
        status["status"] = "Failure"
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        if details is not None:
            status["details"] = dict(details)
    status["code"] = code
    return status


def _annotations(decision: str, reason: str) -> dict[str, str]:
    if decision not in DECISIONS:
        raise ValueError(f"authorization decision must be 'allow' or 'forbid', got {decision!r}")
    return {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
