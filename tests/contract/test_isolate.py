"""isolate / release against irkit.sim through the real Kubernetes adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import cluster_for

from irkit.actions.isolate import IsolateRequest, _apply_policy, isolate, policy_name
from irkit.actions.netpol import QUARANTINE_LABEL, AllowList
from irkit.actions.release import patch_pod, release
from irkit.cluster.kube import KubeCluster
from irkit.errors import Conflict, Forbidden, NotFound, UsageError
from irkit.model.target import parse_target
from irkit.sim import SimCluster

NS = "production"


def _req(**kw: object) -> IsolateRequest:
    base: dict[str, object] = {"incident": "inc-42", "actor": "tester", "command": "irkit isolate"}
    return IsolateRequest(**(base | kw))  # type: ignore[arg-type]


def _pods(c: KubeCluster, selector: str) -> list[dict]:
    return c.list("pods", NS, labels=selector)


def test_isolate_deployment_creates_deny_all_policy_and_labels_pods(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    result = isolate(c, target, _req(reason="miner"))
    assert result.status == "created"
    policy = c.get("networkpolicies", NS, "irkit-quarantine-deployment-api-server")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "api-server"}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"] and "egress" not in policy["spec"]
    assert policy["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "irkit"
    notes = policy["metadata"]["annotations"]
    assert notes["irkit.io/incident"] == "inc-42" and notes["irkit.io/reason"] == "miner"
    assert notes["irkit.io/isolated-at"].endswith("Z") and notes["irkit.io/actor"] == "tester"
    labelled = _pods(c, f"{QUARANTINE_LABEL}=inc-42")
    assert sorted(p["metadata"]["name"] for p in labelled) == sorted(result.pods)
    assert len(labelled) == 3
    # frontend pods are untouched
    assert all(QUARANTINE_LABEL not in p["metadata"]["labels"] for p in _pods(c, "app=frontend"))


def test_second_isolate_is_a_no_op(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    isolate(c, target, _req(allow=AllowList(dns=True)))
    rv = c.get("networkpolicies", NS, policy_name(target))["metadata"]["resourceVersion"]
    again = isolate(c, target, _req(allow=AllowList(dns=True)))
    assert again.status == "unchanged" and again.changes == [] and again.labelled == []
    after = c.get("networkpolicies", NS, policy_name(target))
    assert after["metadata"]["resourceVersion"] == rv


def test_allow_list_rules(sim: SimCluster) -> None:
    c = cluster_for(sim)
    allow = AllowList(dns=True, cidrs=("10.1.2.3/32",), peers=("forensics/app=collector",))
    isolate(c, parse_target(NS, "deployment/api-server", None), _req(allow=allow))
    spec = c.get("networkpolicies", NS, "irkit-quarantine-deployment-api-server")["spec"]
    egress_ports = [r.get("ports") for r in spec["egress"]]
    assert [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}] in egress_ports
    assert {"from": [{"ipBlock": {"cidr": "10.1.2.3/32"}}]} in spec["ingress"]
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "forensics"}},
        "podSelector": {"matchLabels": {"app": "collector"}},
    }
    assert {"from": [peer]} in spec["ingress"] and {"to": [peer]} in spec["egress"]


def test_bad_allow_list_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not an IP network"):
        AllowList(cidrs=("10.0.0.300/8",)).check()


def test_changed_options_update_the_policy(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    isolate(c, target, _req())
    result = isolate(c, target, _req(allow=AllowList(dns=True)))
    assert result.status == "updated"
    assert "egress" in c.get("networkpolicies", NS, policy_name(target))["spec"]


def test_never_overwrites_a_foreign_policy(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    foreign = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy_name(target)},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    c.create("networkpolicies", NS, foreign)
    with pytest.raises(Conflict, match="not created by irkit"):
        isolate(c, target, _req())
    assert c.get("networkpolicies", NS, policy_name(target))["spec"]["podSelector"] == {}
    with pytest.raises(Conflict):
        release(c, target)


def test_warns_about_policies_that_keep_traffic_flowing_and_strict_refuses(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    with pytest.raises(Conflict, match="allow-frontend-to-api"):
        isolate(c, target, _req(strict=True))
    with pytest.raises(NotFound):  # strict refused before changing anything
        c.get("networkpolicies", NS, policy_name(target))
    result = isolate(c, target, _req())
    assert any("allow-frontend-to-api" in w and "ingress" in w for w in result.warnings)
    assert result.partial
    assert [(leak.policy, leak.direction) for leak in result.leaks] == [
        ("allow-frontend-to-api", "ingress")
    ]
    assert result.leaks[0].why.startswith("from pods app=frontend")
    front = isolate(c, parse_target(NS, "deployment/frontend", None), _req())
    assert front.warnings == [] and front.leaks == [] and not front.partial


def test_a_detached_pod_is_out_of_reach_of_the_leaking_policy(sim: SimCluster) -> None:
    c = cluster_for(sim)
    first, second = (p["metadata"]["name"] for p in _pods(c, "app=api-server")[:2])
    target = parse_target(NS, f"pod/{first}", None)
    assert isolate(c, target, _req(dry_run=True)).partial  # still carries app=api-server
    result = isolate(c, target, _req(detach=True))
    assert not result.partial and result.warnings == []
    # --strict judges the labels the pod will have: detached, it is out of reach; refused as is.
    other = parse_target(NS, f"pod/{second}", None)
    with pytest.raises(Conflict, match="allow-frontend-to-api"):
        isolate(c, other, _req(strict=True))
    assert not isolate(c, other, _req(detach=True, strict=True)).partial


def test_dry_run_changes_nothing(sim: SimCluster) -> None:
    c = cluster_for(sim)
    before = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in _pods(c, "")}
    target = parse_target(NS, "deployment/api-server", None)
    result = isolate(c, target, _req(dry_run=True))
    assert result.dry_run and result.policy["metadata"]["name"] == policy_name(target)
    assert len(result.changes) == 4  # the policy and three pod labels it would make
    with pytest.raises(NotFound):
        c.get("networkpolicies", NS, policy_name(target))
    after = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in _pods(c, "")}
    assert after == before


def test_pod_scope_detach_and_release_restore_everything(sim: SimCluster) -> None:
    c = cluster_for(sim)
    pod = _pods(c, "app=frontend")[0]
    name, labels = pod["metadata"]["name"], pod["metadata"]["labels"]
    target = parse_target(NS, f"pod/{name}", None)
    result = isolate(c, target, _req(detach=True))
    policy = c.get("networkpolicies", NS, policy_name(target))
    assert policy["spec"]["podSelector"] == {"matchLabels": {QUARANTINE_LABEL: "inc-42"}}
    detached = c.get("pods", NS, name)
    assert detached["metadata"]["labels"] == {"tier": "web", QUARANTINE_LABEL: "inc-42"}
    recorded = json.loads(detached["metadata"]["annotations"]["irkit.io/detached-labels"])
    assert recorded == {"app": "frontend", "pod-template-hash": labels["pod-template-hash"]}
    assert result.detached[name] == recorded
    # the ReplicaSet let go of it and started a replacement
    assert "ownerReferences" not in detached["metadata"]
    assert len(_pods(c, "app=frontend")) == 2
    assert name not in [p["metadata"]["name"] for p in _pods(c, "app=frontend")]

    back = release(c, target)
    assert back.policy_deleted and back.restored[name] == recorded
    restored = c.get("pods", NS, name)
    assert restored["metadata"]["labels"] == labels
    assert "irkit.io/detached-labels" not in (restored["metadata"].get("annotations") or {})
    with pytest.raises(NotFound):
        c.get("networkpolicies", NS, policy_name(target))
    assert release(c, target).status == "unchanged"


def test_release_returns_deployment_pods_to_their_original_state(sim: SimCluster) -> None:
    c = cluster_for(sim)
    original = {p["metadata"]["name"]: p["metadata"]["labels"] for p in _pods(c, "app=api-server")}
    target = parse_target(NS, "deployment/api-server", None)
    isolate(c, target, _req())
    result = release(c, target)
    assert result.policy_deleted and sorted(result.unlabelled) == sorted(original)
    now = {p["metadata"]["name"]: p["metadata"]["labels"] for p in _pods(c, "app=api-server")}
    assert now == original
    names = [p["metadata"]["name"] for p in c.list("networkpolicies", NS)]
    assert names == ["allow-frontend-to-api"]


def test_selector_target_and_scope_rules(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, None, "tier in (backend)")
    result = isolate(c, target, _req())
    policy = c.get("networkpolicies", NS, result.policy_name)
    assert policy["spec"]["podSelector"] == {
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}]
    }
    assert len(result.pods) == 3
    # neutral words and the fields a front end words them from; the CLI's flags:
    # tests/cli/test_core_wording.py
    with pytest.raises(UsageError, match=r"^scope pod quarantines one pod") as scoped:
        isolate(c, parse_target(NS, "deployment/frontend", None), _req(scope="pod"))
    assert (scoped.value.option, scoped.value.code) == ("scope", "pod-scope-needs-pod")
    with pytest.raises(UsageError, match=r"^detach works with scope pod") as detached:
        isolate(c, parse_target(NS, "deployment/frontend", None), _req(detach=True))
    assert (detached.value.option, detached.value.code) == ("detach", "detach-needs-pod-scope")


def test_errors_name_what_is_missing_or_forbidden(sim: SimCluster, tmp_path: Path) -> None:
    c = cluster_for(sim)
    with pytest.raises(NotFound, match='namespace "nope" not found'):
        isolate(c, parse_target("nope", "deployment/api-server", None), _req())
    with pytest.raises(NotFound, match='deployment "ghost" not found in namespace "production"'):
        isolate(c, parse_target(NS, "deployment/ghost", None), _req())
    viewer = cluster_for(sim, "oncall-viewer", tmp_path)
    with pytest.raises(Forbidden) as err:
        isolate(viewer, parse_target(NS, "deployment/api-server", None), _req())
    message = str(err.value)
    assert 'user "oncall-viewer"' in message and "list networkpolicies" in message
    assert 'namespace "production"' in message


def test_survives_bursts_of_transient_errors(sim: SimCluster) -> None:
    c = cluster_for(sim)
    throttled = sim.inject(resource="networkpolicies", status=429, retry_after=0, count=3)
    unavailable = sim.inject(resource="pods", status=503, count=2)
    result = isolate(c, parse_target(NS, "deployment/api-server", None), _req())
    assert result.status == "created" and len(result.labelled) == 3
    assert sim.faults.fired_count(throttled) == 3
    assert sim.faults.fired_count(unavailable) == 2


def test_release_keeps_the_label_another_irkit_policy_selects_by(sim: SimCluster) -> None:
    c = cluster_for(sim)
    pods = _pods(c, "app=api-server")
    name = pods[0]["metadata"]["name"]
    pod_target = parse_target(NS, f"pod/{name}", None)
    deployment = parse_target(NS, "deployment/api-server", None)
    isolate(c, pod_target, _req())
    isolate(c, deployment, _req())
    result = release(c, deployment)
    assert result.kept == [name]
    assert sorted(result.unlabelled) == sorted(p["metadata"]["name"] for p in pods[1:])
    pod = c.get("pods", NS, name)
    assert pod["metadata"]["labels"][QUARANTINE_LABEL] == "inc-42"
    own = c.get("networkpolicies", NS, policy_name(pod_target))
    assert own["spec"]["podSelector"] == {"matchLabels": {QUARANTINE_LABEL: "inc-42"}}
    assert release(c, pod_target).unlabelled == [name]


def test_two_targets_sharing_a_policy_name_never_take_each_others_policy(
    sim: SimCluster,
) -> None:
    c = cluster_for(sim)
    dotted, dashed = (
        parse_target(NS, f"deployment/{n}", None) for n in ("api.server", "api-server")
    )
    assert policy_name(dotted) == policy_name(dashed)
    isolate(c, dashed, _req())
    before = c.get("networkpolicies", NS, policy_name(dashed))
    with pytest.raises(
        Conflict, match=r"deployment/api-server -n production.*deployment/api\.server"
    ):
        _apply_policy(c, dotted, {**before, "spec": {"podSelector": {}}}, before, False)
    with pytest.raises(Conflict, match="share a policy name"):
        release(c, dotted)
    assert c.get("networkpolicies", NS, policy_name(dashed))["spec"] == before["spec"]


def test_a_pod_deleted_before_its_patch_is_recorded_as_gone(sim: SimCluster) -> None:
    c = cluster_for(sim)
    patch = {"metadata": {"labels": {QUARANTINE_LABEL: "inc-42"}}}
    assert patch_pod(c, NS, "no-such-pod", patch, False) is None
    name = _pods(c, "app=api-server")[0]["metadata"]["name"]
    assert patch_pod(c, NS, name, patch, False) is not None


def test_a_workload_isolation_keeps_a_pod_in_its_earlier_pod_quarantine(sim: SimCluster) -> None:
    c = cluster_for(sim)
    pod = _pods(c, "app=api-server")[0]["metadata"]["name"]
    isolate(c, parse_target(NS, f"pod/{pod}", None), _req(incident="inc-1"))
    isolate(c, parse_target(NS, "deployment/api-server", None), _req(incident="inc-2"))
    labels = c.get("pods", NS, pod)["metadata"]["labels"]
    assert labels[QUARANTINE_LABEL] == "inc-1"  # still selected by its pod-scope policy
    others = [p for p in _pods(c, "app=api-server") if p["metadata"]["name"] != pod]
    assert {p["metadata"]["labels"][QUARANTINE_LABEL] for p in others} == {"inc-2"}
    with pytest.raises(Conflict, match="already quarantined by incident 'inc-1'"):
        isolate(c, parse_target(NS, f"pod/{pod}", None), _req(incident="inc-3"))


def test_a_create_whose_answer_was_lost_still_counts_as_created(sim: SimCluster) -> None:
    c = cluster_for(sim)
    target = parse_target(NS, "deployment/api-server", None)
    rule = sim.inject(method="POST", resource="networkpolicies", drop_response=True, count=1)
    result = isolate(c, target, _req())
    assert sim.faults.fired_count(rule) == 1  # the first create was served, its answer dropped
    assert result.status == "created" and len(result.labelled) == 3
    creates = [
        e
        for e in map(json.loads, sim.audit_log_path.read_text().splitlines())
        if e["verb"] == "create" and e["objectRef"].get("resource") == "networkpolicies"
    ]
    assert [e["responseStatus"]["code"] for e in creates][:2] == [503, 409]
