"""irkit.evidence.redact: secret-looking env values and last-applied configurations go."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from irkit.evidence.redact import LAST_APPLIED, redact, secret_name

SECRET = "s3cr3t-value"


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "dbPassword",
        "DBPASSWORD",
        "passwd",
        "API_KEY",
        "apiKey",
        "APIKEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "PRIVATE_KEY",
        "AUTH",
        "BASIC_AUTH_USER",
        "SMTP_CREDENTIALS",
        "signing.key",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize(
    "name", ["MONKEY_COUNT", "KEYCLOAK_URL", "AUTHOR", "LOG_LEVEL", "PORT", "TURKEY", "HOSTNAME"]
)
def test_names_that_only_contain_a_short_word_are_kept(name: str) -> None:
    assert not secret_name(name)


def _containers() -> list[dict[str, Any]]:
    return [
        {
            "name": "app",
            "env": [
                {"name": "DB_PASSWORD", "value": SECRET},
                {"name": "MONKEY_COUNT", "value": "12"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}},
            ],
        }
    ]


def _pod_spec() -> dict[str, Any]:
    return {c: _containers() for c in ("containers", "initContainers", "ephemeralContainers")}


OBJECTS = {
    "Pod": {"kind": "Pod", "spec": _pod_spec()},
    "Deployment": {"kind": "Deployment", "spec": {"template": {"spec": _pod_spec()}}},
    "StatefulSet": {"kind": "StatefulSet", "spec": {"template": {"spec": _pod_spec()}}},
    "DaemonSet": {"kind": "DaemonSet", "spec": {"template": {"spec": _pod_spec()}}},
    "ReplicaSet": {"kind": "ReplicaSet", "spec": {"template": {"spec": _pod_spec()}}},
    "Job": {"kind": "Job", "spec": {"template": {"spec": _pod_spec()}}},
    "CronJob": {
        "kind": "CronJob",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": _pod_spec()}}}},
    },
}


@pytest.mark.parametrize("kind", sorted(OBJECTS))
def test_env_literals_are_redacted_in_pods_and_templates(kind: str) -> None:
    obj = OBJECTS[kind]
    before = copy.deepcopy(obj)
    out = redact(obj)
    assert obj == before  # pure
    text = json.dumps(out)
    assert SECRET not in text
    assert f'"<redacted: {len(SECRET)} bytes>"' in text
    assert text.count("<redacted:") == 3  # containers, init, ephemeral
    assert '"MONKEY_COUNT", "value": "12"' in text and "secretKeyRef" in text


def test_a_list_is_redacted_item_by_item() -> None:
    out = redact({"kind": "List", "items": [OBJECTS["Pod"], OBJECTS["CronJob"]]})
    assert SECRET not in json.dumps(out)


def test_last_applied_of_a_secret_is_dropped() -> None:
    applied = json.dumps({"kind": "Secret", "data": {"password": "czNjcjN0"}})
    secret = {
        "kind": "Secret",
        "metadata": {"name": "db", "annotations": {LAST_APPLIED: applied, "team": "shop"}},
        "data": {"password": "czNjcjN0"},
    }
    out = redact(secret)
    assert out["metadata"]["annotations"] == {"team": "shop"}
    assert "czNjcjN0" not in json.dumps(out)


@pytest.mark.parametrize(
    ("applied", "kept"),
    [
        (json.dumps({"kind": "Deployment", "spec": {"template": {"spec": _pod_spec()}}}), True),
        (json.dumps({"kind": "Secret", "stringData": {"password": SECRET}}), False),
        ("not json " + SECRET, False),
        (json.dumps([SECRET]), False),
    ],
)
def test_last_applied_elsewhere_is_redacted_or_dropped(applied: str, kept: bool) -> None:
    obj = {"kind": "Deployment", "metadata": {"annotations": {LAST_APPLIED: applied}}}
    out = redact(obj)
    annotations = out["metadata"]["annotations"]
    assert (LAST_APPLIED in annotations) is kept
    assert SECRET not in json.dumps(out)
    if kept:
        assert "<redacted: 12 bytes>" in annotations[LAST_APPLIED]


def test_url_credentials_flag_values_and_auth_headers_are_redacted() -> None:
    """Review finding: secrets outside env values named like secrets still reached bundles."""
    probe = {
        "httpGet": {
            "path": "/healthz",
            "httpHeaders": [
                {"name": "Authorization", "value": "Bearer HDR-CANARY"},
                {"name": "X-Trace", "value": "kept"},
            ],
        }
    }
    container = {
        "name": "app",
        "command": ["app", "--db-password=FLAG-CANARY", "--port=8080"],
        "args": ["--upstream", "https://svc:URL-CANARY@upstream.example/x"],
        "env": [{"name": "DATABASE_URL", "value": "postgres://app:ENV-CANARY@db:5432/app"}],
        "livenessProbe": probe,
        "lifecycle": {"preStop": probe},
    }
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}
    out = redact(pod)
    text = json.dumps(out)
    assert "CANARY" not in text
    got = out["spec"]["containers"][0]
    assert got["command"][2] == "--port=8080" and got["command"][1].startswith("--db-password=<")
    assert got["env"][0]["value"] == "postgres://<redacted>@db:5432/app"
    assert got["args"][1] == "https://<redacted>@upstream.example/x"
    assert got["livenessProbe"]["httpGet"]["httpHeaders"][1]["value"] == "kept"
    assert "CANARY" in json.dumps(pod)  # the input is never changed
