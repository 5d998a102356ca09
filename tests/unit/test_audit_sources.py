"""Audit sources: apiserver log files with rotations (plain and gzip), EKS CloudWatch Logs on
moto's in-process AWS, and the ``in_scope`` rule both defer to."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from irkit.audit.cloudwatch import EksAuditLogs, filter_pattern
from irkit.audit.files import AuditLogFiles, rotated_at
from irkit.audit.filter import actor_for_service_account, event_time, in_scope
from irkit.audit.source import AuditScope
from irkit.errors import AuditSourceError, Remedy

DAY = datetime(2026, 11, 26, tzinfo=UTC)
NS = "prod"
SA = actor_for_service_account(NS, "api-server")


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(
    when: datetime | None,
    *,
    namespace: str | None = NS,
    name: str | None = "web-1",
    resource: str = "pods",
    user: str = "jane",
    impersonated: str | None = None,
    audit_id: str = "",
) -> dict[str, Any]:
    ref: dict[str, Any] = {"resource": resource, "apiVersion": "v1"}
    if namespace:
        ref["namespace"] = namespace
    if name:
        ref["name"] = name
    e: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id or f"id-{stamp(when) if when else 'none'}",
        "stage": "ResponseComplete",
        "verb": "get",
        "user": {"username": user, "groups": ["system:authenticated"]},
        "objectRef": ref,
    }
    if impersonated:
        e["impersonatedUser"] = {"username": impersonated}
    if when is not None:
        e["requestReceivedTimestamp"] = stamp(when)
        e["stageTimestamp"] = stamp(when + timedelta(milliseconds=2))
    return e


def line(e: dict[str, Any]) -> str:
    return json.dumps(e, separators=(",", ":")) + "\n"


# --- in_scope --------------------------------------------------------------------------------


def scope(**kw: Any) -> AuditScope:
    return AuditScope(**{"since": at(4), "until": at(5), "namespace": NS, **kw})


@pytest.mark.parametrize(
    ("e", "kw", "expected"),
    [
        (event(at(4, 30)), {}, True),
        (event(at(4)), {}, True),  # window is closed at both ends
        (event(at(5)), {}, True),
        (event(at(3, 59, 59)), {}, False),
        (event(at(5, 0, 1)), {}, False),
        (event(None), {}, False),  # no time: outside any window
        (event(at(4, 30), namespace="staging"), {}, False),
        (event(at(4, 30), name="api"), {"names": frozenset({"api"})}, True),
        (event(at(4, 30), namespace="staging", name="api"), {"names": frozenset({"api"})}, False),
        (event(at(4, 30), namespace=None, resource="namespaces", name=NS), {}, True),
        (event(at(4, 30), namespace=None, resource="nodes", name=NS), {}, False),
        (event(at(4, 30), namespace="kube-system", user=SA), {"actors": frozenset({SA})}, True),
        (event(at(4, 30), namespace="kube-system", user=SA), {}, False),
        (
            event(at(4, 30), namespace="kube-system", user="admin", impersonated=SA),
            {"actors": frozenset({SA})},
            True,
        ),
        (event(at(6), namespace="x", user=SA), {"actors": frozenset({SA})}, False),
    ],
)
def test_in_scope(e: dict[str, Any], kw: dict[str, Any], expected: bool) -> None:
    assert in_scope(e, scope(**kw)) is expected


def test_in_scope_open_window_and_naive_times() -> None:
    e = event(at(4, 30))
    assert in_scope(e, AuditScope(since=None, until=None, namespace=NS))
    naive = AuditScope(
        since=at(4).replace(tzinfo=None), until=at(5).replace(tzinfo=None), namespace=NS
    )
    assert in_scope(e, naive)
    assert not in_scope(event(at(6)), naive)


def test_event_time_falls_back_to_stage_timestamp() -> None:
    e = event(at(4, 30))
    del e["requestReceivedTimestamp"]
    assert event_time(e) == at(4, 30) + timedelta(milliseconds=2)
    e["requestReceivedTimestamp"] = "not a time"
    assert event_time(e) == at(4, 30) + timedelta(milliseconds=2)
    assert event_time({"stageTimestamp": 17}) is None


def test_actor_for_service_account() -> None:
    assert actor_for_service_account("prod", "api") == "system:serviceaccount:prod:api"


# --- files -----------------------------------------------------------------------------------


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A kube-apiserver log folder: logrotate-numbered and lumberjack-stamped rotations, gzip and
    plain, the live file with a half-written last line, and files that are not ours."""
    folder = tmp_path / "kube-apiserver"
    folder.mkdir()
    with gzip.open(folder / "audit.log.2.gz", "wt") as f:  # oldest: 00:xx
        f.writelines(line(event(at(0, m), audit_id=f"a2-{m}")) for m in range(0, 60, 10))
    (folder / "audit.log.1").write_text(
        "".join(line(event(at(1, m), audit_id=f"a1-{m}")) for m in range(0, 60, 10))
    )
    with gzip.open(folder / "audit-2026-11-26T03-00-00.000.log.gz", "wt") as f:
        f.writelines(line(event(at(2, m), audit_id=f"l1-{m}")) for m in range(0, 60, 10))
    (folder / "audit-2026-11-26T06-00-00.000.log").write_text(
        line(event(at(3, 30), audit_id="l2-a"))
        + "this is not json\n"
        + "[1, 2]\n"
        + "\n"
        + line(event(None, audit_id="l2-no-time"))
        + line(event(at(4, 30), audit_id="l2-b"))
        + line(event(at(5, 30), namespace="staging", audit_id="l2-c"))
    )
    (folder / "audit.log").write_text(
        line(event(at(6, 10), audit_id="live-a")) + '{"kind":"Event","apiVersion":"au'
    )
    for other in ("audit.log.bak", "audit-foo.log", "other.log", "audit-2026-11-26T03-00.log"):
        (folder / other).write_text(line(event(at(4, 30), audit_id="not-ours")))
    return folder / "audit.log"


