"""kubectl, unchanged, against the simulated cluster: what a responder types must just work.

Every call runs the real kubectl binary with the sim's kubeconfig (``--kubeconfig``) and a
private discovery cache, with a timeout, so a hang is a failure and not a stuck suite.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from irkit.sim import SimCluster

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")

TIMEOUT = 30.0
PRODUCTION_PODS = 5  # api-server x3, frontend x2


class Kubectl:
    """``kubectl --kubeconfig <sim> ...``; asserts success unless ``ok=False``."""

    def __init__(self, sim: SimCluster, cache_dir: Path) -> None:
        self.base = [
            str(KUBECTL),
            "--kubeconfig",
            sim.kubeconfig_path,
            "--cache-dir",
            str(cache_dir),
        ]

    def __call__(
        self, *args: str, ok: bool = True, timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if ok:
            assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.base, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube-cache")


@pytest.fixture
def kubectl(sim: SimCluster, cache_dir: Path) -> Kubectl:
    return Kubectl(sim, cache_dir)


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``check()`` once it is truthy; the controllers may reconcile just after the reply."""
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def compromised_pod(kubectl: Kubectl) -> str:
    """The api-server pod whose container ``api`` has restarted once (the scenario's miner)."""
    pods = json.loads(
        kubectl("get", "pods", "-n", "production", "-l", "app=api-server", "-o", "json").stdout
    )["items"]
    found = [
        p["metadata"]["name"]
        for p in pods
        for cs in p["status"]["containerStatuses"]
        if cs["name"] == "api" and cs["restartCount"] == 1
    ]
    assert len(found) == 1, found
    return str(found[0])


# ---- reading ---------------------------------------------------------------------------------
def test_get_pods_all_namespaces_table(kubectl: Kubectl, k8s: Any) -> None:
    lines = kubectl("get", "pods", "-A").stdout.splitlines()
    assert lines[0].split()[:5] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS"]
    rows = {tuple(line.split()[:2]): line.split() for line in lines[1:]}
    expected = {
        (p.metadata.namespace, p.metadata.name)
        for p in client.CoreV1Api(k8s).list_pod_for_all_namespaces().items
    }
    assert set(rows) == expected
    production = [row for (ns, _), row in rows.items() if ns == "production"]
    assert len(production) == PRODUCTION_PODS
    assert {row[3] for row in production} == {"Running"}
    # Exactly one pod (the compromised api-server replica) shows a restart.
    assert sorted(row[4] for row in production) == ["0", "0", "0", "0", "1"]
    restarted = next(row for row in production if row[4] == "1")
    assert restarted[1].startswith("api-server-")
    assert restarted[2] == "2/2"


def test_get_pods_json(kubectl: Kubectl) -> None:
    listing = json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)
    assert listing["kind"] == "List"
    production = [p for p in listing["items"] if p["metadata"]["namespace"] == "production"]
    assert len(production) == PRODUCTION_PODS
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in listing["items"])
    apps = sorted(p["metadata"]["labels"]["app"] for p in production)
    assert apps == ["api-server"] * 3 + ["frontend"] * 2
    assert {p["status"]["phase"] for p in production} == {"Running"}


def test_get_deployments_and_network_policies_as_yaml(kubectl: Kubectl) -> None:
    out = kubectl("get", "deploy,netpol", "-n", "production", "-o", "yaml").stdout
    listing = yaml.safe_load(out)
    assert listing["kind"] == "List"
    got = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in listing["items"]}
    assert got == {
        ("apps/v1", "Deployment", "api-server"),
        ("apps/v1", "Deployment", "frontend"),
        ("networking.k8s.io/v1", "NetworkPolicy", "allow-frontend-to-api"),
    }
    api = next(o for o in listing["items"] if o["metadata"]["name"] == "api-server")
    assert api["spec"]["replicas"] == 3
    assert api["status"]["readyReplicas"] == 3


