"""irkit.model.reach: each rule of NetworkPolicy semantics, each test written so that a plausible
wrong evaluator (ignoring the namespace, OR-ing a peer's selectors, treating ``egress: []`` as
rules, ...) fails it."""

from __future__ import annotations

from typing import Any

import pytest

from irkit.model.reach import Path, describe, is_dns, open_paths

NS = "production"
NAMESPACES = [
    {"metadata": {"name": NS, "labels": {"team": "shop", "env": "prod"}}},
    {"metadata": {"name": "staging", "labels": {"team": "shop", "env": "staging"}}},
    {"metadata": {"name": "monitoring", "labels": {"team": "ops"}}},
    {
        "metadata": {"name": "kube-system", "labels": {}}
    },  # no name label: the API server's is implied
]
DENY_ALL: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
DNS_RULE: dict[str, Any] = {  # as irkit isolate --allow-dns writes it (irkit.actions.netpol)
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def pod(
    name: str = "api-0",
    labels: dict[str, str] | None = None,
    ns: str = NS,
    ports: list[dict[str, Any]] | None = None,
    host_network: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "api", "ports": ports or []}]}
    if host_network:
        spec["hostNetwork"] = True
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "api"}},
        "spec": spec,
    }


def policy(name: str, spec: dict[str, Any], ns: str = NS) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def paths(pods: list[dict[str, Any]], *specs: dict[str, Any]) -> list[Path]:
    pols = [s if "metadata" in s else policy(f"p{i}", s) for i, s in enumerate(specs)]
    return open_paths(pods, pols, NAMESPACES)


