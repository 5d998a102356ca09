"""irkit.model.reach over what irkit isolate really leaves on a cluster: policies, pods and
namespaces read back through the Kubernetes adapter from irkit.sim (the bundled scenario, whose
``allow-frontend-to-api`` policy lets the frontend reach api-server on TCP/8080)."""

from __future__ import annotations

from conftest import LEAKY_POLICY, seal
from helpers import cluster_for

from irkit.actions.isolate import IsolateRequest, isolate, policy_name
from irkit.actions.netpol import AllowList
from irkit.cluster.kube import KubeCluster
from irkit.errors import Conflict
from irkit.model.reach import Path, is_dns, open_paths
from irkit.model.target import parse_target
from irkit.sim import SimCluster

NS = "production"
API = parse_target(NS, "deployment/api-server", None)
OURS = f"{NS}/{policy_name(API)}"


def _req(**kw: object) -> IsolateRequest:
    base: dict[str, object] = {"incident": "inc-7", "actor": "tester", "command": "irkit isolate"}
    return IsolateRequest(**(base | kw))  # type: ignore[arg-type]


def _paths(c: KubeCluster, pods: list[dict]) -> list[Path]:
    return open_paths(pods, c.list("networkpolicies"), c.list("namespaces"))


def _api_pods(c: KubeCluster) -> list[dict]:
    pods = c.list("pods", NS, labels="app=api-server")
    assert len(pods) == 3
    return pods


def test_before_isolate_the_api_pods_are_open(sim: SimCluster) -> None:
    c = cluster_for(sim)
    found = _paths(c, _api_pods(c)[:1])
    # The scenario's allow policy isolates ingress (frontend only); egress is the default.
    assert [(p.direction, p.peer, p.ports, p.policies) for p in found] == [
        (
            "ingress",
            "pods app=frontend in namespace production",
            "TCP/8080",
            (f"{NS}/{LEAKY_POLICY}",),
        ),
        ("egress", "anywhere", "all ports", ()),
    ]


def test_default_isolate_leaves_exactly_the_pre_existing_allow_path(sim: SimCluster) -> None:
    c = cluster_for(sim)
    result = isolate(c, API, _req())
    assert result.partial  # isolate itself says so; the evaluator must name the same path
    pods = _api_pods(c)
    assert _paths(c, pods) == [
        Path(
            "ingress",
            f"{NS}/{p['metadata']['name']}",
            "pods app=frontend in namespace production",
            "TCP/8080",
            (f"{NS}/{LEAKY_POLICY}",),
        )
        for p in pods
    ]


def test_strict_isolate_refuses_and_once_sealed_contains(sim: SimCluster) -> None:
    c = cluster_for(sim)
    try:
        isolate(c, API, _req(strict=True))
    except Conflict:
        pass
    else:
        raise AssertionError("strict isolate accepted a leaky quarantine")
    seal(sim)
    isolate(c, API, _req(strict=True))
    assert _paths(c, _api_pods(c)) == []


def test_allow_dns_opens_only_dns(sim: SimCluster) -> None:
    seal(sim)
    c = cluster_for(sim)
    isolate(c, API, _req(strict=True, allow=AllowList(dns=True)))
    found = _paths(c, _api_pods(c))
    assert len(found) == 3 and all(is_dns(p) for p in found)
    assert {(p.ports, p.policies) for p in found} == {("UDP/53, TCP/53", (OURS,))}


def test_allow_cidr_opens_that_network_both_ways(sim: SimCluster) -> None:
    seal(sim)
    c = cluster_for(sim)
    isolate(c, API, _req(allow=AllowList(cidrs=("10.0.9.7/24",))))
    found = _paths(c, _api_pods(c)[:1])
    assert [(p.direction, p.peer, p.ports, p.policies) for p in found] == [
        ("ingress", "10.0.9.0/24", "all ports", (OURS,)),
        ("egress", "10.0.9.0/24", "all ports", (OURS,)),
    ]
    assert not any(is_dns(p) for p in found)


def test_pod_scope_with_detach_contains_one_pod_despite_the_allow_policy(sim: SimCluster) -> None:
    c = cluster_for(sim)
    name = _api_pods(c)[0]["metadata"]["name"]
    target = parse_target(NS, f"pod/{name}", None)
    isolate(c, target, _req(scope="pod", detach=True, strict=True))
    assert _paths(c, [c.get("pods", NS, name)]) == []
    # Its siblings still have the allowed path: only that pod was taken out of the selector.
    sibling = c.list("pods", NS, labels="app=api-server")[0]
    assert [p.policies for p in _paths(c, [sibling])] == [(f"{NS}/{LEAKY_POLICY}",), ()]
