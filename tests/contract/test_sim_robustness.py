"""Review findings on the simulator: bad input answered before any write or stream, clean
start and stop (files, threads, audit lines), and no tracebacks for misbehaving clients."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import api_client, body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.errors import SimError
from irkit.sim import SimCluster

from . import rawhttp

CMS = "/api/v1/namespaces/default/configmaps"


def _raw(sim: SimCluster, data: bytes) -> bytes:
    """Send bytes as they are over TLS; the answer until the server closes or goes quiet."""
    with (
        socket.create_connection(("127.0.0.1", sim.port), timeout=5) as plain,
        rawhttp.tls_context(sim).wrap_socket(plain, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(data)
        out = b""
        try:
            while chunk := conn.recv(65536):
                out += chunk
        except (TimeoutError, ssl.SSLError, OSError):
            pass
        return out


def _cm(name: str) -> bytes:
    return json.dumps({"metadata": {"name": name}, "data": {"a": "1"}}).encode()


# ---- dryRun ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["true", "", "all"])
def test_a_dry_run_value_other_than_all_is_bad_request_and_writes_nothing(
    sim: SimCluster, value: str
) -> None:
    got = rawhttp.request(sim, "POST", f"{CMS}?dryRun={value}", _cm("trial"))
    assert got.status == 400, got.body
    assert got.json()["message"] == (
        f'dryRun: Unsupported value: "{value}": supported values: "All"'
    )
    assert rawhttp.request(sim, "GET", f"{CMS}/trial").status == 404


def test_a_bad_dry_run_in_delete_options_is_bad_request_and_deletes_nothing(
    sim: SimCluster,
) -> None:
    assert rawhttp.request(sim, "POST", CMS, _cm("keep")).status == 201
    options = json.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["true"]})
    got = rawhttp.request(sim, "DELETE", f"{CMS}/keep", options.encode())
    assert got.status == 400, got.body
    assert "supported values" in got.json()["message"]
    assert rawhttp.request(sim, "DELETE", f"{CMS}?dryRun=yes").status == 400
    assert rawhttp.request(sim, "GET", f"{CMS}/keep").status == 200


# ---- validated before a stream starts --------------------------------------------------------
def test_a_watch_with_a_bad_timeout_is_bad_request(sim: SimCluster) -> None:
    got = rawhttp.request(sim, "GET", f"{CMS}?watch=true&timeoutSeconds=abc")
    assert got.status == 400, got.body
    assert got.json()["reason"] == "BadRequest"
    assert "timeoutSeconds" in got.json()["message"]


def test_logs_since_further_back_than_datetime_reaches_are_the_whole_log(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = core.list_namespaced_pod("production").items[0]
    name, container = pod.metadata.name, pod.spec.containers[0].name
    everything = core.read_namespaced_pod_log(name, "production", container=container)
    far = core.read_namespaced_pod_log(
        name, "production", container=container, since_seconds=10**15
    )
    assert everything and far == everything


# ---- collections -----------------------------------------------------------------------------
def test_create_on_a_namespaced_types_cluster_wide_collection_is_not_allowed(
    sim: SimCluster,
) -> None:
    pod = {
        "metadata": {"name": "stray"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    got = rawhttp.request(sim, "POST", "/api/v1/pods", json.dumps(pod).encode())
    assert got.status == 405, got.body
    assert got.json()["reason"] == "MethodNotAllowed"
    assert rawhttp.request(sim, "GET", "/api/v1/namespaces/default/pods/stray").status == 404


# ---- start and stop --------------------------------------------------------------------------
def test_stop_waits_for_the_audit_line_of_a_request_in_flight(tmp_path: Path) -> None:
    audit = tmp_path / "audit.log"
    sim = SimCluster(None, audit_log=audit).start()
    try:
        sim.inject(resource="configmaps", latency=0.5)
        get = f"GET {CMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sim.admin_token}\r\n\r\n"
        worker = threading.Thread(target=_raw, args=(sim, get.encode()), daemon=True)
        worker.start()
        time.sleep(0.2)  # the request is in the handler, sleeping in its injected latency
    finally:
        sim.stop()
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [e["responseStatus"]["code"] for e in lines if e["requestURI"] == CMS], lines


def test_kubeconfig_and_audit_log_are_made_private_even_if_they_existed(tmp_path: Path) -> None:
    audit, kubeconfig = tmp_path / "audit.log", tmp_path / "kc"
    for path in (audit, kubeconfig):
        path.write_text("")
        os.chmod(path, 0o644)
    with SimCluster(None, audit_log=audit, kubeconfig_path=kubeconfig):
        assert stat.S_IMODE(audit.stat().st_mode) == 0o600
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600


def test_a_failed_start_leaves_no_key_open_file_or_temp_folder(
    sim: SimCluster, tmp_path: Path
) -> None:
    taken = SimCluster(None, port=sim.port, audit_log=tmp_path / "second.log")
    workdir = taken._workdir
    with pytest.raises(SimError, match="cannot listen"):
        taken.start()
    assert not workdir.exists()
    assert taken._audit is None


# ---- misbehaving clients ---------------------------------------------------------------------
def test_plain_http_and_tls_garbage_print_no_traceback(
    sim: SimCluster, capfd: pytest.CaptureFixture[str]
) -> None:
    for data in (b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
            conn.sendall(data)
            with pytest.raises(OSError):
                while conn.recv(4096):
                    pass
                raise ConnectionResetError  # closed cleanly: fine too
    assert rawhttp.request(sim, "GET", "/version").status == 200
    time.sleep(0.1)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "SSLError" not in err, err


def test_a_non_numeric_content_length_is_bad_request(sim: SimCluster) -> None:
    head = f"POST {CMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sim.admin_token}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"
    answer = _raw(sim, head.encode())
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"Content-Length" in answer


# ---- validation and controllers (fixed earlier; kept fixed) ----------------------------------
def test_a_deployment_with_non_integer_replicas_is_invalid(sim: SimCluster) -> None:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "odd"},
        "spec": {
            "replicas": "x",
            "selector": {"matchLabels": {"app": "odd"}},
            "template": {
                "metadata": {"labels": {"app": "odd"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    got = rawhttp.request(
        sim, "POST", "/apis/apps/v1/namespaces/default/deployments", json.dumps(dep).encode()
    )
    assert got.status == 422, got.body
    assert got.json()["reason"] == "Invalid"


def test_writes_go_on_after_a_statefulset_clashes_with_an_existing_pod(k8s: Any) -> None:
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "web-0"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
    )
    apps.create_namespaced_stateful_set(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    made = core.create_namespaced_config_map("default", {"metadata": {"name": "unrelated"}})
    assert made.metadata.name == "unrelated"
    warnings = core.list_namespaced_event("default", field_selector="type=Warning").items
    assert any(ev.reason == "ReconcileError" for ev in warnings)


def test_impersonating_an_unpermitted_group_is_forbidden(
    sim: SimCluster, k8s: Any, tmp_path: Path
) -> None:
    rbac = client.RbacAuthorizationV1Api(k8s)
    rbac.create_cluster_role(
        {
            "metadata": {"name": "impersonate-sa"},
            "rules": [
                {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}
            ],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "viewer-impersonates-sa"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "impersonate-sa",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oncall-viewer"}
            ],
        }
    )
    viewer = api_client(sim.write_kubeconfig(tmp_path / "viewer", user="oncall-viewer"))
    viewer.set_default_header("Impersonate-User", "system:serviceaccount:kube-system:default")
    viewer.set_default_header("Impersonate-Group", "system:serviceaccounts:kube-system")
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(viewer).list_namespaced_config_map("kube-system")
    assert e.value.status == 403, body(e.value)
    assert "groups" in body(e.value)["message"]