def test_logs_of_the_compromised_pod(kubectl: Kubectl) -> None:
    pod = compromised_pod(kubectl)
    current = kubectl("logs", pod, "-n", "production", "-c", "api").stdout
    assert "[xmrig] accepted (1/0)" in current
    assert "killed by the kernel OOM killer" not in current

    previous = kubectl("logs", pod, "-n", "production", "-c", "api", "--previous").stdout
    assert "killed by the kernel OOM killer" in previous
    assert "[xmrig] CPU threads 4" in previous
    assert "accepted (1/0)" not in previous

    tail = kubectl("logs", pod, "-n", "production", "-c", "api", "--tail", "3").stdout
    tail_lines = tail.splitlines()
    assert len(tail_lines) == 3
    assert "read by pid 4121 (kworker)" in tail_lines[1]
    assert "outbound https://10.96.0.1:443" in tail_lines[2]

    stamped = kubectl(
        "logs", pod, "-n", "production", "-c", "api", "--tail=2", "--timestamps"
    ).stdout.splitlines()
    assert len(stamped) == 2
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")
    assert all(rfc3339.match(line) for line in stamped), stamped
    assert stamped[1].startswith("2026-11-26T03:07:03")


def test_logs_of_a_healthy_replica_have_no_miner(kubectl: Kubectl) -> None:
    pod = compromised_pod(kubectl)
    names = kubectl("get", "pods", "-n", "production", "-l", "app=api-server", "-o", "name")
    healthy = next(n for n in names.stdout.split() if n != f"pod/{pod}")
    logs = kubectl("logs", healthy, "-n", "production", "-c", "api", "--tail", "50").stdout
    assert logs.strip()
    assert "xmrig" not in logs
    previous = kubectl("logs", healthy, "-n", "production", "-c", "api", "--previous", ok=False)
    assert previous.returncode == 1
    assert (
        f'previous terminated container "api" in pod "{healthy.removeprefix("pod/")}" not found'
        in (previous.stderr)
    )


def test_get_namespaces(kubectl: Kubectl) -> None:
    lines = kubectl("get", "ns").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATUS"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert {"default", "kube-system", "production"} <= set(rows)
    assert rows["production"] == "Active"


def test_get_nodes(kubectl: Kubectl, k8s: Any) -> None:
    lines = kubectl("get", "nodes").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    nodes = {n.metadata.name for n in client.CoreV1Api(k8s).list_node().items}
    assert set(rows) == nodes
    assert nodes
    assert {row[1] for row in rows.values()} == {"Ready"}


def test_get_events(kubectl: Kubectl) -> None:
    out = kubectl("get", "events", "-n", "production").stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    throttling = [line for line in lines if "CPUThrottlingHigh" in line]
    assert len(throttling) == 1
    assert "Warning" in throttling[0]
    assert "deployment/api-server" in throttling[0]
    assert "ScalingReplicaSet" in out


def test_get_raw_version(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("get", "--raw", "/version").stdout)
    assert version["major"] == "1"
    assert version["minor"] == "32"
    assert version["gitVersion"].startswith("v1.32.")