def ids(events: Iterator[dict[str, Any]]) -> list[str]:
    return [e["auditID"] for e in events]


def test_files_found_oldest_first(logs: Path) -> None:
    assert [p.name for p in AuditLogFiles(logs).files()] == [
        "audit.log.2.gz",
        "audit.log.1",
        "audit-2026-11-26T03-00-00.000.log.gz",
        "audit-2026-11-26T06-00-00.000.log",
        "audit.log",
    ]


def test_files_all_events_in_order_counting_malformed(logs: Path) -> None:
    source = AuditLogFiles(logs)
    got = ids(source.events(AuditScope(since=None, until=None, namespace=NS)))
    assert got == (
        [f"a2-{m}" for m in range(0, 60, 10)]
        + [f"a1-{m}" for m in range(0, 60, 10)]
        + [f"l1-{m}" for m in range(0, 60, 10)]
        + ["l2-a", "l2-b", "l2-c", "live-a"]
    )
    assert source.skipped == 4  # not json, a list, no timestamp, the half-written last line
    assert source.problems == []
    assert source.description == f"file {logs}"


def test_files_time_window(logs: Path) -> None:
    source = AuditLogFiles(logs)
    got = ids(source.events(AuditScope(since=at(1, 15), until=at(4, 30), namespace=NS)))
    assert got == ["a1-20", "a1-30", "a1-40", "a1-50", "l1-0", "l1-10", "l1-20", "l1-30",
                   "l1-40", "l1-50", "l2-a", "l2-b"]  # fmt: skip
    # the lumberjack file rotated at 03:00 is still read (window opens at 01:15)...
    later = AuditLogFiles(logs)
    assert ids(later.events(AuditScope(since=at(4), until=None, namespace=NS))) == [
        "l2-b",
        "l2-c",
        "live-a",
    ]
    # ...but not when the window opens after it was rotated out; numbered ones are always read
    assert [p.name for p in later.files_read] == [
        "audit.log.2.gz",
        "audit.log.1",
        "audit-2026-11-26T06-00-00.000.log",
        "audit.log",
    ]
    assert later.skipped == 4


def test_files_with_in_scope(logs: Path) -> None:
    s = AuditScope(since=at(3), until=at(7), namespace=NS)
    assert [e["auditID"] for e in AuditLogFiles(logs).events(s) if in_scope(e, s)] == [
        "l2-a",
        "l2-b",
        "live-a",
    ]


def test_files_stream_lazily(logs: Path) -> None:
    source = AuditLogFiles(logs)
    events = source.events(AuditScope(since=None, until=None, namespace=NS))
    assert next(events)["auditID"] == "a2-0"
    assert [p.name for p in source.files_read] == ["audit.log.2.gz"]  # nothing else opened yet


