"""``find_leaks``: which other policies keep traffic flowing to quarantined pods, and why."""

from __future__ import annotations

from typing import Any

from irkit.actions.netpol import (
    MANAGED_BY,
    QUARANTINE_LABEL,
    AllowList,
    Leak,
    find_leaks,
    leak_warnings,
    quarantine_spec,
)


def policy(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


ALLOW_ALL = {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}
PODS = [{"app": "api", QUARANTINE_LABEL: "inc-1"}]
OWN = "irkit-quarantine-deployment-api"


def test_an_allow_all_policy_labelled_as_irkits_still_leaks() -> None:
    disguised = policy("totally-irkit", ALLOW_ALL, {MANAGED_BY: "irkit"})
    leaks = find_leaks([disguised], PODS, OWN)
    assert leaks == [Leak("totally-irkit", "ingress", "from anywhere")]
    (warning,) = leak_warnings(leaks)
    assert "'totally-irkit'" in warning and "ingress from anywhere" in warning


def test_irkits_own_deny_all_policies_never_leak() -> None:
    deny = quarantine_spec({"matchLabels": {QUARANTINE_LABEL: "inc-1"}}, AllowList())
    other = policy("irkit-quarantine-pod-api-0", deny, {MANAGED_BY: "irkit"})
    assert find_leaks([other], PODS, OWN) == []


def test_each_direction_is_one_leak_that_says_what_gets_through() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "api"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            }
        ],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
    }
    leaks = find_leaks([policy("open", spec)], PODS, OWN)
    assert leaks == [
        Leak("open", "ingress", "from pods app=frontend on 8080/TCP"),
        Leak("open", "egress", "to 0.0.0.0/0"),
    ]
    (warning,) = leak_warnings(leaks)
    assert "ingress from pods app=frontend on 8080/TCP and egress to 0.0.0.0/0" in warning
    assert leaks[0].to_json() == {
        "policy": "open",
        "direction": "ingress",
        "why": "from pods app=frontend on 8080/TCP",
    }


def test_policies_that_do_not_select_the_pods_or_allow_nothing_do_not_leak() -> None:
    elsewhere = {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}
    deny_ingress = {"podSelector": {}, "policyTypes": ["Ingress"]}
    egress_unlisted = {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}
    policies = [policy("a", elsewhere), policy("b", deny_ingress), policy("c", egress_unlisted)]
    assert find_leaks(policies, PODS, OWN) == []


def test_hostile_rules_are_described_not_raised_on() -> None:
    spec = {
        "podSelector": {},
        "ingress": [
            "not a rule",
            {"from": [{"namespaceSelector": {"matchExpressions": [{"oops": 1}]}}, 7]},
        ],
    }
    (leak,) = find_leaks([policy("weird", spec)], PODS, OWN)
    assert leak.why == (
        "(a rule irkit cannot read); "
        "from namespaces (a selector irkit cannot read), (unreadable peer)"
    )
    many = {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "x" * 500}}]}]}
    (long,) = find_leaks([policy("long", many)], PODS, OWN)
    assert len(long.why) == 200 and long.why.endswith("…")
