"""The quarantine NetworkPolicy: built from the options, and read back from other policies.

Pure functions over plain dicts. NetworkPolicies are additive: a pod is reachable if ANY policy
that selects it allows the traffic, which is why ``leaky_policies`` exists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from irkit.errors import UsageError
from irkit.model.selectors import SelectorError, label_selector_from_object
from irkit.model.target import selector_to_object

MANAGED_BY = "app.kubernetes.io/managed-by"
QUARANTINE_LABEL = "irkit.io/quarantine"
POLICY_PREFIX = "irkit-quarantine-"
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


@dataclass(frozen=True)
class AllowList:
    """What a quarantined pod may still talk to. Empty = nothing in, nothing out."""

    dns: bool = False
    cidrs: tuple[str, ...] = ()  # both directions: e.g. a forensic workstation
    peers: tuple[str, ...] = ()  # NAMESPACE[/SELECTOR], both directions: forensic collectors

    def check(self) -> AllowList:
        for cidr in self.cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise UsageError(
                    f"--allow-cidr {cidr!r} is not an IP network (e.g. 10.0.0.5/32)"
                ) from None
        for peer in self.peers:
            _peer(peer)
        return self


def _peer(spec: str) -> dict[str, Any]:
    namespace, _, selector = spec.partition("/")
    if not namespace:
        raise UsageError(f"--allow-to {spec!r}: expected NAMESPACE or NAMESPACE/SELECTOR")
    peer: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    }
    try:
        peer["podSelector"] = selector_to_object(selector) if selector else {}
    except SelectorError as e:
        raise UsageError(f"--allow-to {spec!r}: bad selector: {e}") from None
    return peer


def quarantine_spec(pod_selector: dict[str, Any], allow: AllowList) -> dict[str, Any]:
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    if allow.dns:
        egress.append({"to": [DNS_PEER], "ports": DNS_PORTS})
    for cidr in allow.cidrs:
        block = {"ipBlock": {"cidr": str(ipaddress.ip_network(cidr, strict=False))}}
        ingress.append({"from": [block]})
        egress.append({"to": [block]})
    for peer in allow.peers:
        ingress.append({"from": [_peer(peer)]})
        egress.append({"to": [_peer(peer)]})
    spec: dict[str, Any] = {"podSelector": pod_selector, "policyTypes": ["Ingress", "Egress"]}
    # Empty rule lists are left out, as the API server leaves them out of what it returns.
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return spec


def same_spec(a: Any, b: Any) -> bool:
    """Equal up to what API servers drop or default (empty lists and maps, TCP protocol)."""
    return bool(_normal(a) == _normal(b))


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items() if v not in ([], None)}
        if out.get("protocol") == "TCP" and "port" in out:
            out.pop("protocol")
        return out
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def is_ours(policy: dict[str, Any]) -> bool:
    return (policy["metadata"].get("labels") or {}).get(MANAGED_BY) == "irkit"


def leaky_policies(
    policies: Iterable[dict[str, Any]], pod_labels: Iterable[dict[str, str]], own_name: str
) -> list[str]:
    """Other policies that select any of these pods and allow some traffic, as warnings."""
    labels = list(pod_labels)
    out = []
    for policy in policies:
        name = policy["metadata"]["name"]
        # Not skipped for the managed-by label: anyone can set it on an allow-all policy, and
        # irkit's own deny-all policies allow nothing, so they never warn.
        if name == own_name:
            continue
        spec = policy.get("spec") or {}
        try:
            selector = label_selector_from_object(spec.get("podSelector"))
        except SelectorError:
            continue
        if not any(selector.matches(lbl) for lbl in labels):
            continue
        types = spec.get("policyTypes") or (
            ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
        )
        allows = [
            d
            for d, key in (("ingress", "ingress"), ("egress", "egress"))
            if d.capitalize() in types and spec.get(key)
        ]
        if allows:
            out.append(
                f"NetworkPolicy {name!r} also selects these pods and allows "
                f"{' and '.join(allows)}; policies add up, so that traffic still flows"
            )
    return out
