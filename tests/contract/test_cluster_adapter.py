"""The Cluster adapter over the official client: translation of every failure into irkit's
errors (no client or urllib3 exception leaks out) and retries of transient ones only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from irkit.cluster.kube import KubeCluster, connect
from irkit.errors import (
    ClusterError,
    ConfigError,
    Conflict,
    Forbidden,
    Invalid,
    IrkitError,
    NotFound,
    Unavailable,
)
from irkit.settings import ClusterSettings, RetrySettings
from irkit.sim import SimCluster

FAST = RetrySettings(attempts=4, backoff_initial=0.01, backoff_max=0.02, total_seconds=10)


def _connect(path: str, **kw: object) -> KubeCluster:
    settings = ClusterSettings(kubeconfig=path, retry=kw.pop("retry", FAST), **kw)  # type: ignore[arg-type]
    return connect(settings)


@pytest.fixture
def cluster(sim: SimCluster) -> KubeCluster:
    return _connect(sim.kubeconfig_path)


def test_identity_comes_from_the_kubeconfig(sim: SimCluster, cluster: KubeCluster) -> None:
    assert cluster.identity.user == "sim-admin"
    assert cluster.identity.context == "irkit-sim"
    assert cluster.identity.server == sim.url
    viewer = _connect(sim.kubeconfig_path, context="irkit-sim-oncall-viewer")
    assert viewer.identity.user == "oncall-viewer"


def test_reads_are_plain_dicts_with_kind(cluster: KubeCluster) -> None:
    pods = cluster.list("pods", "production", labels="app=frontend")
    assert len(pods) == 2 and all(p["kind"] == "Pod" for p in pods)
    assert cluster.get("deploy", "production", "frontend")["spec"]["replicas"] == 2


def test_list_follows_pages(sim: SimCluster) -> None:
    cluster = _connect(sim.kubeconfig_path, page_size=5)
    for i in range(12):
        cluster.create("configmaps", "default", {"metadata": {"name": f"cm-{i:02d}"}})
    names = [c["metadata"]["name"] for c in cluster.list("configmaps", "default")]
    assert [n for n in names if n.startswith("cm-")] == [f"cm-{i:02d}" for i in range(12)]


def test_errors_are_translated(sim: SimCluster, cluster: KubeCluster, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match='pods/ghost in namespace "production"'):
        cluster.get("pods", "production", "ghost")
    cm = {"metadata": {"name": "x"}}
    cluster.create("configmaps", "default", cm)
    with pytest.raises(Conflict, match="already exists"):
        cluster.create("configmaps", "default", cm)
    with pytest.raises(Invalid):
        cluster.patch(
            "deployments", "production", "frontend", {"spec": {"replicas": -1}}, subresource="scale"
        )
    viewer = _connect(sim.kubeconfig_path, context="irkit-sim-oncall-viewer")
    with pytest.raises(Forbidden) as err:
        viewer.delete("pods", "production", "anything")
    assert 'user "oncall-viewer" may not delete pods in namespace "production"' in str(err.value)
    assert err.value.exit_code == 5
    assert err.value.hint == (
        "check with: kubectl auth can-i delete pods -n production "
        f"--kubeconfig {sim.kubeconfig_path} --context irkit-sim-oncall-viewer"
    )
    bad = tmp_path / "bad.kubeconfig"
    bad.write_text(Path(sim.kubeconfig_path).read_text().replace(sim.admin_token, "nope-token"))
    with pytest.raises(Forbidden, match="did not accept the credentials"):
        _connect(str(bad)).list("pods", "default")


def test_transient_errors_are_retried_then_succeed(sim: SimCluster, cluster: KubeCluster) -> None:
    rule = sim.inject(resource="pods", status=429, retry_after=0, count=2)
    other = sim.inject(resource="services", status=503, count=3)
    assert len(cluster.list("pods", "production")) == 5
    assert len(cluster.list("services", "production")) == 2
    assert sim.faults.fired_count(rule) == 2 and sim.faults.fired_count(other) == 3


def test_retries_are_bounded_and_the_last_error_is_raised(
    sim: SimCluster, cluster: KubeCluster
) -> None:
    rule = sim.inject(resource="pods", status=500)
    with pytest.raises(Unavailable, match="answered 500") as err:
        cluster.list("pods", "production")
    assert err.value.status == 500
    assert sim.faults.fired_count(rule) == FAST.attempts


def test_permanent_errors_are_not_retried(sim: SimCluster, cluster: KubeCluster) -> None:
    rule = sim.inject(resource="pods", status=403, count=5)
    with pytest.raises(Forbidden):
        cluster.list("pods", "production")
    assert sim.faults.fired_count(rule) == 1


def test_dropped_connections_and_timeouts_are_transient(sim: SimCluster) -> None:
    cluster = _connect(sim.kubeconfig_path, request_timeout=0.3)
    drop = sim.inject(resource="pods", drop=True, count=2)
    assert len(cluster.list("pods", "production")) == 5
    assert sim.faults.fired_count(drop) == 2
    slow = sim.inject(resource="services", latency=1.0)
    with pytest.raises(Unavailable, match="cannot reach the API server"):
        cluster.list("services", "production")
    assert sim.faults.fired_count(slow) == FAST.attempts


def test_a_stopped_server_is_unavailable_not_a_library_error(tmp_path: Path) -> None:
    with SimCluster(None, audit_log=tmp_path / "a.log") as sim:
        cluster = _connect(
            sim.kubeconfig_path, retry=RetrySettings(attempts=2, backoff_initial=0.01)
        )
        url = sim.url
    with pytest.raises(Unavailable) as err:
        cluster.get("namespaces", "", "default")
    assert url in str(err.value)
    assert isinstance(err.value, IrkitError)


def test_log_streams_in_chunks(sim: SimCluster, cluster: KubeCluster) -> None:
    pod = cluster.list("pods", "production", labels="app=frontend")[0]["metadata"]["name"]
    with cluster.stream_log("production", pod, "web") as chunks:
        sizes = [len(c) for c in chunks]
    assert len(sizes) > 1 and max(sizes) <= 64 * 1024
    assert sum(sizes) > 256_000  # the scenario generates 256 KB for frontend pods (+ timestamps)


def test_can_i_and_unknown_kinds(sim: SimCluster, cluster: KubeCluster) -> None:
    viewer = _connect(sim.kubeconfig_path, context="irkit-sim-oncall-viewer")
    assert cluster.can_i("delete", "pods", "production")
    assert viewer.can_i("get", "pods", "production", subresource="log")
    assert not viewer.can_i("list", "secrets", "production")
    with pytest.raises(ClusterError, match="unknown resource kind"):
        cluster.get("widgets", "default", "x")


def test_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load Kubernetes credentials"):
        connect(ClusterSettings(kubeconfig=str(tmp_path / "missing")))


def test_a_long_retry_after_never_outlasts_the_total_budget(sim: SimCluster) -> None:
    budget = RetrySettings(attempts=6, backoff_initial=0.01, backoff_max=0.05, total_seconds=1)
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path, retry=budget))
    rule = sim.inject(resource="pods", status=429, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        cluster.list("pods", "production")
    assert time.monotonic() - started < 30  # not an hour
    assert 1 <= sim.faults.fired_count(rule) <= 3
