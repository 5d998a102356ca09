"""The pure parts of collect: which logs, which references, which bindings, which risks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from irkit.actions.collect_audit import source_slug
from irkit.actions.collect_logs import LogRef, log_refs
from irkit.actions.collect_rbac import _binds, _risks
from irkit.actions.collect_state import pod_references, secret_summary
from irkit.actions.gather import write_lines
from irkit.cli.collect_options import parse_actor, parse_tags, parse_time
from irkit.errors import Unavailable, UsageError
from irkit.evidence.bundle import BundleWriter

POD: dict[str, Any] = {
    "metadata": {"name": "web-0"},
    "spec": {
        "initContainers": [{"name": "init"}],
        "containers": [
            {
                "name": "app",
                "envFrom": [{"configMapRef": {"name": "cm-env"}}, {"secretRef": {"name": "s-env"}}],
                "env": [
                    {"name": "PLAIN", "value": "visible"},
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                    {"name": "LVL", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "l"}}},
                ],
            },
            {"name": "sidecar"},
        ],
        "ephemeralContainers": [{"name": "debugger"}],
        "volumes": [
            {"name": "conf", "configMap": {"name": "cm-vol"}},
            {"name": "certs", "secret": {"secretName": "tls"}},
            {"name": "proj", "projected": {"sources": [{"secret": {"name": "proj-s"}}]}},
        ],
        "imagePullSecrets": [{"name": "regcred"}],
    },
    "status": {
        "initContainerStatuses": [{"name": "init", "restartCount": 0}],
        "containerStatuses": [
            {"name": "app", "restartCount": 2},
            {"name": "sidecar", "restartCount": 0, "lastState": {"terminated": {"exitCode": 1}}},
        ],
    },
}


def test_log_refs_cover_every_container_and_restarts() -> None:
    assert log_refs(POD) == [
        LogRef("web-0", "init", False),
        LogRef("web-0", "app", False),
        LogRef("web-0", "app", True),
        LogRef("web-0", "sidecar", False),
        LogRef("web-0", "sidecar", True),
        LogRef("web-0", "debugger", False),
    ]
    assert LogRef("web-0", "app", True).relpath == "logs/web-0/app.previous.log"
    assert LogRef("../x", "a/b", False).relpath == "logs/_._x/a_b.log"


def test_references_are_names_only() -> None:
    refs = set(pod_references(POD))
    assert {(k, n) for k, n, _ in refs} == {
        ("ConfigMap", "cm-env"),
        ("ConfigMap", "cm"),
        ("ConfigMap", "cm-vol"),
        ("Secret", "s-env"),
        ("Secret", "db"),
        ("Secret", "tls"),
        ("Secret", "proj-s"),
        ("Secret", "regcred"),
    }
    assert ("Secret", "db", "container app env PW (key pw)") in refs


def test_secret_summary_drops_every_value() -> None:
    secret = {
        "metadata": {
            "name": "db",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "pw: s3cr3t"},
        },
        "type": "Opaque",
        "data": {"pw": "czNjcjN0"},
        "stringData": {"user": "s3cr3t-user"},
    }
    summary = secret_summary("db", secret)
    assert summary == {"name": "db", "type": "Opaque", "keys": ["pw", "user"]}
    assert "s3cr3t" not in repr(summary) and "czNjcjN0" not in repr(summary)
    assert secret_summary("gone", None) == {"name": "gone", "keys": None}


def _binding(*subjects: dict[str, str], namespace: str | None = "prod") -> dict[str, Any]:
    meta = {"name": "b", **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "subjects": list(subjects)}


@pytest.mark.parametrize(
    ("binding", "bound"),
    [
        (_binding({"kind": "ServiceAccount", "name": "api"}), True),  # namespace = the binding's
        (_binding({"kind": "ServiceAccount", "name": "api", "namespace": "other"}), False),
        (
            _binding(
                {"kind": "ServiceAccount", "name": "api", "namespace": "prod"}, namespace=None
            ),
            True,
        ),
        (_binding({"kind": "User", "name": "system:serviceaccount:prod:api"}), True),
        (_binding({"kind": "Group", "name": "system:serviceaccounts"}), True),
        (_binding({"kind": "Group", "name": "system:serviceaccounts:prod"}), True),
        (_binding({"kind": "Group", "name": "system:serviceaccounts:other"}), False),
        (_binding({"kind": "Group", "name": "system:authenticated"}), True),
        (_binding({"kind": "User", "name": "api"}), False),
        (_binding(), False),
    ],
)
def test_which_bindings_grant_the_account(binding: dict[str, Any], bound: bool) -> None:
    assert _binds(binding, "prod", "api") is bound


def test_risks() -> None:
    def risks(*rules: dict[str, Any]) -> set[str]:
        return _risks({"scope": "namespace prod", "rules": list(rules)})

    assert risks({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}) == {
        "can read Secrets in namespace prod"
    }
    assert risks({"apiGroups": ["apps"], "resources": ["secrets"], "verbs": ["get"]}) == set()
    assert risks({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}) == set()
    everything = risks({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    assert "full access (*) in namespace prod" in everything and len(everything) == 6
    assert risks({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}) == {
        "can exec into pods in namespace prod"
    }


def test_source_slug() -> None:
    assert source_slug("file /var/log/kube-apiserver/audit.log") == (
        "file-var-log-kube-apiserver-audit.log"
    )
    assert source_slug("cloudwatch /aws/eks/prod/cluster") == "cloudwatch-aws-eks-prod-cluster"
    assert source_slug("../..") == "source"


def test_parse_time() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_time("2h", now, "--since") == now - timedelta(hours=2)
    assert parse_time("90s", now, "--since") == now - timedelta(seconds=90)
    assert parse_time("2026-11-26T03:00:00Z", now, "--since") == datetime(
        2026, 11, 26, 3, tzinfo=UTC
    )
    assert parse_time("2026-11-26T05:00:00+02:00", now, "--since").hour == 3
    for bad in ("2026-11-26T03:00:00", "yesterday", "2x", ""):
        with pytest.raises(UsageError, match="--since"):
            parse_time(bad, now, "--since")


def test_parse_actor_and_tags() -> None:
    assert parse_actor("prod:api") == "system:serviceaccount:prod:api"
    assert parse_actor("system:serviceaccount:prod:api") == "system:serviceaccount:prod:api"
    for bad in ("api", "prod:", "Prod:api", "system:serviceaccount:prod"):
        with pytest.raises(UsageError):
            parse_actor(bad)
    assert parse_tags(["case=42", "team=ir=sec"]) == {"case": "42", "team": "ir=sec"}
    with pytest.raises(UsageError):
        parse_tags(["nokey"])


def test_a_list_failing_part_way_keeps_its_lines_and_says_it_is_incomplete(
    tmp_path: Path,
) -> None:
    writer = BundleWriter(tmp_path, "inc-1")

    def pages() -> Iterator[dict[str, Any]]:
        yield {"metadata": {"name": "a"}}
        yield {"metadata": {"name": "b"}}
        raise Unavailable("the API server went away on page 2")

    written = write_lines(writer, "state/events.jsonl", pages(), "/api/v1/events")
    assert written == 2
    lines = (writer.folder / "state/events.jsonl").read_text().splitlines()
    assert [json.loads(line)["metadata"]["name"] for line in lines] == ["a", "b"]
    [failure] = writer.failures
    assert failure.artifact == "state/events.jsonl"
    assert failure.reason.startswith("incomplete after 2 objects: the API server went away")
