"""Audit events of the simulated API server: kube-apiserver's Metadata-level format."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from irkit.sim.audit import AuditLog, build_event, rfc3339_micro
from irkit.sim.rbac import UserInfo

RECEIVED = datetime(2026, 11, 26, 13, 45, 15, 123456, tzinfo=UTC)
COMPLETED = RECEIVED + timedelta(microseconds=1545)
JANE = UserInfo("jane", ("sre",))


def event(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "audit_id": "a1b2",
        "request_uri": "/api/v1/namespaces/prod/pods?limit=500",
        "verb": "list",
        "user": JANE,
        "source_ip": "10.0.0.7",
        "user_agent": "kubectl/v1.30.0",
        "object_ref": {"resource": "pods", "namespace": "prod", "apiVersion": "v1"},
        "code": 200,
        "received": RECEIVED,
        "completed": COMPLETED,
        "decision": "allow",
    }
    kwargs.update(overrides)
    return build_event(**kwargs)


def test_successful_request_event() -> None:
    assert event() == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "a1b2",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/prod/pods?limit=500",
        "verb": "list",
        "user": {"username": "jane", "groups": ["sre", "system:authenticated"]},
        "sourceIPs": ["10.0.0.7"],
        "userAgent": "kubectl/v1.30.0",
        "objectRef": {"resource": "pods", "namespace": "prod", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-11-26T13:45:15.123456Z",
        "stageTimestamp": "2026-11-26T13:45:15.125001Z",
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": "",
        },
    }


def test_forbidden_request_event_carries_failure_status_and_decision() -> None:
    message = 'pods "web-1" is forbidden: User "jane" cannot get resource "pods/log" ...'
    got = event(
        verb="get",
        object_ref={
            "resource": "pods",
            "namespace": "prod",
            "name": "web-1",
            "apiVersion": "v1",
            "subresource": "log",
        },
        code=403,
        reason="Forbidden",
        message=message,
        details={"name": "web-1", "kind": "pods"},
        decision="forbid",
    )
    assert got["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": {"name": "web-1", "kind": "pods"},
        "code": 403,
    }
    assert got["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert list(got["objectRef"]) == ["resource", "namespace", "name", "apiVersion", "subresource"]


def test_object_ref_keys_are_ordered_and_empty_ones_left_out() -> None:
    ref = {"subresource": "", "apiVersion": "v1", "apiGroup": "apps", "resource": "deployments"}
    assert list(event(object_ref=ref)["objectRef"].items()) == [
        ("resource", "deployments"),
        ("apiGroup", "apps"),
        ("apiVersion", "v1"),
    ]


def test_optional_parts_are_omitted() -> None:
    got = event(object_ref=None, user_agent="", decision=None, user=UserInfo("system:anonymous"))
    assert "objectRef" not in got
    assert "userAgent" not in got
    assert "annotations" not in got
    assert got["user"] == {"username": "system:anonymous"}


def test_allow_reason_annotation() -> None:
    reason = 'RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "jane"'
    got = event(decision_reason=reason)
    assert got["annotations"]["authorization.k8s.io/reason"] == reason


def test_timestamps_are_utc_with_microseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert rfc3339_micro(datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two)) == (
        "2026-01-02T03:04:05.000000Z"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339_micro(datetime(2026, 1, 2))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"stage": "Done"}, "unknown audit stage"),
        ({"decision": "deny"}, "'allow' or 'forbid'"),
        ({"object_ref": {"resource": "pods", "kind": "Pod"}}, "unknown objectRef keys"),
    ],
)
def test_invalid_values_are_rejected(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        event(**overrides)


def test_concurrent_writes_give_one_parseable_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    threads, per_thread = 8, 200
    with AuditLog(path) as log:

        def worker(n: int) -> None:
            for i in range(per_thread):
                # A long value makes torn writes likely if lines were not written whole.
                log.write(event(audit_id=f"{n}-{i}", request_uri="/api/v1/pods?x=" + "y" * 2000))

        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["auditID"] for line in lines]
    assert sorted(ids) == sorted(f"{n}-{i}" for n in range(threads) for i in range(per_thread))


def test_appends_to_an_existing_file_and_creates_new_ones_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLog(path) as log:
        log.write({"n": 1})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with AuditLog(str(path)) as log:
        log.write({"n": 2})
    assert path.read_text(encoding="utf-8") == '{"n":1}\n{"n":2}\n'


def test_lines_escape_html_characters_like_go(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLog(path) as log:
        log.write({"requestURI": "/api/v1/pods?limit=1&watch=<x>"})
    text = path.read_text(encoding="utf-8")
    assert text == '{"requestURI":"/api/v1/pods?limit=1\\u0026watch=\\u003cx\\u003e"}\n'
    assert json.loads(text)["requestURI"] == "/api/v1/pods?limit=1&watch=<x>"


def test_disabled_log_ignores_writes() -> None:
    log = AuditLog(None)
    assert not log.enabled
    log.write(event())
    log.close()


def test_write_after_close_raises(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    assert log.enabled
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.write({"n": 1})