def ingress(*rules: dict[str, Any]) -> dict[str, Any]:
    """Isolated both ways; the given ingress rules only."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": list(rules)}


def peers(found: list[Path], direction: str = "ingress") -> list[tuple[str, str]]:
    return [(p.peer, p.ports) for p in found if p.direction == direction]


# -- selection and the default ----------------------------------------------------------------


def test_a_pod_no_policy_selects_is_open_both_ways_with_no_policy_named() -> None:
    assert paths([pod()]) == [
        Path("ingress", f"{NS}/api-0", "anywhere", "all ports", ()),
        Path("egress", f"{NS}/api-0", "anywhere", "all ports", ()),
    ]


def test_deny_all_contains() -> None:
    assert paths([pod()], DENY_ALL) == []


def test_a_policy_in_another_namespace_does_not_isolate_the_pod() -> None:
    found = paths([pod()], policy("deny", DENY_ALL, ns="staging"))
    assert [(p.direction, p.peer, p.policies) for p in found] == [
        ("ingress", "anywhere", ()),
        ("egress", "anywhere", ()),
    ]


def test_a_policy_whose_pod_selector_misses_the_pod_does_not_isolate_it() -> None:
    spec = {**DENY_ALL, "podSelector": {"matchLabels": {"app": "web"}}}
    assert len(paths([pod(labels={"app": "api"})], spec)) == 2


@pytest.mark.parametrize(
    ("expression", "labels", "isolated"),
    [
        ({"key": "app", "operator": "In", "values": ["api", "web"]}, {"app": "web"}, True),
        ({"key": "app", "operator": "In", "values": ["api", "web"]}, {"app": "db"}, False),
        ({"key": "app", "operator": "NotIn", "values": ["web"]}, {"app": "api"}, True),
        ({"key": "app", "operator": "NotIn", "values": ["web"]}, {"app": "web"}, False),
        # NotIn holds when the key is missing (apimachinery's rule): a wrong evaluator that
        # requires the key leaves this pod open.
        ({"key": "tier", "operator": "NotIn", "values": ["web"]}, {"app": "api"}, True),
        ({"key": "tier", "operator": "Exists"}, {"tier": ""}, True),
        ({"key": "tier", "operator": "Exists"}, {"app": "api"}, False),
        ({"key": "tier", "operator": "DoesNotExist"}, {"app": "api"}, True),
        ({"key": "tier", "operator": "DoesNotExist"}, {"tier": "x"}, False),
    ],
)
def test_match_expressions(
    expression: dict[str, Any], labels: dict[str, str], isolated: bool
) -> None:
    spec = {**DENY_ALL, "podSelector": {"matchExpressions": [expression]}}
    assert (paths([pod(labels=labels)], spec) == []) is isolated


def test_match_labels_and_match_expressions_must_all_hold() -> None:
    sel = {
        "matchLabels": {"app": "api"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}],
    }
    spec = {**DENY_ALL, "podSelector": sel}
    assert paths([pod(labels={"app": "api", "tier": "backend"})], spec) == []
    assert len(paths([pod(labels={"app": "api", "tier": "web"})], spec)) == 2


def test_a_host_network_pod_stays_open_under_deny_all() -> None:
    found = paths([pod(host_network=True)], DENY_ALL)
    assert [p.direction for p in found] == ["ingress", "egress"]
    assert all("hostNetwork" in p.peer and p.ports == "all ports" for p in found)


def test_paths_are_given_per_pod() -> None:
    found = paths(
        [pod("a"), pod("b", labels={"app": "web"})],
        {**DENY_ALL, "podSelector": {"matchLabels": {"app": "api"}}},
    )
    assert {p.pod for p in found} == {f"{NS}/b"}


# -- policyTypes ------------------------------------------------------------------------------


def test_policy_types_omitted_with_ingress_rules_only_leaves_egress_open() -> None:
    found = paths([pod()], {"podSelector": {}, "ingress": []})
    assert [(p.direction, p.policies) for p in found] == [("egress", ())]


def test_policy_types_omitted_with_egress_rules_isolates_egress_too() -> None:
    found = paths(
        [pod()], {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}
    )
    assert peers(found, "ingress") == []  # Ingress is always implied
    assert peers(found, "egress") == [("10.0.0.0/8", "all ports")]


def test_policy_types_omitted_with_an_empty_egress_list_does_not_isolate_egress() -> None:
    # The API server defaults Egress only when len(egress) != 0.
    found = paths([pod()], {"podSelector": {}, "egress": []})
    assert [(p.direction, p.peer, p.policies) for p in found] == [("egress", "anywhere", ())]


def test_policy_types_egress_only_leaves_ingress_open_even_with_ingress_rules() -> None:
    spec = {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}
    found = paths([pod()], spec)
    assert [(p.direction, p.policies) for p in found] == [("ingress", ())]


# -- rules ------------------------------------------------------------------------------------


def test_an_empty_rule_list_allows_nothing() -> None:
    assert (
        paths(
            [pod()],
            {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []},
        )
        == []
    )


def test_the_empty_rule_allows_everything_and_names_its_policy() -> None:
    found = paths([pod()], policy("allow-all", ingress({})))
    assert found == [Path("ingress", f"{NS}/api-0", "anywhere", "all ports", (f"{NS}/allow-all",))]


def test_an_empty_peer_list_is_every_peer() -> None:
    assert peers(paths([pod()], ingress({"from": [], "ports": [{"port": 80}]}))) == [
        ("anywhere", "TCP/80")
    ]


def test_pod_selector_alone_means_the_policys_namespace() -> None:
    found = paths(
        [pod()], ingress({"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}]})
    )
    assert peers(found) == [("pods app=frontend in namespace production", "all ports")]


def test_an_empty_pod_selector_alone_is_every_pod_of_the_namespace() -> None:
    assert peers(paths([pod()], ingress({"from": [{"podSelector": {}}]}))) == [
        ("any pod in namespace production", "all ports")
    ]


def test_namespace_selector_alone_is_every_pod_in_the_matching_namespaces() -> None:
    found = paths(
        [pod()], ingress({"from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}]})
    )
    assert peers(found) == [("any pod in namespaces team=shop (production, staging)", "all ports")]


def test_an_empty_namespace_selector_is_any_namespace() -> None:
    found = paths([pod()], ingress({"from": [{"namespaceSelector": {}}]}))
    assert peers(found) == [("any pod in any namespace", "all ports")]


def test_a_namespace_selector_matching_no_namespace_is_still_reported() -> None:
    # A namespace with those labels may be created later: never called contained on that.
    found = paths(
        [pod()], ingress({"from": [{"namespaceSelector": {"matchLabels": {"team": "red"}}}]})
    )
    assert peers(found) == [("any pod in namespaces team=red (none exist now)", "all ports")]


def test_the_implied_namespace_name_label_selects_by_name() -> None:
    sel = {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": ["kube-system", "monitoring"],
            }
        ]
    }
    found = paths([pod()], ingress({"from": [{"namespaceSelector": sel}]}))
    assert peers(found) == [
        (
            "any pod in namespaces kubernetes.io/metadata.name in (kube-system,monitoring)"
            " (kube-system, monitoring)",
            "all ports",
        )
    ]


def test_pod_and_namespace_selector_in_one_peer_are_anded() -> None:
    one = {
        "namespaceSelector": {"matchLabels": {"team": "ops"}},
        "podSelector": {"matchLabels": {"app": "prom"}},
    }
    assert peers(paths([pod()], ingress({"from": [one]}))) == [
        ("pods app=prom in namespaces team=ops (monitoring)", "all ports")
    ]


def test_pod_and_namespace_selector_as_two_peers_are_ored() -> None:
    two = [
        {"namespaceSelector": {"matchLabels": {"team": "ops"}}},
        {"podSelector": {"matchLabels": {"app": "prom"}}},
    ]
    assert peers(paths([pod()], ingress({"from": two}))) == [
        ("any pod in namespaces team=ops (monitoring)", "all ports"),
        ("pods app=prom in namespace production", "all ports"),
    ]


def test_ip_block_with_except() -> None:
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]}}
    assert peers(paths([pod()], ingress({"from": [block]}))) == [
        ("10.0.0.0/8 except 10.1.0.0/16, 10.2.0.0/16", "all ports")
    ]


def test_ip_block_everything_is_worded_as_such() -> None:
    found = paths([pod()], ingress({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}))
    assert peers(found) == [("0.0.0.0/0 (any IPv4 address)", "all ports")]


def test_an_ip_block_wholly_excepted_allows_nothing() -> None:
    block = {"ipBlock": {"cidr": "10.1.2.0/24", "except": ["10.1.0.0/16"]}}
    assert paths([pod()], ingress({"from": [block]})) == []


# -- ports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "words"),
    [
        ([{"port": 8080}], "TCP/8080"),  # protocol defaults to TCP
        ([{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}], "UDP/53, TCP/53"),
        ([{"protocol": "TCP", "port": 8000, "endPort": 8100}], "TCP/8000-8100"),
        ([{"protocol": "UDP"}], "all UDP ports"),
        ([{"protocol": "SCTP", "port": 9}], "SCTP/9"),
        ([{"port": "http"}], "TCP/8080 (named port http)"),
    ],
)
def test_ports(ports: list[dict[str, Any]], words: str) -> None:
    target = pod(ports=[{"name": "http", "containerPort": 8080}])
    assert peers(paths([target], ingress({"ports": ports}))) == [("anywhere", words)]


def test_a_named_port_the_pod_does_not_have_allows_nothing() -> None:
    target = pod(ports=[{"name": "metrics", "containerPort": 9090}])
    assert paths([target], ingress({"ports": [{"port": "http"}]})) == []


def test_a_named_port_must_match_the_protocol_too() -> None:
    target = pod(ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    assert paths([target], ingress({"ports": [{"port": "dns"}]})) == []
    found = paths([target], ingress({"ports": [{"port": "dns", "protocol": "UDP"}]}))
    assert peers(found) == [("anywhere", "UDP/53 (named port dns)")]


def test_an_egress_named_port_is_the_peers_and_stays_open() -> None:
    spec = {**DENY_ALL, "egress": [{"ports": [{"port": "https"}]}]}
    assert peers(paths([pod()], spec), "egress") == [
        ("anywhere", "TCP/https (a named port of the peer)")
    ]


# -- several policies -------------------------------------------------------------------------


def test_policies_add_up() -> None:
    deny = policy("deny", DENY_ALL)
    allow = policy(
        "allow-web",
        {
            "podSelector": {"matchLabels": {"app": "api"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    found = paths([pod()], deny, allow)
    assert found == [
        Path(
            "ingress",
            f"{NS}/api-0",
            "pods app=web in namespace production",
            "all ports",
            (f"{NS}/allow-web",),
        )
    ]


def test_the_same_path_opened_by_two_policies_is_one_path_naming_both() -> None:
    rule = {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 80}]}
    found = paths([pod()], policy("b", ingress(rule)), policy("a", ingress(rule)))
    assert [(p.peer, p.policies) for p in found] == [
        ("pods app=web in namespace production", (f"{NS}/a", f"{NS}/b"))
    ]


BAD_SELECTOR = {"matchExpressions": [{"key": "a", "operator": "Near"}]}


def test_an_unreadable_policy_is_an_unknown_open_path_never_a_denial() -> None:
    bad = policy("weird", {"podSelector": BAD_SELECTOR, "policyTypes": ["Ingress"]})
    found = paths([pod()], policy("deny", DENY_ALL), bad)
    # It might select the pod and allow anything, either way: never trusted.
    assert [(p.direction, p.ports, p.policies) for p in found] == [
        ("ingress", "unknown", (f"{NS}/weird",)),
        ("egress", "unknown", (f"{NS}/weird",)),
    ]
    assert "cannot be read" in found[0].peer
    # Alone, it isolates nothing irkit can vouch for: the pod is open both ways.
    assert [p.peer for p in paths([pod()], bad)] == ["anywhere", "anywhere"]


def test_an_unreadable_rule_is_an_unknown_path_of_its_direction_only() -> None:
    bad = policy(
        "weird", {"podSelector": {}, "ingress": [{"from": [{"podSelector": BAD_SELECTOR}]}]}
    )
    found = paths([pod()], bad)
    assert [(p.direction, p.ports, p.policies) for p in found] == [
        ("ingress", "unknown", (f"{NS}/weird",)),
        ("egress", "all ports", ()),
    ]


# -- DNS and words ----------------------------------------------------------------------------


def _egress(*rules: dict[str, Any]) -> list[Path]:
    return paths([pod()], {**DENY_ALL, "egress": list(rules)})


def test_isolates_dns_rule_is_dns() -> None:
    (path,) = _egress(DNS_RULE)
    assert path.peer == "kube-dns (pods k8s-app=kube-dns in namespace kube-system)"
    assert path.ports == "UDP/53, TCP/53" and is_dns(path)


def test_dns_pods_on_every_port_are_not_just_dns() -> None:
    (path,) = _egress({"to": DNS_RULE["to"]})
    assert not is_dns(path)


def test_kube_dns_labelled_pods_in_any_namespace_are_not_dns() -> None:
    # Anyone who can create a pod labelled k8s-app=kube-dns in their namespace would be reachable.
    peer = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    (path,) = _egress({"to": [peer], "ports": DNS_RULE["ports"]})
    assert not is_dns(path)


def test_port_53_anywhere_is_not_dns() -> None:
    (path,) = _egress({"ports": DNS_RULE["ports"]})
    assert not is_dns(path)


def test_ingress_is_never_dns() -> None:
    assert not is_dns(
        Path(
            "ingress",
            "a/b",
            "kube-dns (pods k8s-app=kube-dns in namespace kube-system)",
            "UDP/53",
            ("a/p",),
        )
    )


def test_describe_names_the_pod_peer_ports_and_policy() -> None:
    (path,) = _egress(DNS_RULE)
    assert describe(path) == (
        f"{NS}/api-0 can send traffic to kube-dns (pods k8s-app=kube-dns in namespace kube-system)"
        f" on UDP/53, TCP/53 (allowed by NetworkPolicy {NS}/p0)"
    )
    default = paths([pod()])[0]
    assert describe(default).startswith(
        f"{NS}/api-0 accepts traffic from anywhere on all ports: no NetworkPolicy"
    )
