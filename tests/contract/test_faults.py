"""Injected faults as the official client meets them: throttling, errors, latency, hang-ups."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from conftest import api_client, body
from kubernetes import client, config
from kubernetes.client import ApiException

from irkit.sim import SimCluster

from .scenario_files import write_scenario


def _status_of(call: Any, *args: Any, **kwargs: Any) -> ApiException:
    with pytest.raises(ApiException) as e:
        call(*args, **kwargs)
    return e.value


def _without_retries(sim: SimCluster) -> Any:
    """A client that, unlike the default one, does not let urllib3 retry 429s by itself."""
    cfg = client.Configuration()
    config.load_kube_config(config_file=sim.kubeconfig_path, client_configuration=cfg)
    cfg.retries = False
    return client.ApiClient(cfg)


THROTTLED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Too many requests, please try again later.",
    "reason": "TooManyRequests",
    "details": {"retryAfterSeconds": 1},
    "code": 429,
}


def test_throttled_twice_then_served(sim: SimCluster) -> None:
    core = client.CoreV1Api(_without_retries(sim))
    rule = sim.inject(resource="pods", status=429, retry_after=1, count=2)
    for _ in range(2):
        err = _status_of(core.list_namespaced_pod, "production")
        assert err.status == 429
        assert err.headers["Retry-After"] == "1"
        assert body(err) == THROTTLED
    assert len(core.list_namespaced_pod("production").items) == 5
    assert sim.faults.fired_count(rule) == 2


def test_default_client_waits_retry_after_on_a_throttled_get(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    core.list_namespaced_pod("production")
    rule = sim.inject(resource="pods", status=429, retry_after=1, count=1)
    start = time.monotonic()
    assert len(core.list_namespaced_pod("production").items) == 5
    assert time.monotonic() - start >= 1.0  # urllib3 honoured the Retry-After header
    assert sim.faults.fired_count(rule) == 1


def test_a_throttled_create_reaches_the_caller(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)  # urllib3 never retries a POST on its own
    rule = sim.inject(resource="configmaps", method="POST", status=429, retry_after=1, count=2)
    for _ in range(2):
        err = _status_of(core.create_namespaced_config_map, "default", {"metadata": {"name": "x"}})
        assert (err.status, err.headers["Retry-After"]) == (429, "1")
        assert body(err) == THROTTLED
    assert core.create_namespaced_config_map("default", {"metadata": {"name": "x"}}).metadata.uid
    assert sim.faults.fired_count(rule) == 2


def test_a_fault_targets_only_its_resource(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    sim.inject(resource="pods", status=500, count=1)
    assert core.list_namespaced_config_map("production").items  # not pods: served
    assert _status_of(core.list_namespaced_pod, "production").status == 500
    assert core.list_namespaced_pod("production").items


def test_subresource_faults_are_exact(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    sim.inject(resource="pods/log", status=503)
    pod = core.list_namespaced_pod("production", label_selector="app=frontend").items[0]
    err = _status_of(core.read_namespaced_pod_log, pod.metadata.name, "production")
    assert (err.status, body(err)["reason"]) == (503, "ServiceUnavailable")
    assert core.read_namespaced_pod(pod.metadata.name, "production").metadata.name


@pytest.mark.parametrize(
    ("code", "reason", "message"),
    [
        (
            500,
            "InternalError",
            'an error on the server ("injected fault") has prevented the request from succeeding',
        ),
        (503, "ServiceUnavailable", "the server is currently unable to handle the request"),
    ],
)
def test_server_errors(sim: SimCluster, k8s: Any, code: int, reason: str, message: str) -> None:
    core = client.CoreV1Api(k8s)
    sim.inject(resource="configmaps", method="POST", status=code, count=1)
    err = _status_of(core.create_namespaced_config_map, "default", {"metadata": {"name": "x"}})
    assert err.status == code
    status = body(err)
    assert (status["reason"], status["message"], status["code"]) == (reason, message, code)
    # Nothing was stored by the failed request; the next one goes through.
    assert core.list_namespaced_config_map("default").items == []
    assert core.create_namespaced_config_map("default", {"metadata": {"name": "x"}}).metadata.uid


def test_probability_zero_never_fires(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    rule = sim.inject(resource="pods", status=500, probability=0)
    for _ in range(10):
        assert len(core.list_namespaced_pod("production").items) == 5
    assert sim.faults.fired_count(rule) == 0


def test_latency_delays_the_answer(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    core.list_namespaced_pod("production")  # connection set up before timing
    sim.inject(resource="pods", latency=0.4, count=1)
    start = time.monotonic()
    assert len(core.list_namespaced_pod("production").items) == 5
    slow = time.monotonic() - start
    start = time.monotonic()
    core.list_namespaced_pod("production")
    fast = time.monotonic() - start
    assert slow >= 0.4
    assert fast < 0.4


def test_latency_with_a_status_delays_the_error(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    sim.inject(resource="pods", latency=0.3, status=504, count=1)
    start = time.monotonic()
    err = _status_of(core.list_namespaced_pod, "production")
    assert time.monotonic() - start >= 0.3
    assert (err.status, body(err)["reason"]) == (504, "Timeout")


def test_dropped_connection_is_a_transport_error(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    rule = sim.inject(resource="pods", drop=True)
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.list_namespaced_pod("production")
    # urllib3 retried the idempotent GET on fresh connections; each one was dropped.
    assert sim.faults.fired_count(rule) > 1
    sim.faults.remove(rule)
    assert len(core.list_namespaced_pod("production").items) == 5


def test_a_single_dropped_create_is_not_retried(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    rule = sim.inject(resource="configmaps", method="POST", drop=True, count=1)
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert sim.faults.fired_count(rule) == 1
    assert core.list_namespaced_config_map("default").items == []


def test_a_single_dropped_get_is_retried_by_urllib3(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    rule = sim.inject(resource="pods", drop=True, count=1)
    assert len(core.list_namespaced_pod("production").items) == 5
    assert sim.faults.fired_count(rule) == 1


def test_path_rule(sim: SimCluster, k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    sim.inject(path=r"^/api/v1/namespaces/production/", status=500)
    assert _status_of(core.list_namespaced_service, "production").status == 500
    assert _status_of(core.list_namespaced_pod, "production").status == 500
    assert [s.metadata.name for s in core.list_namespaced_service("kube-system").items] == [
        "kube-dns"
    ]


@pytest.fixture
def faulty_sim(tmp_path: Path) -> Iterator[SimCluster]:
    faults = [
        {
            "resource": "configmaps",
            "method": "POST",
            "status": 503,
            "count": 1,
            "message": "etcdserver: leader changed",
        },
        {"resource": "secrets", "method": "POST", "status": 429, "retryAfter": 7},
    ]
    path = write_scenario(tmp_path, {"faults": faults})
    with SimCluster(path, audit_log=tmp_path / "audit.log") as sim:
        yield sim


def test_scenario_defined_faults(faulty_sim: SimCluster) -> None:
    core = client.CoreV1Api(api_client(faulty_sim.kubeconfig_path))
    err = _status_of(core.create_namespaced_config_map, "default", {"metadata": {"name": "x"}})
    assert (err.status, body(err)["message"]) == (503, "etcdserver: leader changed")
    assert core.create_namespaced_config_map("default", {"metadata": {"name": "x"}}).metadata.uid
    secret = {"metadata": {"name": "s"}, "data": {}}
    for _ in range(3):  # no count: every time
        err = _status_of(core.create_namespaced_secret, "default", secret)
        assert (err.status, err.headers["Retry-After"]) == (429, "7")
        assert body(err)["details"] == {"retryAfterSeconds": 7}
    assert core.list_namespaced_secret("default").items == []  # GETs are not throttled
    assert core.list_namespaced_config_map("default").items
