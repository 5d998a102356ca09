"""The words ``irkit.model.reach`` describes peers and ports with, and the reading of the
selector and port fields they come from (cluster data: anything malformed is ``Unreadable``).

Kept apart from the evaluation so the rules of who-may-talk-to-whom read on their own, and so
``is_dns`` and the peer texts share one spelling of the cluster DNS peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.model.selectors import LabelSelector, SelectorError, label_selector_from_object

ANYWHERE = "anywhere"
DNS_PREFIX = "kube-dns ("  # a peer text starting so is the cluster DNS (see reach._peer_words)
DNS_PORTS = frozenset({"UDP/53", "TCP/53"})
NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = ("TCP", "UDP", "SCTP")
_MOST_NAMES = 5  # namespaces named in a peer's words before "and N more"


class Unreadable(ValueError):
    """A part of a NetworkPolicy that irkit cannot read: what, in a few words."""


def selector(value: Any) -> LabelSelector:
    """A ``metav1.LabelSelector`` (None and ``{}`` select everything)."""
    if value is not None and not isinstance(value, Mapping):
        raise Unreadable("a selector is not a mapping")
    try:
        return label_selector_from_object(value)
    except (SelectorError, AttributeError, TypeError) as e:
        raise Unreadable(f"bad selector: {e}") from None


def namespace_words(
    sel: LabelSelector, ns_labels: Mapping[str, Mapping[str, str]]
) -> tuple[str, set[str] | None]:
    """Where a namespaceSelector reaches, in words, and the namespace names it is pinned to by
    their ``kubernetes.io/metadata.name`` label (None: any namespace with the labels, also ones
    created later)."""
    if not sel.requirements:
        return "in any namespace", None
    pinned: set[str] | None = None
    for r in sel.requirements:
        if r.key == NAME_LABEL and r.op in ("=", "in"):
            pinned = set(r.values) if pinned is None else pinned & set(r.values)
    if pinned is not None and len(pinned) == 1 and len(sel.requirements) == 1:
        return f"in namespace {next(iter(pinned))}", pinned
    names = sorted(n for n, labels in ns_labels.items() if sel.matches(labels))
    shown = ", ".join(names[:_MOST_NAMES]) or "none exist now"
    if len(names) > _MOST_NAMES:
        shown += f" and {len(names) - _MOST_NAMES} more"
    return f"in namespaces {sel} ({shown})", pinned


def port_words(ports: Any, pod: Mapping[str, Any], direction: str) -> str | None:
    """A rule's ports in words: "all ports", or "TCP/443, UDP/53, TCP/8000-8080". None when
    every entry names a port the pod does not have (ingress): the rule allows nothing here."""
    if not ports:  # missing or []: every port [docs]
        return "all ports"
    if not isinstance(ports, list):
        raise Unreadable("ports is not a list")
    words: list[str] = []
    for entry in ports:
        if not isinstance(entry, Mapping):
            raise Unreadable("a port is not a mapping")
        word = _port_word(entry, pod, direction)
        if word is not None and word not in words:
            words.append(word)
    return ", ".join(words) if words else None


def _port_word(entry: Mapping[str, Any], pod: Mapping[str, Any], direction: str) -> str | None:
    protocol = entry.get("protocol") or "TCP"  # the API's default [docs]
    if protocol not in PROTOCOLS:
        raise Unreadable(f"protocol {str(protocol)[:20]!r} is not TCP, UDP or SCTP")
    port, end = entry.get("port"), entry.get("endPort")
    if port is None:
        return f"all {protocol} ports"
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int | str):
        raise Unreadable("a port is neither a number nor a name")
    if isinstance(port, int):
        if end is None or end == port:
            return f"{protocol}/{port}"
        if isinstance(end, bool) or not isinstance(end, int) or end < port:
            raise Unreadable(f"endPort {str(end)[:20]!r} is not a number from port on")
        return f"{protocol}/{port}-{end}"
    if direction != "ingress":  # resolved against the destination pod, which irkit cannot know
        return f"{protocol}/{port[:63]} (a named port of the peer)"
    number = _named_port(pod, port, protocol)
    return None if number is None else f"{protocol}/{number} (named port {port})"


def _named_port(pod: Mapping[str, Any], name: str, protocol: str) -> int | None:
    """The pod's container port called ``name`` with this protocol (TCP unless given)."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        for cport in (container or {}).get("ports") or []:
            same_protocol = (cport.get("protocol") or "TCP") == protocol
            if cport.get("name") == name and same_protocol:
                number = cport.get("containerPort")
                return number if isinstance(number, int) else None
    return None
