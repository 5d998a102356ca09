"""What isolate asks of the API server: few round trips, pods patched in parallel, and every
write conditional, so a change made meanwhile is read and decided on again, never overwritten."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import cluster_for

from irkit.actions.isolate import IsolateRequest, isolate, policy_name
from irkit.actions.netpol import QUARANTINE_LABEL, AllowList
from irkit.cluster.kube import KubeCluster
from irkit.cluster.port import Obj
from irkit.errors import Conflict, Forbidden, NotFound
from irkit.model.journal import Change
from irkit.model.target import parse_target
from irkit.sim import SimCluster

NS = "production"
API = parse_target(NS, "deployment/api-server", None)


def _req(incident: str = "inc-42", **kw: Any) -> IsolateRequest:
    return IsolateRequest(incident=incident, actor="tester", command="irkit isolate", **kw)


def _audit(sim: SimCluster) -> list[dict[str, Any]]:
    """Every request served so far. The simulator counts and audits a request just after its
    answer: wait until the log has settled (no new line for 50 ms, none missing)."""
    deadline, seen = time.monotonic() + 5, -1
    while True:
        lines = sim.audit_log_path.read_text().splitlines()
        settled = len(lines) == seen and len(lines) >= sim.requests_served
        if settled or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        seen = len(lines)
        time.sleep(0.05)


def _requests(sim: SimCluster, since: int) -> list[str]:
    return [
        f"{e['verb']} {e['objectRef'].get('resource', '')}"
        for e in _audit(sim)[since:]
        if e.get("objectRef")
    ]


def _pod_names(c: KubeCluster) -> list[str]:
    return sorted(p["metadata"]["name"] for p in c.list("pods", NS, labels="app=api-server"))


class Meddler:
    """The real adapter, with someone else's change slipped in just before irkit's first write
    of one kind: the moment a check-then-write would go wrong."""

    def __init__(self, inner: KubeCluster, kind: str, meddle: Callable[[], None]) -> None:
        self.inner, self.kind, self.meddle = inner, kind, meddle
        self.identity = inner.identity

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def patch(self, kind: str, namespace: str, name: str, patch: Any, **kw: Any) -> Obj:
        if kind == self.kind and self.meddle is not None:
            meddle, self.meddle = self.meddle, None  # type: ignore[assignment]
            meddle()
        return self.inner.patch(kind, namespace, name, patch, **kw)


def test_isolate_makes_no_namespace_get_and_no_get_of_its_own_policy(sim: SimCluster) -> None:
    c = cluster_for(sim)
    since = len(_audit(sim))
    isolate(c, API, _req())
    made = sorted(_requests(sim, since))
    assert made == sorted(
        [
            "get deployments",
            "list pods",
            "get replicasets",
            "list networkpolicies",
            "create networkpolicies",
            *["patch pods"] * 3,
        ]
    )
    since = len(_audit(sim))
    assert isolate(c, API, _req()).status == "unchanged"
    assert sorted(_requests(sim, since)) == [
        "get deployments",
        "get replicasets",
        "list networkpolicies",
        "list pods",
    ]


def test_a_missing_target_still_names_what_is_missing(sim: SimCluster, tmp_path: Path) -> None:
    c = cluster_for(sim)
    with pytest.raises(NotFound, match='namespace "nope" not found'):
        isolate(c, parse_target("nope", "pod/x", None), _req())
    with pytest.raises(NotFound, match='namespace "nope" not found'):
        isolate(c, parse_target("nope", None, "app=x"), _req())
    with pytest.raises(NotFound, match="no pods match -l app=x in namespace production"):
        isolate(c, parse_target(NS, None, "app=x"), _req())
    # Who may not read namespaces hears about what they asked for, not a 403 on namespaces.
    sim.add_user("deployer", token="deployer-token")
    rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]
    c.create("roles", NS, {"metadata": {"name": "deployer"}, "rules": rules})
    binding = {
        "metadata": {"name": "deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "User", "name": "deployer"}],
    }
    c.create("rolebindings", NS, binding)
    deployer = cluster_for(sim, "deployer", tmp_path)
    with pytest.raises(NotFound, match='deployment "ghost" not found in namespace "production"'):
        isolate(deployer, parse_target(NS, "deployment/ghost", None), _req())


def test_pods_are_patched_in_parallel(sim: SimCluster) -> None:
    c = cluster_for(sim)
    since = len(_audit(sim))
    sim.inject(method="PATCH", resource="pods", latency=0.3)
    isolate(c, API, _req())
    patches = [
        (e["requestReceivedTimestamp"], e["stageTimestamp"])
        for e in _audit(sim)[since:]
        if e["verb"] == "patch" and e["objectRef"]["resource"] == "pods"
    ]
    assert len(patches) == 3
    # RFC 3339 timestamps of one format compare as text: the second began before the first ended.
    first, second = sorted(patches)[:2]
    assert second[0] < first[1]


def test_one_failed_pod_patch_keeps_the_others_and_their_changes(sim: SimCluster) -> None:
    c = cluster_for(sim)
    sim.inject(method="PATCH", resource="pods", status=403, count=1)
    changes: list[Change] = []
    with pytest.raises(Forbidden):
        isolate(c, API, _req(), changes)
    assert [ch.kind for ch in changes] == ["NetworkPolicy", "Pod", "Pod"]
    labelled = c.list("pods", NS, labels=f"{QUARANTINE_LABEL}=inc-42")
    assert sorted(p["metadata"]["name"] for p in labelled) == sorted(ch.name for ch in changes[1:])
    # Run again: carries on where it stopped.
    again = isolate(c, API, _req())
    assert again.status == "unchanged" and len(again.labelled) == 1


def test_a_pod_changed_meanwhile_is_read_again_and_labelled(sim: SimCluster) -> None:
    c = cluster_for(sim)
    pod = _pod_names(c)[0]
    target = parse_target(NS, f"pod/{pod}", None)
    touch = {"metadata": {"labels": {"suspect": "true"}}}
    meddler = Meddler(c, "pods", lambda: c.patch("pods", NS, pod, touch) and None)
    result = isolate(meddler, target, _req())  # type: ignore[arg-type]
    labels = c.get("pods", NS, pod)["metadata"]["labels"]
    assert labels["suspect"] == "true" and labels[QUARANTINE_LABEL] == "inc-42"
    assert result.labelled == [pod]
    conflicts = [
        e for e in _audit(sim) if e["verb"] == "patch" and e["responseStatus"]["code"] == 409
    ]
    assert len(conflicts) == 1  # the first, stale patch was refused, not applied


def test_another_incidents_label_set_meanwhile_is_never_overwritten(sim: SimCluster) -> None:
    c = cluster_for(sim)
    pod = _pod_names(c)[0]
    target = parse_target(NS, f"pod/{pod}", None)
    claim = {"metadata": {"labels": {QUARANTINE_LABEL: "inc-other"}}}
    meddler = Meddler(c, "pods", lambda: c.patch("pods", NS, pod, claim) and None)
    with pytest.raises(Conflict, match="already quarantined by incident 'inc-other'"):
        isolate(meddler, target, _req())  # type: ignore[arg-type]
    assert c.get("pods", NS, pod)["metadata"]["labels"][QUARANTINE_LABEL] == "inc-other"


def test_a_policy_taken_over_meanwhile_is_not_updated(sim: SimCluster) -> None:
    c = cluster_for(sim)
    isolate(c, API, _req("inc-1"))

    def take_over() -> None:  # released, then quarantined again by another incident
        c.delete("networkpolicies", NS, policy_name(API))
        isolate(c, API, _req("inc-2"))

    meddler = Meddler(c, "networkpolicies", take_over)
    with pytest.raises(Conflict, match="already quarantined by incident 'inc-2'"):
        isolate(meddler, API, _req("inc-1", allow=AllowList(dns=True)))  # type: ignore[arg-type]
    policy = c.get("networkpolicies", NS, policy_name(API))
    assert policy["metadata"]["annotations"]["irkit.io/incident"] == "inc-2"
    assert "egress" not in policy["spec"]  # inc-1's wider allow-list did not land on it


def test_a_policy_update_whose_answer_was_lost_counts_as_updated(sim: SimCluster) -> None:
    c = cluster_for(sim)
    isolate(c, API, _req())
    sim.inject(method="PATCH", resource="networkpolicies", drop_response=True, count=1)
    result = isolate(c, API, _req(allow=AllowList(dns=True)))
    assert result.status == "updated"
    assert [ch.action for ch in result.changes] == ["patch"]
    assert "egress" in c.get("networkpolicies", NS, policy_name(API))["spec"]


def test_a_pod_patch_whose_answer_was_lost_counts_as_labelled(sim: SimCluster) -> None:
    c = cluster_for(sim)
    sim.inject(method="PATCH", resource="pods", drop_response=True, count=1)
    result = isolate(c, API, _req())
    assert sorted(result.labelled) == _pod_names(c)
    assert [ch.kind for ch in result.changes].count("Pod") == 3