def test_api_resources(kubectl: Kubectl) -> None:
    lines = kubectl("api-resources").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "SHORTNAMES"]
    by_name = {line.split()[0]: line.split() for line in lines[1:]}
    assert by_name["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert by_name["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert by_name["networkpolicies"][1:] == [
        "netpol",
        "networking.k8s.io/v1",
        "true",
        "NetworkPolicy",
    ]


# ---- errors ----------------------------------------------------------------------------------
def test_forbidden_names_the_user(kubectl: Kubectl) -> None:
    proc = kubectl(
        "--context", "irkit-sim-oncall-viewer", "get", "secrets", "-n", "production", ok=False
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert (
        'Error from server (Forbidden): secrets is forbidden: User "oncall-viewer" cannot list '
        'resource "secrets" in API group "" in the namespace "production"'
    ) in proc.stderr


def test_viewer_may_list_pods(kubectl: Kubectl) -> None:
    out = kubectl("--context", "irkit-sim-oncall-viewer", "get", "pods", "-n", "production")
    assert len(out.stdout.splitlines()) == 1 + PRODUCTION_PODS


def test_not_found(kubectl: Kubectl) -> None:
    proc = kubectl("get", "pod", "nope", ok=False)
    assert proc.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in proc.stderr


def test_auth_can_i(kubectl: Kubectl) -> None:
    admin = kubectl("auth", "can-i", "list", "pods", "-n", "production")
    assert admin.stdout.strip() == "yes"
    viewer = ("--context", "irkit-sim-oncall-viewer")
    pods = kubectl(*viewer, "auth", "can-i", "list", "pods", "-n", "production")
    assert pods.stdout.strip() == "yes"
    secrets = kubectl(*viewer, "auth", "can-i", "list", "secrets", "-n", "production", ok=False)
    assert secrets.returncode == 1
    assert secrets.stdout.strip() == "no"


# ---- changing things -------------------------------------------------------------------------
def test_scale_deployment(kubectl: Kubectl, k8s: Any) -> None:
    out = kubectl("scale", "deploy/frontend", "--replicas=4", "-n", "production").stdout
    assert out.strip() == "deployment.apps/frontend scaled"
    core = client.CoreV1Api(k8s)

    def frontend_pods() -> list[str]:
        pods = core.list_namespaced_pod("production", label_selector="app=frontend").items
        return [p.metadata.name for p in pods]

    assert len(eventually(lambda: len(frontend_pods()) == 4 and frontend_pods())) == 4
    names = kubectl("get", "pods", "-n", "production", "-l", "app=frontend", "-o", "name")
    assert sorted(names.stdout.split()) == sorted(f"pod/{n}" for n in frontend_pods())
    deployment = client.AppsV1Api(k8s).read_namespaced_deployment("frontend", "production")
    assert deployment.spec.replicas == 4


NETPOL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: isolate-suspect
  namespace: production
spec:
  podSelector:
    matchLabels: {app: api-server}
  policyTypes: [Ingress, Egress]
"""


def test_apply_network_policy(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "netpol.yaml"
    manifest.write_text(NETPOL, encoding="utf-8")
    name = "networkpolicy.networking.k8s.io/isolate-suspect"
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == f"{name} created"
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == f"{name} unchanged"

    manifest.write_text(NETPOL.replace("app: api-server", "app: frontend"), encoding="utf-8")
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == f"{name} configured"

    got = yaml.safe_load(
        kubectl("get", "netpol", "isolate-suspect", "-n", "production", "-o", "yaml").stdout
    )
    assert got["spec"]["podSelector"] == {"matchLabels": {"app": "frontend"}}
    assert got["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert got["metadata"]["generation"] == 2
    applied = json.loads(
        got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert applied["spec"]["podSelector"] == {"matchLabels": {"app": "frontend"}}


def test_delete_network_policy(kubectl: Kubectl) -> None:
    out = kubectl("delete", "netpol", "allow-frontend-to-api", "-n", "production").stdout
    assert out.strip() == 'networkpolicy.networking.k8s.io "allow-frontend-to-api" deleted'
    gone = kubectl("get", "netpol", "allow-frontend-to-api", "-n", "production", ok=False)
    assert gone.returncode == 1
    assert "NotFound" in gone.stderr
    assert kubectl("get", "netpol", "-n", "production", "-o", "name").stdout == ""


def test_delete_deployment_removes_its_pods(kubectl: Kubectl, k8s: Any) -> None:
    before = kubectl("get", "pods", "-n", "production", "-l", "app=api-server", "-o", "name")
    assert len(before.stdout.split()) == 3
    out = kubectl("delete", "deploy", "api-server", "-n", "production").stdout
    assert out.strip() == 'deployment.apps "api-server" deleted'
    core = client.CoreV1Api(k8s)
    assert eventually(
        lambda: not core.list_namespaced_pod("production", label_selector="app=api-server").items
    )
    after = kubectl("get", "pods", "-n", "production", "-l", "app=api-server", "-o", "name")
    assert after.stdout == ""
    assert (
        kubectl("get", "rs", "-n", "production", "-l", "app=api-server", "-o", "name").stdout == ""
    )
    # The other deployment is untouched.
    frontend = kubectl("get", "pods", "-n", "production", "-l", "app=frontend", "-o", "name")
    assert len(frontend.stdout.split()) == 2


def test_apply_dry_run_server_stores_nothing(kubectl: Kubectl, k8s: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: production}\n"
        "data: {a: b}\n",
        encoding="utf-8",
    )
    out = kubectl("apply", "-f", str(manifest), "--dry-run=server", "-o", "yaml").stdout
    shown = yaml.safe_load(out)
    assert (shown["kind"], shown["metadata"]["name"], shown["data"]) == (
        "ConfigMap",
        "x",
        {"a": "b"},
    )
    names = [
        c.metadata.name
        for c in client.CoreV1Api(k8s).list_namespaced_config_map("production").items
    ]
    assert "x" not in names
    assert "api-server-config" in names


@pytest.mark.xfail(
    strict=True,
    reason="kubectl create <generator> sends a protobuf body; the sim reads JSON only "
    "(415 UnsupportedMediaType), protobuf only for SelfSubjectAccessReview",
)
def test_create_configmap_dry_run_server_stores_nothing(kubectl: Kubectl, k8s: Any) -> None:
    proc = kubectl(
        "create", "configmap", "x", "--from-literal=a=b", "-n", "production",
        "--dry-run=server", "-o", "yaml", ok=False,
    )  # fmt: skip
    names = [
        c.metadata.name
        for c in client.CoreV1Api(k8s).list_namespaced_config_map("production").items
    ]
    assert "x" not in names
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)
    assert (shown["kind"], shown["metadata"]["name"], shown["data"]) == (
        "ConfigMap",
        "x",
        {"a": "b"},
    )


# ---- watching --------------------------------------------------------------------------------
def test_watch_sees_a_pod_added_concurrently(kubectl: Kubectl, k8s: Any) -> None:
    watch = kubectl.popen("get", "pods", "-n", "production", "-w", "--request-timeout=3s")
    try:
        assert watch.stdout is not None
        # The initial listing (header and the five pods) comes first; then the watch is open.
        seen = [watch.stdout.readline() for _ in range(1 + PRODUCTION_PODS)]
        assert seen[0].split()[:2] == ["NAME", "READY"], seen
        client.CoreV1Api(k8s).create_namespaced_pod(
            "production",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "watched-pod", "labels": {"app": "probe"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
            },
        )
        rest, err = watch.communicate(timeout=TIMEOUT)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
    assert watch.returncode == 0, err
    added = [line.split() for line in rest.splitlines() if line.startswith("watched-pod ")]
    assert added, rest
    assert added[-1][2] == "Running"


def test_stopping_after_a_watch_prints_no_traceback(
    cache_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Regression: stopping used to drop the TLS state under a reading handler thread, which
    then parsed raw TLS bytes as a request line and printed a BrokenPipe traceback."""
    from kubernetes import config

    for i in range(2):
        with SimCluster(None, audit_log=tmp_path / f"audit-{i}.log") as sim:
            api = client.CoreV1Api(config.new_client_from_config(config_file=sim.kubeconfig_path))
            assert api.list_namespace().items
            Kubectl(sim, cache_dir)("get", "ns", "-w", "--request-timeout=1s")
    time.sleep(0.3)  # handler threads report errors after stop() has returned
    err = capfd.readouterr().err
    assert "Exception occurred" not in err, err
