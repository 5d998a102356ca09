"""The workload lock of irkit serve's jobs: the top controller owner of the target, asked of the
cluster (the sim) once per new alert and briefly cached; the pod itself when the cluster cannot
tell; a run awaiting approval holds its workload only, never its whole namespace."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import cluster_for
from serving import APPROVER, POD, Served, am, apps, falco

from irkit.queue.port import AWAITING, FINAL, QUEUED
from irkit.server.workloads import WorkloadKeys
from irkit.sim import SimCluster

Serve = Callable[..., Served]
NS = "production"
API = f"{NS}/deployment/api-server"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    yield from apps(tmp_path)


def served(sim: SimCluster) -> int:
    """Requests the sim has answered, once the count has settled (it is bumped just after an
    answer is sent)."""
    seen = -1
    deadline = time.monotonic() + 5
    while (now := sim.requests_served) != seen and time.monotonic() < deadline:
        seen = now
        time.sleep(0.05)
    return now


def falco_at(time_: str, **fields: Any) -> dict[str, Any]:
    event = falco(**fields)
    event["time"] = time_
    return event


def test_a_pod_event_waits_for_its_deployments_run_while_another_deployment_runs(
    serve: Serve, sim: SimCluster
) -> None:
    """api-server's run awaits approval: the Falco event on one of its pods waits (one lock),
    while an alert on frontend, in the same namespace, runs meanwhile."""
    s = serve(sim)
    alert = am("WorkloadCompromised", workload="deployment/api-server", fingerprint="fp-api")
    api = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
    s.wait(api, (AWAITING,))
    pod = s.post("falco", falco()).json()["accepted"][0]["incident"]
    alert = am("WorkloadCompromised", workload="deploy/frontend", fingerprint="fp-front")
    front = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
    assert s.wait(front, (AWAITING,)).workload == f"{NS}/deployment/frontend"  # ran meanwhile
    waiting = s.queue.get(pod)
    assert waiting is not None and waiting.workload == API
    assert waiting.state == QUEUED and waiting.attempt == 0  # never claimed: one lock
    reply = s.client.post(
        f"/v1/incidents/{api}/approve", json={"step": "scale_down", "by": "t"}, headers=APPROVER
    )
    assert reply.status_code == 202, reply.text
    assert s.wait(api).state in FINAL
    assert s.wait(pod).attempt == 1  # its turn came once api-server's run ended


def test_spellings_of_one_deployment_and_its_pods_share_one_key(sim: SimCluster) -> None:
    keys = WorkloadKeys(cluster_for(sim))
    before = served(sim)
    spellings = ("deployment/", "Deployment/", "deployments/", "deploy/", "deployment.apps/")
    for spelling in spellings:
        assert keys.key(NS, {"workload": spelling + "api-server"}) == API
    assert served(sim) == before  # a Deployment is the top already: no lookup
    assert keys.key(NS, {"pod": POD}) == API
    assert keys.key(NS, {"target": f"pod/{POD}"}) == API
    assert keys.key(NS, {"workload": "rs/api-server-c7cpph9p5s"}) == API
    assert keys.key(NS, {"pod": "frontend-gp7ssqgfw9-pxc2s"}) == f"{NS}/deployment/frontend"
    assert keys.key(NS, {"workload": "statefulset/db"}) == f"{NS}/statefulset/db"
    assert keys.key(NS, {"selector": "app=api-server"}) == f"{NS}/*"
    assert keys.key(NS, {}) == f"{NS}/*"
    assert keys.key(NS, {"workload": "cronjob/nightly"}) == f"{NS}/*"  # not a target irkit takes
    keys.close()


def test_a_cluster_error_keys_the_pod_alone_with_a_warning(
    serve: Serve, sim: SimCluster, caplog: pytest.LogCaptureFixture
) -> None:
    s = serve(sim, workers=0)
    sim.inject(method="GET", resource="pods", status=403)
    with caplog.at_level(logging.WARNING, logger="irkit.server"):
        reply = s.post("falco", falco())
    assert reply.status_code == 202, reply.text
    job = s.queue.get(reply.json()["accepted"][0]["incident"])
    assert job is not None and job.workload == f"{NS}/pod/{POD}"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("exclusion is by pod only" in m and "Forbidden" in m for m in warned), warned


def test_a_slow_cluster_costs_an_alert_the_timeout_only(
    sim: SimCluster, caplog: pytest.LogCaptureFixture
) -> None:
    sim.inject(method="GET", resource="pods", latency=2.0, count=1)
    keys = WorkloadKeys(cluster_for(sim), timeout=0.2)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="irkit.server"):
        assert keys.key(NS, {"pod": POD}) == f"{NS}/pod/{POD}"
    assert time.monotonic() - started < 1.5
    assert any("no answer within 0.2 s" in r.getMessage() for r in caplog.records)
    keys.close(wait=True)


def test_a_duplicate_costs_no_api_call(serve: Serve, sim: SimCluster) -> None:
    s = serve(sim, workers=0, owner_ttl=0)  # nothing cached: every lookup is a request
    before = served(sim)
    first = s.post("falco", falco()).json()
    assert len(first["accepted"]) == 1
    assert served(sim) - before == 2  # the pod, then its ReplicaSet
    for _ in range(3):
        assert s.post("falco", falco()).json()["duplicates"] == first["accepted"]
    assert served(sim) - before == 2
    assert len(s.post("alertmanager", am()).json()["accepted"]) == 1  # new: looked up again
    assert served(sim) - before == 4


def test_a_burst_on_one_pod_costs_one_lookup(serve: Serve, sim: SimCluster) -> None:
    s = serve(sim, workers=0)
    before = served(sim)
    assert len(s.post("falco", falco()).json()["accepted"]) == 1
    later = s.post("falco", falco_at("2026-11-26T04:07:02.118532119Z")).json()  # next window
    assert len(later["accepted"]) == 1
    assert len(s.post("alertmanager", am()).json()["accepted"]) == 1  # the same pod
    assert served(sim) - before == 2  # cached: one lookup for the burst
    assert {job.workload for job in s.queue.jobs()} == {API}


def test_the_lookups_of_an_alert_group_share_one_timeout(sim: SimCluster) -> None:
    """An Alertmanager group naming four pods, the API server hanging: one timeout, not four
    (a sender's webhook timeout must not expire on a slow cluster)."""
    pods = [p["metadata"]["name"] for p in cluster_for(sim).list("pods", NS)][:4]
    sim.inject(method="GET", resource="pods", latency=3.0, count=4)
    keys = WorkloadKeys(cluster_for(sim), timeout=0.5)
    started = time.monotonic()
    got = keys.keys([(NS, {"pod": pod}) for pod in pods])
    assert time.monotonic() - started < 1.6  # one after another: 2 s at least
    assert got == [f"{NS}/pod/{pod}" for pod in pods]
    keys.close(wait=True)  # none outlives the sim
