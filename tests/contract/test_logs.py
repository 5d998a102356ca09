"""Pod logs through ``read_namespaced_pod_log``: container choice, previous, and the options."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import api_client, body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.sim import SimCluster

from .scenario_files import bare_pod, write_scenario

NS = "production"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
MINER_LINES = 12
PREVIOUS_LINES = 4
BIG = 20_000_000


def _api_pods(core: Any) -> list[Any]:
    return core.list_namespaced_pod(NS, label_selector="app=api-server").items


def _compromised(core: Any) -> Any:
    """Replica 0 of api-server: its ``api`` container restarted once (it has a previous log)."""
    pods = [
        p
        for p in _api_pods(core)
        for s in p.status.container_statuses
        if s.name == "api" and s.restart_count == 1
    ]
    assert len(pods) == 1
    return pods[0]


def test_container_choice(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    api = core.read_namespaced_pod_log(pod, NS, container="api")
    assert len(api.splitlines()) == MINER_LINES
    assert "stratum+tcp://pool.minexmr.example:4444" in api
    shipper = core.read_namespaced_pod_log(pod, NS, container="log-shipper")
    assert "xmrig" not in shipper
    assert "fluent-bit" in shipper
    assert shipper.endswith("\n")


def test_other_replicas_log_ordinary_traffic(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    bad = _compromised(core).metadata.name
    for pod in _api_pods(core):
        if pod.metadata.name == bad:
            continue
        text = core.read_namespaced_pod_log(pod.metadata.name, NS, container="api")
        assert "xmrig" not in text
        assert 60_000 <= len(text.encode()) <= 64_000  # the scenario's "generate: {size: 64KB}"


def test_multi_container_pod_needs_a_container_name(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod_log(pod, NS)
    status = body(e.value)
    assert (e.value.status, status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        f"a container name must be specified for pod {pod}, choose one of: [api log-shipper]"
    )


def test_single_container_pod_needs_none(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = core.list_namespaced_pod(NS, label_selector="app=frontend").items[0]
    text = core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert text == core.read_namespaced_pod_log(pod.metadata.name, NS, container="web")
    assert len(text) > 200_000  # the scenario's "generate: {size: 256KB}"


def test_unknown_container_and_pod(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod_log(pod, NS, container="nope")
    assert (e.value.status, body(e.value)["message"]) == (
        400,
        f"container nope is not valid for pod {pod}",
    )
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod_log("nope", NS, container="api")
    assert (e.value.status, body(e.value)["message"]) == (404, 'pods "nope" not found')


def test_previous_log_of_the_restarted_container(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core)
    (api,) = [s for s in pod.status.container_statuses if s.name == "api"]
    assert api.last_state.terminated.exit_code == 137
    text = core.read_namespaced_pod_log(pod.metadata.name, NS, container="api", previous=True)
    lines = text.splitlines()
    assert len(lines) == PREVIOUS_LINES
    assert lines[-1] == "ERROR memory limit reached (512Mi); killed by the kernel OOM killer"


def test_previous_log_of_a_container_that_never_restarted_is_bad_request(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    bad = _compromised(core).metadata.name
    others = [p.metadata.name for p in _api_pods(core) if p.metadata.name != bad]
    assert len(others) == 2
    for pod, container in ((others[0], "api"), (bad, "log-shipper")):
        with pytest.raises(ApiException) as e:
            core.read_namespaced_pod_log(pod, NS, container=container, previous=True)
        status = body(e.value)
        assert (e.value.status, status["reason"]) == (400, "BadRequest")
        assert status["message"] == (
            f'previous terminated container "{container}" in pod "{pod}" not found'
        )


def test_timestamps(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    lines = core.read_namespaced_pod_log(pod, NS, container="api", timestamps=True).splitlines()
    assert len(lines) == MINER_LINES
    assert all(STAMP.match(line) for line in lines)
    assert lines[1] == (
        "2026-11-26T03:04:52.000000000Z INFO  POST /api/v1/import "
        "content-type=application/x-java-serialized-object status=200 client=198.51.100.23"
    )
    plain = core.read_namespaced_pod_log(pod, NS, container="api").splitlines()
    assert [STAMP.sub("", line) for line in lines] == plain


def test_tail_lines(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    full = core.read_namespaced_pod_log(pod, NS, container="api").splitlines()
    tail = core.read_namespaced_pod_log(pod, NS, container="api", tail_lines=3).splitlines()
    assert tail == full[-3:]
    assert core.read_namespaced_pod_log(pod, NS, container="api", tail_lines=0) == ""
    everything = core.read_namespaced_pod_log(pod, NS, container="api", tail_lines=1000)
    assert everything.splitlines() == full


def test_limit_bytes_cuts_mid_line(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    full = core.read_namespaced_pod_log(pod, NS, container="api")
    for n in (1, 10, 100):
        cut = core.read_namespaced_pod_log(pod, NS, container="api", limit_bytes=n)
        assert cut == full[:n]


def test_bad_log_options_are_bad_request(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _compromised(core).metadata.name
    for options in ({"tail_lines": -1}, {"limit_bytes": 0}, {"since_seconds": 0}):
        with pytest.raises(ApiException) as e:
            core.read_namespaced_pod_log(pod, NS, container="api", **options)
        assert (e.value.status, body(e.value)["reason"]) == (400, "BadRequest"), options


@pytest.fixture
def timed_sim(tmp_path: Path) -> Iterator[SimCluster]:
    """A pod whose log lines are 2 h, 30 min, 5 min and 20 s old."""
    now = datetime.now(UTC).replace(microsecond=0)
    ages = (7200, 1800, 300, 20)
    text = "".join(
        f"{(now - timedelta(seconds=a)).strftime('%Y-%m-%dT%H:%M:%SZ')} age={a}\n" for a in ages
    )
    logs = [{"namespace": "default", "pod": "app", "container": "main", "text": text}]
    path = write_scenario(tmp_path, {"logs": logs}, [bare_pod("app", "main")])
    with SimCluster(path, audit_log=tmp_path / "audit.log") as sim:
        yield sim


def test_since_seconds(timed_sim: SimCluster) -> None:
    core = client.CoreV1Api(api_client(timed_sim.kubeconfig_path))

    def since(seconds: int) -> list[str]:
        return core.read_namespaced_pod_log("app", "default", since_seconds=seconds).splitlines()

    assert since(60) == ["age=20"]
    assert since(600) == ["age=300", "age=20"]
    assert since(3600) == ["age=1800", "age=300", "age=20"]
    assert since(86400) == ["age=7200", "age=1800", "age=300", "age=20"]
    assert since(5) == []
    tail_then_since = core.read_namespaced_pod_log(
        "app", "default", since_seconds=3600, tail_lines=2
    )
    assert tail_then_since.splitlines() == ["age=300", "age=20"]


@pytest.fixture
def big_sim(tmp_path: Path) -> Iterator[SimCluster]:
    logs = [
        {"namespace": "default", "pod": "big", "container": "main", "generate": {"size": "20MB"}}
    ]
    path = write_scenario(tmp_path, {"logs": logs}, [bare_pod("big", "main")])
    with SimCluster(path, audit_log=tmp_path / "audit.log") as sim:
        yield sim


def test_streaming_a_generated_20mb_log(big_sim: SimCluster) -> None:
    core = client.CoreV1Api(api_client(big_sim.kubeconfig_path))
    resp = core.read_namespaced_pod_log("big", "default", _preload_content=False)
    try:
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert "Content-Length" not in resp.headers
        total, pieces, first, tail = 0, 0, b"", b""
        for piece in resp.stream(1 << 16):
            if not first:
                first = piece
            tail = piece
            total += len(piece)
            pieces += 1
    finally:
        resp.release_conn()
    line_length = first.index(b"\n") + 1
    assert line_length > 50
    assert BIG - line_length < total <= BIG  # whole lines only, within one line of the size
    assert total % line_length == 0
    assert pieces >= BIG // (1 << 16)  # read in pieces, never held whole
    assert re.match(rb"(INFO|WARN|ERROR) request id=000000000 ", first)
    assert tail.endswith(b"\n")


def test_tail_of_a_generated_log_is_cheap_and_exact(big_sim: SimCluster) -> None:
    core = client.CoreV1Api(api_client(big_sim.kubeconfig_path))
    lines = core.read_namespaced_pod_log("big", "default", tail_lines=2).splitlines()
    assert len(lines) == 2
    ids = [re.search(r" id=(\d+) ", line) for line in lines]
    assert len(lines[0]) == len(lines[1])
    count = BIG // (len(lines[0]) + 1)
    assert [int(m[1]) if m else None for m in ids] == [count - 2, count - 1]