def test_files_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(
        "".join(line(event(at(4, m), audit_id=f"e{m}")) for m in range(50)).encode()
    )
    (tmp_path / "audit.log.1.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "audit.log").write_text(line(event(at(5, 30), audit_id="live")))
    source = AuditLogFiles(tmp_path / "audit.log")
    got = ids(source.events(AuditScope(since=None, until=None, namespace=NS)))
    assert got[-1] == "live"
    assert 0 < len(got) - 1 < 50
    assert len(source.problems) == 1
    assert source.problems[0].startswith(f"{tmp_path / 'audit.log.1.gz'}: compressed file ends")


def test_files_missing(tmp_path: Path) -> None:
    with pytest.raises(AuditSourceError, match=r"no audit log at .*audit\.log"):
        AuditLogFiles(tmp_path / "audit.log").files()
    with pytest.raises(AuditSourceError, match="cannot list"):
        list(AuditLogFiles(tmp_path / "nowhere" / "audit.log").events(scope()))


def test_rotated_at() -> None:
    assert rotated_at(Path("audit-2026-11-26T03-00-00.000.log.gz")) == at(3)
    assert rotated_at(Path("audit.log.1")) is None


# --- CloudWatch ------------------------------------------------------------------------------


GROUP = "/aws/eks/prod-eks/cluster"
BASE = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture
def cloudwatch(aws_env: None) -> Iterator[Any]:
    """300 audit events 10 s apart from BASE in an audit stream, plus a late-logged watch, an
    early request logged inside the window, a malformed message, and an authenticator stream."""
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="kube-apiserver-audit-0a1b")
        logs.create_log_stream(logGroupName=GROUP, logStreamName="authenticator-0a1b")
        records = [
            (ms(BASE + timedelta(seconds=10 * i)), line(event(BASE + timedelta(seconds=10 * i),
             audit_id=f"e{i}")))
            for i in range(300)
        ]  # fmt: skip
        # received at +15 min (in the window below), logged 10 min after the window closes
        watch = event(BASE + timedelta(minutes=15), audit_id="late-watch")
        records.append((ms(BASE + timedelta(minutes=30)), line(watch)))
        # received before the window, logged inside it: CloudWatch returns it, the filter not
        early = event(BASE + timedelta(minutes=5), audit_id="early")
        records.append((ms(BASE + timedelta(minutes=12)), line(early)))
        records.append((ms(BASE + timedelta(minutes=13)), "not json at all"))
        records.sort(key=lambda r: r[0])
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName="kube-apiserver-audit-0a1b",
            logEvents=[{"timestamp": t, "message": m} for t, m in records],
        )
        other = event(BASE + timedelta(minutes=15), audit_id="authenticator")
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName="authenticator-0a1b",
            logEvents=[{"timestamp": ms(BASE + timedelta(minutes=15)), "message": line(other)}],
        )
        yield logs


def test_cloudwatch_window_and_pagination(cloudwatch: Any) -> None:
    source = EksAuditLogs("prod-eks", region="us-east-1", page_size=25)
    s = AuditScope(
        since=BASE + timedelta(minutes=10), until=BASE + timedelta(minutes=20), namespace=NS
    )
    got = ids(source.events(s))
    expected = [f"e{i}" for i in range(60, 121)]  # 10:00 .. 20:00 inclusive, 10 s apart
    assert sorted(got) == sorted([*expected, "late-watch"])
    assert source.pages >= 4  # > 61 events at 25 a page
    assert source.skipped == 1
    assert source.description == f"cloudwatch {GROUP}"


def test_cloudwatch_all_pages_without_window(cloudwatch: Any) -> None:
    source = EksAuditLogs("prod-eks", region="us-east-1", page_size=100)
    got = ids(source.events(AuditScope(since=None, until=None, namespace=NS)))
    assert len(got) == 302 and len(set(got)) == 302  # 300 + watch + early, none twice
    assert "authenticator" not in got  # other streams of the group are not audit logs
    assert source.pages >= 4


def test_cloudwatch_missing_group(aws_env: None) -> None:
    with mock_aws():
        source = EksAuditLogs("nope", region="us-east-1")
        with pytest.raises(AuditSourceError) as caught:
            list(source.events(scope()))
    assert str(caught.value) == "log group /aws/eks/nope/cluster not found in region us-east-1"
    assert caught.value.hint is not None and "audit" in caught.value.hint


def test_cloudwatch_unreachable_endpoint(aws_env: None) -> None:
    source = EksAuditLogs("prod-eks", region="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(AuditSourceError, match="EndpointConnectionError"):
        list(source.events(scope()))


def test_filter_pattern() -> None:
    assert filter_pattern(AuditScope(since=None, until=None, namespace=NS)) == (
        '{ ($.objectRef.namespace = "prod") || '
        '($.objectRef.resource = "namespaces" && $.objectRef.name = "prod") }'
    )
    with_actor = filter_pattern(scope(actors=frozenset({SA})))
    assert with_actor is not None
    assert f'($.user.username = "{SA}")' in with_actor
    assert f'($.impersonatedUser.username = "{SA}")' in with_actor
    assert filter_pattern(scope(actors=frozenset({'evil" || 1'}))) is None  # not escapable
    many = frozenset(f"system:serviceaccount:{NS}:sa-{i}" for i in range(20))
    assert filter_pattern(scope(actors=many)) is None  # over 1024 characters


def test_cloudwatch_without_a_region_is_an_audit_source_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(AuditSourceError, match="/aws/eks/prod/cluster") as caught:
        EksAuditLogs("prod")
    assert caught.value.hint is not None and "region" in caught.value.hint  # "--region": CLI's
    assert caught.value.remedy == Remedy("aws-region")
