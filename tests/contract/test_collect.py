"""``collect`` against irkit.sim: logs, state, RBAC exposure, custody, refusals, faults, secrets."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CANARY, no_logs_kubeconfig
from helpers import cluster_for

from irkit.actions.collect import Collector, CollectResult, collect
from irkit.cluster.kube import KubeCluster, connect
from irkit.evidence.verify import verify_bundle
from irkit.model.target import parse_target
from irkit.settings import ClusterSettings, RetrySettings
from irkit.sim import SimCluster

NS = "production"
STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
FAST_RETRY = RetrySettings(attempts=4, backoff_initial=0.01, backoff_max=0.05)
LEAK_FORMS = (
    CANARY.encode(),
    base64.b64encode(CANARY.encode()),
    base64.b64encode(CANARY.encode()).rstrip(b"="),
    CANARY.encode().hex().encode(),
)


def run(cluster: KubeCluster, tmp_path: Path, ref: str = "deployment/api-server") -> CollectResult:
    return collect(
        cluster,
        parse_target(NS, ref, None),
        out_dir=tmp_path / "evidence",
        incident="inc-42",
        concurrency=4,
        collector=Collector(
            "ir-laptop", "alice", "irkit collect deployment/api-server -n production"
        ),
    )


def files_of(result: CollectResult) -> dict[str, Path]:
    folder = result.bundle.folder
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def leaks(data: bytes) -> list[bytes]:
    return [form for form in LEAK_FORMS if form in data]


def test_the_leak_search_finds_a_planted_canary(tmp_path: Path) -> None:
    """The canary test below is only as good as this search: it must see every form."""
    for form in LEAK_FORMS:
        packed = gzip.compress(b"x" * 1000 + form + b"y" * 1000)
        assert leaks(gzip.decompress(packed)) and not leaks(b"x" * 1000)


def test_collect_deployment(sim: SimCluster, tmp_path: Path) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    result = run(cluster, tmp_path)
    assert result.status == "complete", result.failures
    files = files_of(result)
    pods = sorted(result.pods)
    assert len(pods) == 3

    # Every container's current log; the previous log of the restarted one only.
    for pod in pods:
        for container in ("api", "log-shipper"):
            data = files[f"logs/{pod}/{container}.log"].read_bytes()
            assert data and all(STAMP.match(line) for line in data.splitlines())
    previous = [p for p in files if p.endswith(".previous.log")]
    assert len(previous) == 1 and previous[0].endswith("/api.previous.log")
    compromised = previous[0].split("/")[1]
    assert b"OOM killer" in files[previous[0]].read_bytes()
    assert (
        b"stratum+tcp://pool.minexmr.example" in files[f"logs/{compromised}/api.log"].read_bytes()
    )

    # The manifest's hashes are the files' hashes; nothing unlisted.
    manifest = json.loads(files["manifest.json"].read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "custody.json"}
    for path, entry in listed.items():
        data = files[path].read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
        assert entry["collected_at"].endswith("Z") and entry["source"]
    assert listed[f"logs/{compromised}/api.previous.log"]["source"] == (
        f"/api/v1/namespaces/{NS}/pods/{compromised}/log?container=api&timestamps=true&previous=true"
    )
    assert verify_bundle(result.bundle.folder).ok and verify_bundle(result.bundle.tarball).ok

    # Custody.
    custody = json.loads(files["custody.json"].read_text())
    assert custody["collector"] == {
        "cluster_user": "sim-admin",
        "context": "irkit-sim",
        "server": sim.url,
        "hostname": "ir-laptop",
        "os_user": "alice",
        "irkit_version": "0.1.0",
        "command": "irkit collect deployment/api-server -n production",
    }
    assert custody["incident"] == "inc-42" and custody["runbook"] is None
    assert custody["target"]["text"] == "deployment/api-server -n production"
    assert custody["pods"] == pods and custody["status"] == "complete"
    assert custody["started_at"] <= custody["finished_at"]
    assert (
        custody["manifest_sha256"]
        == hashlib.sha256(files["manifest.json"].read_bytes()).hexdigest()
    )


def test_state_files(sim: SimCluster, tmp_path: Path) -> None:
    result = run(cluster_for(sim, retry=FAST_RETRY), tmp_path)
    files = files_of(result)

    def load(path: str) -> Any:
        return yaml.safe_load(files[path].read_text())

    for pod in result.pods:
        assert load(f"state/pods/{pod}.yaml")["metadata"]["name"] == pod
    assert load("state/owners/deployments/api-server.yaml")["kind"] == "Deployment"
    assert [p for p in files if p.startswith("state/owners/replicasets/")]
    assert "state/services/api-server.yaml" in files
    assert "state/services/frontend.yaml" not in files  # its selector matches no api-server pod
    assert "state/networkpolicies/allow-frontend-to-api.yaml" in files
    exposure = yaml.safe_load(files["state/rbac/exposure.yaml"].read_text())
    assert "can read Secrets in namespace production" in exposure["serviceAccounts"][0]["risks"]
    assert "db-credentials" in files["state/references.yaml"].read_text()
    events = [json.loads(line) for line in files["state/events.jsonl"].read_text().splitlines()]
    reasons = {e["reason"] for e in events}
    assert {"CPUThrottlingHigh", "BackOff"} <= reasons
    nodes = {load(f"state/pods/{p}.yaml")["spec"]["nodeName"] for p in result.pods}
    assert {f"state/nodes/{n}.yaml" for n in nodes} <= set(files)
    assert load("state/serviceaccounts/api-server.yaml")["metadata"]["name"] == "api-server"
    assert (
        load("state/rbac/rolebindings/production.api-server.yaml")["roleRef"]["name"]
        == "api-server"
    )
    assert "secrets" in load("state/rbac/roles/production.api-server.yaml")["rules"][0]["resources"]
    exposure = load("state/rbac/exposure.yaml")["serviceAccounts"][0]
    assert exposure["serviceAccount"] == "system:serviceaccount:production:api-server"
    assert "can read Secrets in namespace production" in exposure["risks"]
    assert any("secrets" in line for line in exposure["can"])
    assert not [p for p in files if "oncall-viewer" in p]  # bindings of others are not its exposure
    refs = load("state/references.yaml")
    assert refs["configMaps"] == [
        {"name": "api-server-config", "referencedBy": ["container api envFrom"]}
    ]
    assert refs["secrets"][0]["name"] == "db-credentials"
    assert refs["secrets"][0]["keys"] == ["password", "username"]


def test_no_secret_value_in_folder_or_tarball(sim: SimCluster, tmp_path: Path) -> None:
    result = run(cluster_for(sim, retry=FAST_RETRY), tmp_path)
    for path in result.bundle.folder.rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes()), path
    packed = result.bundle.tarball.read_bytes()
    assert not leaks(packed)
    assert not leaks(gzip.decompress(packed))
    assert b"db-credentials" in gzip.decompress(packed)  # named, so the search saw the state


def test_pod_and_selector_targets(sim: SimCluster, tmp_path: Path) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    pod = cluster.list("pods", NS, labels="app=frontend")[0]["metadata"]["name"]
    one = run(cluster, tmp_path / "one", f"pod/{pod}")
    assert one.pods == [pod] and f"logs/{pod}/web.log" in files_of(one)
    assert not [p for p in files_of(one) if p.startswith("state/rbac/rolebindings/")]
    many = collect(
        cluster,
        parse_target(NS, None, "tier in (web,backend)"),
        out_dir=tmp_path / "many",
        incident="inc-43",
    )
    assert len(many.pods) == 5 and many.status == "complete"


def test_forbidden_logs_make_a_partial_bundle(sim: SimCluster, tmp_path: Path) -> None:
    no_logs_kubeconfig(sim, tmp_path / "intern.kubeconfig")  # intern may not read pods/log
    result = run(cluster_for(sim, "intern", tmp_path, retry=FAST_RETRY), tmp_path)
    assert result.status == "partial"
    failed = {f.artifact: f for f in result.failures}
    for pod in result.pods:
        for container in ("api", "log-shipper"):
            failure = failed[f"logs/{pod}/{container}.log"]
            assert 'user "intern" may not get pods/log' in failure.reason
            assert failure.source.startswith(f"/api/v1/namespaces/{NS}/pods/{pod}/log?")
    assert "state/rbac/exposure.yaml" in files_of(result)  # written, saying what it could not read
    assert any(a.startswith("state/rbac/") for a in failed)
    assert any(a.startswith("state/references.yaml#secret/db-credentials") for a in failed)
    files = files_of(result)
    assert not [p for p in files if p.startswith("logs/")]
    assert len([p for p in files if p.startswith("state/pods/")]) == 3
    manifest = json.loads(files["manifest.json"].read_text())
    assert manifest["counts"]["failures"] == len(result.failures) == len(manifest["failures"])
    assert verify_bundle(result.bundle.tarball).ok


def test_throttling_and_dropped_connections_are_survived(sim: SimCluster, tmp_path: Path) -> None:
    throttled = sim.inject(resource="pods/log", status=429, retry_after=0, count=5)
    dropped = sim.inject(resource="pods/log", drop=True, count=3)
    result = run(cluster_for(sim, retry=FAST_RETRY), tmp_path)
    assert result.status == "complete", result.failures
    assert sim.faults.fired_count(throttled) == 5 and sim.faults.fired_count(dropped) == 3
    assert len([p for p in files_of(result) if p.startswith("logs/")]) == 7
    assert verify_bundle(result.bundle.folder).ok


def test_a_log_that_keeps_failing_is_recorded_and_the_rest_collected(
    sim: SimCluster, tmp_path: Path
) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    victim = cluster.list("pods", NS, labels="app=api-server")[0]["metadata"]["name"]
    sim.inject(path=f"/pods/{victim}/log$", status=503, message="kubelet unreachable")
    result = run(cluster, tmp_path)
    assert result.status == "partial"
    assert {f.artifact for f in result.failures} >= {
        f"logs/{victim}/api.log",
        f"logs/{victim}/log-shipper.log",
    }
    assert all("kubelet unreachable" in f.reason for f in result.failures)
    logs = [p for p in files_of(result) if p.startswith("logs/")]
    assert logs and not [p for p in logs if victim in p]
    assert len(logs) == 7 - len(result.failures)


def test_concurrency_does_not_change_the_evidence(sim: SimCluster, tmp_path: Path) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    seen = []
    for n, concurrency in enumerate((1, 16)):
        result = collect(
            cluster,
            parse_target(NS, "deployment/api-server", None),
            out_dir=tmp_path / f"run-{n}",
            incident="inc-44",
            concurrency=concurrency,
        )
        assert result.status == "complete"
        seen.append(
            {e.path: e.sha256 for e in result.bundle.manifest.files if e.path.startswith("logs/")}
        )
    assert len(seen[0]) == 7 and seen[0] == seen[1]


def test_audit_events_in_scope(sim: SimCluster, tmp_path: Path) -> None:
    from conftest import api_client
    from kubernetes import client

    from irkit.audit.files import AuditLogFiles
    from irkit.audit.source import AuditScope

    stolen = api_client(sim.kubeconfig_path)
    stolen.set_default_header("Impersonate-User", "system:serviceaccount:production:api-server")
    client.CoreV1Api(stolen).list_namespaced_secret(NS)  # the stolen token reads the secrets
    with pytest.raises(client.ApiException):  # ... and probes elsewhere: in scope as an actor
        client.CoreV1Api(stolen).list_namespaced_secret("kube-system")
    admin = client.CoreV1Api(api_client(sim.kubeconfig_path))
    admin.list_namespaced_config_map("kube-system")  # someone else, elsewhere: out of scope
    result = collect(
        cluster_for(sim, retry=FAST_RETRY),
        parse_target(NS, "deployment/api-server", None),
        out_dir=tmp_path / "evidence",
        incident="inc-45",
        audit_sources=[AuditLogFiles(sim.audit_log_path)],
        audit_scope=AuditScope(since=None, until=None, namespace=NS),
    )
    (entry,) = [e for e in result.bundle.manifest.files if e.path.startswith("audit/")]
    assert re.fullmatch(r"audit/file-[a-z0-9.-]+audit\.log\.jsonl", entry.path)
    assert entry.source == f"file {sim.audit_log_path}"
    path = result.bundle.folder / entry.path
    events = [json.loads(line) for line in path.read_text().splitlines()]
    sa = "system:serviceaccount:production:api-server"

    def actor(e: dict[str, Any]) -> str:  # who acted: the impersonated user, as upstream logs it
        return str((e.get("impersonatedUser") or e["user"])["username"])

    by_sa = [e for e in events if actor(e) == sa]
    assert {(e["objectRef"]["namespace"], e["responseStatus"]["code"]) for e in by_sa} == {
        (NS, 200),
        ("kube-system", 403),
    }
    elsewhere = [e for e in events if e.get("objectRef", {}).get("namespace") == "kube-system"]
    assert all(actor(e) == sa for e in elsewhere)  # not the admin's configmaps
    assert result.status == "complete"


def test_a_workload_scaled_to_zero_still_has_its_state_collected(
    sim: SimCluster, tmp_path: Path
) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    cluster.patch("deployments", NS, "api-server", {"spec": {"replicas": 0}}, subresource="scale")
    result = run(cluster, tmp_path)
    files = files_of(result)
    assert result.pods == [] and result.status == "complete"
    assert not [p for p in files if p.startswith("logs/")]
    deployment = yaml.safe_load(files["state/owners/deployments/api-server.yaml"].read_text())
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 0
    assert "state/networkpolicies/allow-frontend-to-api.yaml" in files
    exposure = yaml.safe_load(files["state/rbac/exposure.yaml"].read_text())
    assert "can read Secrets in namespace production" in exposure["serviceAccounts"][0]["risks"]
    assert "db-credentials" in files["state/references.yaml"].read_text()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("Secret", "db-credentials"),
        ("ReplicaSet", "../../../../api/v1/namespaces/production/secrets/db-credentials"),
    ],
)
def test_an_owner_reference_cannot_pull_a_secret_into_the_bundle(
    sim: SimCluster, tmp_path: Path, kind: str, name: str
) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    pod = cluster.list("pods", NS, labels="app=frontend")[0]
    owner = {"apiVersion": "v1", "kind": kind, "name": name, "uid": "u-1", "controller": True}
    cluster.create(
        "pods",
        NS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "owned-by-a-secret", "ownerReferences": [owner]},
            "spec": pod["spec"],
        },
    )
    result = run(cluster, tmp_path, "pod/owned-by-a-secret")
    for path in result.bundle.folder.rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes()), path
    assert not leaks(gzip.decompress(result.bundle.tarball.read_bytes()))


# ---- secret values outside Secrets (issue 7, item 10) -------------------------------------------
ENV_CANARY = "ENV-CANARY-3c1d-hunter2"
APPLIED_CANARY = "APPLIED-CANARY-9e4b"


def _leaky_container(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "busybox:1.36",
        "env": [
            {"name": "DB_PASSWORD", "value": ENV_CANARY},
            {"name": "apiKey", "value": ENV_CANARY + "-2"},
            {"name": "MONKEY_COUNT", "value": "12"},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
    }


def test_secret_env_values_and_last_applied_never_reach_the_bundle(
    sim: SimCluster, tmp_path: Path
) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "leaky"},
        "spec": {"template": {"spec": {"containers": [_leaky_container("app")]}}},
        "note": APPLIED_CANARY,  # an unparseable or secret-less part is dropped or kept safe
    }
    template = {
        "metadata": {"labels": {"app": "leaky"}},
        "spec": {
            "initContainers": [_leaky_container("init")],
            "containers": [_leaky_container("app")],
        },
    }
    cluster.create(
        "deployments",
        NS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "leaky",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)
                },
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "leaky"}},
                "template": template,
            },
        },
    )
    result = run(cluster, tmp_path, "deployment/leaky")
    assert result.pods, "the sim's controller made the pod the test needs"
    folder_bytes = b"".join(p.read_bytes() for p in result.bundle.folder.rglob("*") if p.is_file())
    packed = result.bundle.tarball.read_bytes()
    for data in (folder_bytes, gzip.decompress(packed)):
        assert ENV_CANARY.encode() not in data
        assert base64.b64encode(ENV_CANARY.encode()) not in data
    pod = yaml.safe_load(next(result.bundle.folder.glob("state/pods/leaky-*.yaml")).read_text())
    env = {e["name"]: e for e in pod["spec"]["initContainers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"] == f"<redacted: {len(ENV_CANARY)} bytes>"
    assert env["MONKEY_COUNT"]["value"] == "12"  # not a secret-looking name: kept
    assert "valueFrom" in env["FROM_SECRET"]
    deployment = yaml.safe_load(
        (result.bundle.folder / "state/owners/deployments/leaky.yaml").read_text()
    )
    kept = json.loads(
        deployment["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert kept["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"].startswith(
        "<redacted: "
    )


# ---- what custody says beyond the files (issue 7, item 10) --------------------------------------
def _custody(result: CollectResult) -> dict[str, Any]:
    return dict(json.loads((result.bundle.folder / "custody.json").read_text()))


def test_custody_identifies_the_cluster_and_says_audit_was_not_collected(
    sim: SimCluster, tmp_path: Path
) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    result = run(cluster, tmp_path)
    custody = _custody(result)
    kube_system = cluster.get("namespaces", "", "kube-system")["metadata"]["uid"]
    ident = custody["cluster"]
    assert ident["kube_system_uid"] == kube_system and kube_system
    assert ident["version"]["gitVersion"].startswith("v1.")
    assert ident["server_host"].startswith("127.0.0.1:")
    assert custody["audit"]["collected"] is False
    assert "no audit source given" in custody["audit"]["reason"]
    assert result.audit == custody["audit"] and custody["warnings"] == result.warnings == []


def test_zero_pods_is_a_warning_in_custody(sim: SimCluster, tmp_path: Path) -> None:
    cluster = cluster_for(sim, retry=FAST_RETRY)
    cluster.patch("deployments", NS, "api-server", {"spec": {"replicas": 0}}, subresource="scale")
    result = run(cluster, tmp_path)
    assert result.pods == []
    assert result.warnings and "0 pods collected" in result.warnings[0]
    assert _custody(result)["warnings"] == result.warnings


def test_a_caller_who_cannot_read_kube_system_gets_the_reason_in_custody(
    sim: SimCluster, tmp_path: Path
) -> None:
    admin = cluster_for(sim, retry=FAST_RETRY)
    sim.add_user("narrow")
    rules = [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {
            "apiGroups": ["", "apps"],
            "resources": ["pods", "pods/log", "deployments", "replicasets", "services"],
            "verbs": ["get", "list"],
        },
    ]
    rules[0]["resourceNames"] = [NS]  # type: ignore[assignment]
    admin.create(
        "clusterroles",
        "",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "narrow"},
            "rules": rules,
        },
    )
    admin.create(
        "clusterrolebindings",
        "",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "narrow"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "narrow",
            },
            "subjects": [{"kind": "User", "name": "narrow"}],
        },
    )
    result = run(cluster_for(sim, "narrow", tmp_path, retry=FAST_RETRY), tmp_path)
    ident = _custody(result)["cluster"]
    assert ident["kube_system_uid"] is None
    assert "forbidden" in ident["kube_system_uid_error"].lower()
    assert ident["version"]["gitVersion"]  # /version is open to every authenticated user


def test_two_collects_of_one_incident_in_the_same_second(sim: SimCluster, tmp_path: Path) -> None:
    """A resumed run or a runbook with two collect steps: the second must not collide."""
    cluster = cluster_for(sim, retry=FAST_RETRY)
    frozen = datetime(2026, 11, 26, 3, 10, 0, tzinfo=UTC)
    results = [
        collect(
            cluster,
            parse_target(NS, "deployment/api-server", None),
            out_dir=tmp_path / "evidence",
            incident="inc-42",
            concurrency=2,
            clock=lambda: frozen,
        )
        for _ in range(2)
    ]
    names = {r.bundle.name for r in results}
    assert len(names) == 2
    for r in results:
        assert r.bundle.tarball.is_file() and verify_bundle(r.bundle.tarball).ok


def test_events_are_streamed_page_by_page_one_per_line(sim: SimCluster, tmp_path: Path) -> None:
    """Small pages: every Event of the namespace arrives once, as one JSON line."""
    k8s = cluster_for(sim, retry=FAST_RETRY)
    expected = {e["metadata"]["name"] for e in k8s.list("events", NS)}
    for i in range(25):
        k8s.create(
            "events",
            NS,
            {
                "metadata": {"name": f"bulk-{i:03d}"},
                "involvedObject": {"kind": "Pod", "name": "x", "namespace": NS},
                "reason": "Bulk",
                "message": 'line\nbreak \x1b[31m and "quotes"',
            },
        )
    expected |= {f"bulk-{i:03d}" for i in range(25)}
    paged = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path, retry=FAST_RETRY, page_size=4))
    result = run(paged, tmp_path)
    assert result.status == "complete", result.failures
    lines = files_of(result)["state/events.jsonl"].read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    names = [e["metadata"]["name"] for e in events]
    assert len(names) == len(set(names)) and set(names) == expected
    assert all(e["kind"] == "Event" and e["apiVersion"] == "v1" for e in events)
    assert "state/events.yaml" not in files_of(result)


class _Interrupted:
    """A progress display whose responder presses Ctrl-C after the first pod."""

    def started(self, pods: int) -> None:
        pass

    def pod_done(self, pod: str) -> None:
        raise KeyboardInterrupt

    def wrote(self, nbytes: int) -> None:
        pass


def test_an_interrupted_collect_leaves_no_tarball(sim: SimCluster, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        collect(
            cluster_for(sim, retry=FAST_RETRY),
            parse_target(NS, "deployment/api-server", None),
            out_dir=tmp_path / "evidence",
            incident="inc-42",
            concurrency=1,
            progress=_Interrupted(),
        )
    [folder] = (tmp_path / "evidence").iterdir()
    assert folder.is_dir() and folder.name.startswith("irkit-evidence-inc-42-production-")
