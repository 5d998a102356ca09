"""Which network paths in and out of some pods stay open under every NetworkPolicy in force.

A drill's ``contained`` check, and a responder reading it, need the answer Kubernetes itself
would give, not irkit's own view of the policy it created: NetworkPolicies add up, so another
team's allow rule still lets traffic reach a "quarantined" pod. This module evaluates the
NetworkPolicy API's semantics over plain API objects (pure, no I/O) and words each open path so
a person can act on it. The rules, from https://kubernetes.io/docs/concepts/services-networking/
network-policies/ and the networking/v1 API reference (cited as [docs] below):

- a policy applies to pods of its own namespace that its ``podSelector`` selects (``{}``: all);
- a pod is isolated for a direction iff some policy selecting it has that policy type; then
  only the union of those policies' rules is allowed, and an empty rule list allows nothing;
  a pod no policy isolates for a direction is open that way (the default allow-all);
- ``policyTypes`` omitted: Ingress always, Egress iff the policy has egress rules [docs:
  "If this field is not specified, it will default based on the existence of ingress or egress
  rules"; the API server's defaulting adds Egress when ``len(egress) != 0``];
- a rule allows traffic matching one of its peers AND one of its ports; no (or empty) peers
  means every peer, no (or empty) ports every port; so the rule ``{}`` allows everything;
- a peer: ``podSelector`` alone = those pods in the policy's namespace; ``namespaceSelector``
  alone = every pod in those namespaces; both = those pods in those namespaces (AND);
  ``ipBlock`` = the CIDR less its ``except`` ranges;
- a port: protocol TCP unless given; no port = every port of that protocol; ``endPort`` makes a
  range; a named port is resolved on the destination: the selected pod's container port of that
  name and protocol (ingress), the peer's (egress, which irkit cannot know: reported as is);
- hostNetwork pods: the docs leave NetworkPolicy behaviour for them undefined and most
  plugins do not apply policies to them, so every path is reported open (never assumed shut).

A path that a policy only opens towards peers the other side may still refuse (its own ingress
policy) is reported anyway: containment is about what the compromised pods' side allows.
Cluster data is untrusted: a policy irkit cannot read is reported as an unknown open path
(conservatively), never raised on and never trusted to deny.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from irkit.model.reach_words import (
    ANYWHERE,
    DNS_PORTS,
    DNS_PREFIX,
    NAME_LABEL,
    Unreadable,
    namespace_words,
    port_words,
    selector,
)
from irkit.model.selectors import LabelSelector

INGRESS, EGRESS = "ingress", "egress"
_PEERS_KEY = {INGRESS: "from", EGRESS: "to"}
_TYPE = {INGRESS: "Ingress", EGRESS: "Egress"}


@dataclass(frozen=True)
class Path:
    """One way traffic may still flow to or from a compromised pod."""

    direction: str  # "ingress" | "egress"
    pod: str  # "ns/name" of the compromised pod the path reaches
    peer: str  # who, in words: "pods app=web in namespace shop", "10.0.0.0/8", "anywhere"
    ports: str  # "all ports" or "TCP/443, UDP/53"
    policies: tuple[str, ...]  # "ns/name" of the policies opening it; () = no policy isolates
    #                            the pod that way, so Kubernetes' default (allow all) holds


def open_paths(
    pods: Sequence[Mapping[str, Any]],
    policies: Sequence[Mapping[str, Any]],
    namespaces: Sequence[Mapping[str, Any]],
) -> list[Path]:
    """Every open path in or out of ``pods`` (API objects) under ``policies`` (every
    NetworkPolicy in the cluster); ``namespaces`` (every Namespace) resolve namespaceSelectors.
    ``[]`` means contained. Paths come per pod, ingress before egress, in policy-name order."""
    ns_labels = _Namespaces(_namespace_labels(namespaces))
    # Only the pods' own namespaces' policies can select them: the others are never parsed.
    wanted = {str((pod.get("metadata") or {}).get("namespace") or "") for pod in pods}
    mine = [p for p in policies if _policy_ref(p).partition("/")[0] in wanted]
    parsed = [_parse(p) for p in sorted(mine, key=_policy_ref)]
    found: dict[tuple[str, str, str, str], list[str]] = {}
    for pod in pods:
        for path in _pod_paths(pod, parsed, ns_labels):
            key = (path.direction, path.pod, path.peer, path.ports)
            refs = found.setdefault(key, [])
            refs.extend(r for r in path.policies if r not in refs)
    return [Path(d, pod, peer, ports, tuple(refs)) for (d, pod, peer, ports), refs in found.items()]


def is_dns(path: Path) -> bool:
    """Egress to port 53 (UDP and/or TCP) of kube-dns pods in kube-system, and nothing else:
    the one opening a quarantine may keep on purpose (``isolate --allow-dns``)."""
    if path.direction != EGRESS or not path.peer.startswith(DNS_PREFIX):
        return False
    ports = path.ports.split(", ")
    return bool(ports) and all(p in DNS_PORTS for p in ports)


def describe(path: Path) -> str:
    """One sentence for a responder: who can reach the pod (or whom it can reach), and why."""
    if path.direction == INGRESS:
        flow = f"{path.pod} accepts traffic from {path.peer} on {path.ports}"
    else:
        flow = f"{path.pod} can send traffic to {path.peer} on {path.ports}"
    if not path.policies:
        return (
            f"{flow}: no NetworkPolicy selects it for {path.direction}, so Kubernetes "
            "allows everything that way"
        )
    names = ", ".join(path.policies)
    return f"{flow} (allowed by NetworkPolicy {names})"


# -- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Policy:
    ref: str  # ns/name
    namespace: str
    selects: LabelSelector
    types: frozenset[str]  # "ingress", "egress"
    rules: Mapping[str, tuple[Mapping[str, Any], ...]]


@dataclass(frozen=True)
class _Broken:
    ref: str
    namespace: str
    why: str


def _policy_ref(policy: Mapping[str, Any]) -> str:
    meta = policy.get("metadata") if isinstance(policy, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _parse(policy: Mapping[str, Any]) -> _Policy | _Broken:
    ref = _policy_ref(policy)
    namespace = ref.partition("/")[0]
    try:
        spec = _mapping(policy.get("spec") or {}, "spec")
        rules = {d: tuple(_rules(spec, d)) for d in (INGRESS, EGRESS)}
        declared = spec.get("policyTypes")
        if declared:
            if not isinstance(declared, list) or not set(declared) <= set(_TYPE.values()):
                raise Unreadable(f"policyTypes {declared!r} is not a list of Ingress/Egress")
            types = frozenset(d for d in (INGRESS, EGRESS) if _TYPE[d] in declared)
        else:  # the API server's defaulting [docs]: Ingress, and Egress iff egress rules exist
            types = frozenset({INGRESS, EGRESS} if rules[EGRESS] else {INGRESS})
        return _Policy(ref, namespace, selector(spec.get("podSelector")), types, rules)
    except Unreadable as e:
        return _Broken(ref, namespace, str(e))


def _rules(spec: Mapping[str, Any], direction: str) -> list[Mapping[str, Any]]:
    rules = spec.get(direction) or []  # missing and [] alike: no rule, nothing allowed
    if not isinstance(rules, list):
        raise Unreadable(f"{direction} is not a list")
    return [_mapping(rule, f"an {direction} rule") for rule in rules]


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Unreadable(f"{what} is not a mapping")
    return value


@dataclass
class _Namespaces:
    """Every namespace's labels, and each namespaceSelector's words once worked out: the same
    selector comes back for every pod and rule."""

    labels: Mapping[str, Mapping[str, str]]
    seen: dict[str, tuple[str, set[str] | None]] = field(default_factory=dict)

    def where(self, sel: LabelSelector) -> tuple[str, set[str] | None]:
        key = str(sel)
        if key not in self.seen:
            self.seen[key] = namespace_words(sel, self.labels)
        return self.seen[key]


def _namespace_labels(namespaces: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for ns in namespaces:
        meta = ns.get("metadata") or {}
        name = str(meta.get("name") or "")
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        # The API server sets this label on every namespace (since 1.21) [docs: "The Kubernetes
        # control plane sets an immutable label kubernetes.io/metadata.name on all namespaces"].
        labels.setdefault(NAME_LABEL, name)
        out[name] = labels
    return out


def _pod_paths(
    pod: Mapping[str, Any],
    policies: Sequence[_Policy | _Broken],
    ns_labels: _Namespaces,
) -> list[Path]:
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    ref = f"{namespace}/{meta.get('name', '')}"
    if (pod.get("spec") or {}).get("hostNetwork"):
        peer = f"{ANYWHERE} (a hostNetwork pod: NetworkPolicies do not apply to it)"
        return [Path(d, ref, peer, "all ports", ()) for d in (INGRESS, EGRESS)]
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    mine = [p for p in policies if p.namespace == namespace]
    selecting = [p for p in mine if isinstance(p, _Policy) and p.selects.matches(labels)]
    broken = [p for p in mine if isinstance(p, _Broken)]
    paths: list[Path] = []
    for direction in (INGRESS, EGRESS):
        isolating = [p for p in selecting if direction in p.types]
        if not isolating:  # the default [docs]: a pod no policy isolates is open that way
            paths.append(Path(direction, ref, ANYWHERE, "all ports", ()))
            continue
        for policy in isolating:
            for rule in policy.rules[direction]:
                paths.extend(_rule_paths(rule, direction, policy, pod, ref, ns_labels))
        for bad in broken:  # it may select this pod and allow anything: never trusted
            peer = f"unknown: NetworkPolicy {bad.ref} cannot be read ({bad.why})"
            paths.append(Path(direction, ref, peer, "unknown", (bad.ref,)))
    return paths


def _rule_paths(
    rule: Mapping[str, Any],
    direction: str,
    policy: _Policy,
    pod: Mapping[str, Any],
    ref: str,
    ns_labels: _Namespaces,
) -> list[Path]:
    try:
        ports = port_words(rule.get("ports"), pod, direction)
        peers = rule.get(_PEERS_KEY[direction]) or []  # none: every peer [docs]
        if not isinstance(peers, list):
            raise Unreadable(f"{_PEERS_KEY[direction]} is not a list")
        words = [_peer_words(p, policy.namespace, ns_labels) for p in peers] or [ANYWHERE]
    except Unreadable as e:
        peer = f"unknown: a rule of NetworkPolicy {policy.ref} cannot be read ({e})"
        return [Path(direction, ref, peer, "unknown", (policy.ref,))]
    if ports is None:  # every port names a port this pod does not have: nothing allowed
        return []
    return [Path(direction, ref, w, ports, (policy.ref,)) for w in words if w is not None]


def _peer_words(peer: Any, policy_ns: str, ns_labels: _Namespaces) -> str | None:
    """The peer in words, or None when it can match nothing (an ipBlock all excepted)."""
    peer = _mapping(peer, "a peer")
    if "ipBlock" in peer:
        return _ip_block_words(_mapping(peer["ipBlock"], "ipBlock"))
    if peer.get("podSelector") is None and peer.get("namespaceSelector") is None:
        raise Unreadable("a peer with neither podSelector, namespaceSelector nor ipBlock")
    pods = selector(peer.get("podSelector"))
    who = f"pods {pods}" if pods.requirements else "any pod"
    pinned: set[str] | None = {policy_ns}
    if peer.get("namespaceSelector") is None:  # podSelector alone: the policy's own namespace
        where = f"in namespace {policy_ns}"
    else:
        where, pinned = ns_labels.where(selector(peer["namespaceSelector"]))
    if pinned == {"kube-system"} and _is_kube_dns(pods):
        return f"{DNS_PREFIX}{who} {where})"
    return f"{who} {where}"


def _is_kube_dns(pods: LabelSelector) -> bool:
    """Pods selected by k8s-app=kube-dns (or in (kube-dns, coredns)): the cluster DNS."""
    return any(
        r.key == "k8s-app" and r.op in ("=", "in") and set(r.values) <= {"kube-dns", "coredns"}
        for r in pods.requirements
    )


def _ip_block_words(block: Mapping[str, Any]) -> str | None:
    try:
        cidr = ipaddress.ip_network(str(block.get("cidr")), strict=False)
        excepted = [ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or []]
    except ValueError as e:
        raise Unreadable(f"ipBlock: {e}") from None
    if any(cidr.version == e.version and cidr.subnet_of(e) for e in excepted):  # type: ignore[arg-type]
        return None
    text = str(cidr)
    if cidr.prefixlen == 0:
        text += f" (any IPv{cidr.version} address)"
    if excepted:
        text += " except " + ", ".join(str(e) for e in excepted)
    return text
