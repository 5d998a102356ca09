"""The quarantine NetworkPolicy: built from the options, and read back from other policies.

Pure functions over plain dicts. NetworkPolicies are additive: a pod is reachable if ANY policy
that selects it allows the traffic, which is why ``find_leaks`` exists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from irkit.errors import UsageError
from irkit.model.selectors import SelectorError, label_selector_from_object
from irkit.model.target import selector_to_object, selector_to_string

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
                    f"{cidr!r} is not an IP network (e.g. 10.0.0.5/32)", option="allow_cidr"
                ) from None
        for peer in self.peers:
            _peer(peer)
        return self


def _peer(spec: str) -> dict[str, Any]:
    namespace, _, selector = spec.partition("/")
    if not namespace:
        raise UsageError(f"{spec!r}: expected NAMESPACE or NAMESPACE/SELECTOR", option="allow_to")
    peer: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    }
    try:
        peer["podSelector"] = selector_to_object(selector) if selector else {}
    except SelectorError as e:
        raise UsageError(f"{spec!r}: bad selector: {e}", option="allow_to") from None
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


Direction = Literal["ingress", "egress"]
_DIRECTIONS: tuple[tuple[Direction, str], ...] = (("ingress", "from"), ("egress", "to"))


@dataclass(frozen=True)
class Leak:
    """Another NetworkPolicy that selects quarantined pods and still lets traffic through."""

    policy: str
    direction: Direction
    why: str  # e.g. "from pods app=frontend on 8080/TCP"

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "direction": self.direction, "why": self.why}


def find_leaks(
    policies: Iterable[dict[str, Any]], pod_labels: Iterable[dict[str, str]], own_name: str
) -> list[Leak]:
    """Other policies that select any of these pods and allow some traffic: one Leak per policy
    and direction. ``pod_labels``: the pods' labels as they are once isolated."""
    labels = list(pod_labels)
    out = []
    for policy in policies:
        name = str(policy["metadata"]["name"])
        # Not skipped for the managed-by label: anyone can set it on an allow-all policy, and
        # irkit's own deny-all policies allow nothing, so they never leak.
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
        for direction, peers in _DIRECTIONS:
            rules = spec.get(direction)
            if direction.capitalize() in types and rules and isinstance(rules, list):
                why = "; ".join(_rule_text(rule, peers) for rule in rules)
                out.append(Leak(name, direction, _cut(why)))
    return out


def leak_warnings(leaks: Iterable[Leak]) -> list[str]:
    """One sentence per leaking policy, for people."""
    by_policy: dict[str, list[Leak]] = {}
    for leak in leaks:
        by_policy.setdefault(leak.policy, []).append(leak)
    return [
        f"NetworkPolicy {name!r} also selects these pods and allows "
        + " and ".join(f"{leak.direction} {leak.why}" for leak in found)
        + "; policies add up, so that traffic still flows"
        for name, found in by_policy.items()
    ]


def _rule_text(rule: Any, peers_key: str) -> str:
    """What one ingress/egress rule lets through, in words. Rules are cluster data: anything
    that is not the expected shape is described as unreadable, never trusted or raised on."""
    if not isinstance(rule, dict):
        return "(a rule irkit cannot read)"
    side = "from" if peers_key == "from" else "to"
    peers = rule.get(peers_key)
    text = f"{side} anywhere"
    if isinstance(peers, list) and peers:
        text = f"{side} " + ", ".join(_peer_text(p) for p in peers)
    ports = rule.get("ports")
    if isinstance(ports, list) and ports:
        text += " on " + ", ".join(_port_text(p) for p in ports)
    return text


def _peer_text(peer: Any) -> str:
    if not isinstance(peer, dict):
        return "(unreadable peer)"
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        return f"{block.get('cidr')}" + (" except some" if block.get("except") else "")
    parts = []
    if "namespaceSelector" in peer:
        sel = _selector_text(peer["namespaceSelector"])
        parts.append(f"namespaces {sel}" if sel else "all namespaces")
    if "podSelector" in peer:
        sel = _selector_text(peer["podSelector"])
        parts.append(f"pods {sel}" if sel else "all pods")
    return " / ".join(parts) or "(empty peer)"


def _selector_text(selector: Any) -> str:
    try:
        return selector_to_string(selector)
    except (KeyError, TypeError, AttributeError):
        return "(a selector irkit cannot read)"


def _port_text(port: Any) -> str:
    if not isinstance(port, dict):
        return "(unreadable port)"
    return f"{port.get('port', 'all ports')}/{port.get('protocol', 'TCP')}"


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
