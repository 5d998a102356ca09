"""A second incident never weakens an existing quarantine: sequentially, and under a race.

Each isolating thread has its own connection (irkit's adapter over the official client) to
irkit.sim; a watcher polls the cluster through the official client the whole time and checks,
at every moment it sees consistently, that the pod is selected by at least one of irkit's
deny-all policies.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import api_client
from helpers import cluster_for
from kubernetes import client

from irkit.actions.isolate import IsolateRequest, isolate, policy_name
from irkit.actions.netpol import MANAGED_BY, QUARANTINE_LABEL
from irkit.cluster.kube import KubeCluster
from irkit.errors import Conflict, Remedy
from irkit.model.selectors import label_selector_from_object
from irkit.model.target import parse_target
from irkit.sim import SimCluster

NS = "production"
RACERS = 10


def _req(incident: str) -> IsolateRequest:
    return IsolateRequest(incident=incident, actor="tester", command="irkit isolate")


def _a_pod(c: KubeCluster) -> str:
    return str(c.list("pods", NS, labels="app=api-server")[0]["metadata"]["name"])


def isolated(pod: dict[str, Any], policies: list[dict[str, Any]]) -> bool:
    """Is the pod selected by one of irkit's policies that denies everything both ways?"""
    labels = pod["metadata"].get("labels") or {}
    for policy in policies:
        spec = policy.get("spec") or {}
        ours = (policy["metadata"].get("labels") or {}).get(MANAGED_BY) == "irkit"
        deny_all = (
            set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        )
        if ours and deny_all and label_selector_from_object(spec["podSelector"]).matches(labels):
            return True
    return False


def test_a_second_incident_changes_nothing_of_a_pod_quarantine(sim: SimCluster) -> None:
    c = cluster_for(sim)
    pod = _a_pod(c)
    target = parse_target(NS, f"pod/{pod}", None)
    isolate(c, target, _req("inc-A"))
    policy_before = c.get("networkpolicies", NS, policy_name(target))
    pod_before = c.get("pods", NS, pod)

    with pytest.raises(Conflict, match="inc-A") as err:
        isolate(c, target, _req("inc-B"))
    assert "act for incident inc-A" in (err.value.hint or "")  # "--incident": the CLI's
    assert err.value.remedy == Remedy("owned-by-incident", {"incident": "inc-A"})

    assert c.get("networkpolicies", NS, policy_name(target)) == policy_before
    assert c.get("pods", NS, pod) == pod_before
    assert isolated(pod_before, c.list("networkpolicies", NS))


def test_a_second_incident_never_changes_a_workload_quarantine(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    isolate(c, target, _req("inc-A"))
    before = c.get("networkpolicies", NS, policy_name(target))
    labels = {p["metadata"]["name"]: p["metadata"]["labels"] for p in c.list("pods", NS)}
    with pytest.raises(Conflict, match="incident 'inc-A'"):
        isolate(c, target, _req("inc-B"))
    assert c.get("networkpolicies", NS, policy_name(target)) == before
    assert {p["metadata"]["name"]: p["metadata"]["labels"] for p in c.list("pods", NS)} == labels


class Watcher(threading.Thread):
    """Polls pod and policies over HTTP until stopped; judges only consistent snapshots: two
    policy lists with the same resourceVersion around the pod read (nothing was written in
    between, the simulator's resourceVersion being one counter)."""

    def __init__(self, sim: SimCluster, pod: str) -> None:
        super().__init__(daemon=True)
        api = api_client(sim.kubeconfig_path)  # the official client, its own connection
        self.net, self.core, self.pod = client.NetworkingV1Api(api), client.CoreV1Api(api), pod
        self.stop = threading.Event()
        self.judged = 0
        self.seen_isolated = False
        self.broken: list[str] = []

    def _snapshot(self) -> tuple[str, list[dict[str, Any]]]:
        raw = self.net.list_namespaced_network_policy(NS, _preload_content=False)
        page = json.loads(raw.data)
        return page["metadata"]["resourceVersion"], page.get("items") or []

    def judge_more(self, count: int, timeout: float = 10.0) -> None:
        wanted, deadline = self.judged + count, time.monotonic() + timeout
        while self.judged < wanted and time.monotonic() < deadline and self.is_alive():
            time.sleep(0.01)

    def run(self) -> None:
        while not self.stop.is_set():
            rv1, policies = self._snapshot()
            pod = json.loads(
                self.core.read_namespaced_pod(self.pod, NS, _preload_content=False).data
            )
            rv2, _ = self._snapshot()
            if rv1 != rv2:
                continue
            self.judged += 1
            if isolated(pod, policies):
                self.seen_isolated = True
            elif self.seen_isolated:
                selectors = [p["spec"]["podSelector"] for p in policies]
                self.broken.append(
                    f"rv {rv1}: pod labels {pod['metadata'].get('labels')}, selectors {selectors}"
                )


def test_ten_incidents_racing_for_one_pod_leave_it_isolated_at_every_moment(
    sim: SimCluster,
) -> None:
    setup = cluster_for(sim)
    pod = _a_pod(setup)
    target = parse_target(NS, f"pod/{pod}", None)
    clusters = [cluster_for(sim) for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    won: list[str] = []
    lost: list[tuple[str, Exception]] = []
    lock = threading.Lock()

    def race(i: int) -> None:
        incident = f"inc-{i}"
        barrier.wait(10)
        try:
            isolate(clusters[i], target, _req(incident))
        except Exception as e:  # judged below, in the test thread
            with lock:
                lost.append((incident, e))
        else:
            with lock:
                won.append(incident)

    watcher = Watcher(sim, pod)
    watcher.start()
    threads = [threading.Thread(target=race, args=(i,), daemon=True) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    watcher.judge_more(2)  # the settled end state is judged too
    watcher.stop.set()
    watcher.join(10)

    assert len(won) == 1, (won, lost)
    (winner,) = won
    assert len(lost) == RACERS - 1
    for incident, error in lost:
        assert isinstance(error, Conflict), (incident, error)
        assert f"incident {winner!r}" in str(error), (incident, error)
    assert watcher.broken == []
    assert watcher.seen_isolated and watcher.judged > 0
    final = setup.get("pods", NS, pod)
    assert final["metadata"]["labels"][QUARANTINE_LABEL] == winner
    policy = setup.get("networkpolicies", NS, policy_name(target))
    assert policy["spec"]["podSelector"] == {"matchLabels": {QUARANTINE_LABEL: winner}}
    assert isolated(final, setup.list("networkpolicies", NS))


def test_the_cli_refuses_a_second_incident_and_leaves_everything(
    sim: SimCluster, tmp_path: Path
) -> None:
    import subprocess
    import sys

    c = cluster_for(sim)
    pod = _a_pod(c)
    target = parse_target(NS, f"pod/{pod}", None)
    isolate(c, target, _req("inc-A"))
    policy_before = c.get("networkpolicies", NS, policy_name(target))
    pod_before = c.get("pods", NS, pod)
    cmd = [sys.executable, "-m", "irkit", "isolate", f"pod/{pod}", "-n", NS, "-i", "inc-B"]
    cmd += ["--kubeconfig", sim.kubeconfig_path, "--journal", str(tmp_path / "j.jsonl")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1, out.stderr
    assert "inc-A" in out.stderr and "Traceback" not in out.stderr
    assert c.get("networkpolicies", NS, policy_name(target)) == policy_before
    assert c.get("pods", NS, pod) == pod_before
