"""The audit log: one ``audit.k8s.io/v1`` Event per request, as kube-apiserver writes them."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import api_client
from kubernetes import client
from kubernetes.client import ApiException

from irkit.sim import SimCluster

from . import rawhttp

AGENT = client.ApiClient().user_agent  # what the official client sends
ADMIN = "sim-admin"
VIEWER = "oncall-viewer"


def _events(sim: SimCluster, at_least: int) -> list[dict[str, Any]]:
    """Every event in the log. The server writes one after answering, so wait for stragglers."""
    deadline = time.monotonic() + 3
    while True:
        lines = sim.audit_log_path.read_text(encoding="utf-8").splitlines()
        if len(lines) >= at_least or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)


def _one(events: list[dict[str, Any]], verb: str, uri_part: str) -> dict[str, Any]:
    found = [e for e in events if e["verb"] == verb and uri_part in e["requestURI"]]
    assert len(found) == 1, (verb, uri_part, [e["requestURI"] for e in events])
    return found[0]


@pytest.fixture
def traffic(sim: SimCluster, k8s: Any, tmp_path: Path) -> list[dict[str, Any]]:
    """A known mix of 13 requests, and the audit events they left."""
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    apps.read_namespaced_deployment("api-server", "production")
    pods = core.list_namespaced_pod("production", label_selector="app=frontend").items
    core.read_namespaced_pod_log(pods[0].metadata.name, "production", tail_lines=1)
    core.create_namespaced_config_map("default", {"metadata": {"name": "audit-me"}})
    core.patch_namespaced_config_map("audit-me", "default", {"data": {"a": "b"}})
    core.delete_namespaced_config_map("audit-me", "default")
    apps.patch_namespaced_deployment_scale("frontend", "production", {"spec": {"replicas": 3}})
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("missing", "default")
    viewer = client.CoreV1Api(api_client(sim.write_kubeconfig(tmp_path / "viewer", user=VIEWER)))
    with pytest.raises(ApiException):
        viewer.list_namespaced_secret("production")
    viewer.list_namespaced_pod("production")
    assert rawhttp.request(sim, "GET", "/api/v1/namespaces", token=None).status == 401
    rawhttp.request(sim, "GET", "/version", token=None)
    rawhttp.request(sim, "GET", "/api/v1/namespaces/default/pods")
    return _events(sim, at_least=13)


def test_every_line_is_an_audit_event(traffic: list[dict[str, Any]]) -> None:
    assert len(traffic) == 13
    for event in traffic:
        assert event["apiVersion"] == "audit.k8s.io/v1"
        assert event["kind"] == "Event"
        assert event["level"] == "Metadata"
        assert event["stage"] == "ResponseComplete"
        assert event["sourceIPs"] == ["127.0.0.1"]
        assert event["requestURI"].startswith("/")
        assert uuid.UUID(event["auditID"])
        received = datetime.fromisoformat(event["requestReceivedTimestamp"])
        completed = datetime.fromisoformat(event["stageTimestamp"])
        assert received.utcoffset() is not None
        assert received <= completed
        assert event["requestReceivedTimestamp"].endswith("Z")
        assert isinstance(event["responseStatus"]["code"], int)
        assert "requestObject" not in event  # Metadata level: no bodies, so no secrets
        assert "responseObject" not in event
    assert len({e["auditID"] for e in traffic}) == len(traffic)


def test_verbs_users_and_agents(traffic: list[dict[str, Any]]) -> None:
    verbs = Counter(e["verb"] for e in traffic)
    assert verbs == {"get": 4, "list": 5, "create": 1, "patch": 2, "delete": 1}
    by_client = [e for e in traffic if e.get("userAgent") == AGENT]
    assert len(by_client) == 10
    admin = _one(traffic, "create", "/api/v1/namespaces/default/configmaps")
    assert admin["user"] == {
        "username": ADMIN,
        "groups": ["system:masters", "system:authenticated"],
    }
    viewer = _one(traffic, "list", "/api/v1/namespaces/production/secrets")
    assert viewer["user"] == {
        "username": VIEWER,
        "groups": ["oncall:viewers", "system:authenticated"],
    }
    anonymous = [e for e in traffic if e["responseStatus"]["code"] == 401]
    assert len(anonymous) == 1
    assert anonymous[0]["user"]["username"] == "system:anonymous"


def test_object_refs(traffic: list[dict[str, Any]]) -> None:
    dep = _one(traffic, "get", "/apis/apps/v1/namespaces/production/deployments/api-server")
    assert dep["objectRef"] == {
        "resource": "deployments",
        "namespace": "production",
        "name": "api-server",
        "apiGroup": "apps",
        "apiVersion": "v1",
    }
    scale = _one(traffic, "patch", "/deployments/frontend/scale")
    assert scale["objectRef"]["subresource"] == "scale"
    assert scale["objectRef"]["name"] == "frontend"
    log = _one(traffic, "get", "/log")
    assert log["objectRef"]["resource"] == "pods"
    assert log["objectRef"]["subresource"] == "log"
    assert "tailLines=1" in log["requestURI"]
    listed = _one(traffic, "list", "/api/v1/namespaces/production/pods?labelSelector=")
    assert listed["objectRef"] == {
        "resource": "pods",
        "namespace": "production",
        "apiVersion": "v1",
    }
    version = _one(traffic, "get", "/version")
    assert "objectRef" not in version


def test_response_codes(traffic: list[dict[str, Any]]) -> None:
    codes = {
        ("create", "/configmaps"): 201,
        ("patch", "/configmaps/audit-me"): 200,
        ("delete", "/configmaps/audit-me"): 200,
        ("get", "/configmaps/missing"): 404,
        ("list", "/namespaces/production/secrets"): 403,
        ("get", "/version"): 200,
    }
    for (verb, part), code in codes.items():
        event = _one(traffic, verb, part)
        assert event["responseStatus"]["code"] == code, (verb, part)
        if code >= 400:
            assert event["responseStatus"]["status"] == "Failure"
    forbidden = _one(traffic, "list", "/namespaces/production/secrets")
    assert forbidden["annotations"]["authorization.k8s.io/decision"] == "forbid"
    allowed = _one(traffic, "create", "/configmaps")
    assert allowed["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_a_watch_is_audited_as_watch(sim: SimCluster, k8s: Any) -> None:
    watch = client.CoreV1Api(k8s).list_namespaced_config_map(
        "default", watch=True, timeout_seconds=1, _preload_content=False
    )
    watch.read()  # the server ends the watch after timeoutSeconds
    watch.release_conn()
    (event,) = _events(sim, at_least=1)
    assert event["verb"] == "watch"
    assert event["objectRef"] == {
        "resource": "configmaps",
        "namespace": "default",
        "apiVersion": "v1",
    }
    assert "watch=true" in event["requestURI"].split("?")[1].split("&")
    assert event["responseStatus"]["code"] == 200


def test_an_injected_fault_is_audited_with_its_code(sim: SimCluster, k8s: Any) -> None:
    sim.inject(resource="configmaps", method="POST", status=503, count=1)
    with pytest.raises(ApiException):
        client.CoreV1Api(k8s).create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    (event,) = _events(sim, at_least=1)
    assert (event["verb"], event["responseStatus"]["code"]) == ("create", 503)


def test_audit_log_is_private(sim: SimCluster, k8s: Any) -> None:
    client.CoreV1Api(k8s).list_namespace()
    _events(sim, at_least=1)
    assert sim.audit_log_path.stat().st_mode & 0o077 == 0
