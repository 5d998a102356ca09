"""What a command acts on: ``-n NS`` plus ``kind/NAME`` or ``-l SELECTOR``, kubectl-style.

Parsing is pure and strict: an unknown kind, a bad name or a bad selector is a UsageError that
says what is accepted, before anything talks to the cluster.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from irkit.errors import UsageError
from irkit.hints import nearest
from irkit.model.kinds import by_resource_arg
from irkit.model.selectors import SelectorError, parse_label_selector

WORKLOAD_KINDS = {
    "pods": "pod",
    "deployments": "deployment",
    "statefulsets": "statefulset",
    "daemonsets": "daemonset",
    "replicasets": "replicaset",
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class Target:
    namespace: str
    kind: str | None = None  # plural resource name: pods, deployments, ...; None with a selector
    name: str | None = None
    selector: str | None = None

    @property
    def is_selector(self) -> bool:
        return self.selector is not None

    @property
    def slug(self) -> str:
        """A DNS-label-safe short name for objects irkit creates about this target."""
        if self.selector is not None:
            digest = hashlib.sha256(self.selector.encode()).hexdigest()[:10]
            return f"selector-{digest}"
        assert self.kind is not None and self.name is not None
        singular = WORKLOAD_KINDS[self.kind]
        slug = f"{singular}-{self.name}".replace(".", "-")
        if len(slug) > 40:  # keep room for prefixes; the hash keeps it unique
            slug = f"{slug[:29]}-{hashlib.sha256(slug.encode()).hexdigest()[:10]}"
        return slug

    def __str__(self) -> str:
        what = (
            f"-l {self.selector}"
            if self.selector is not None
            else f"{WORKLOAD_KINDS[self.kind or 'pods']}/{self.name}"
        )
        return f"{what} -n {self.namespace}"


def parse_target(namespace: str, ref: str | None, selector: str | None) -> Target:
    if not namespace or not _DNS_LABEL.match(namespace):
        raise UsageError(f"invalid namespace {namespace!r}: a DNS label (lower-case, digits, '-')")
    if (ref is None) == (selector is None):
        raise UsageError(
            "give exactly one target: KIND/NAME (pod, deployment, statefulset, daemonset, "
            "replicaset) or -l SELECTOR"
        )
    if selector is not None:
        try:
            parse_label_selector(selector)
        except SelectorError as e:
            raise UsageError(f"invalid label selector {selector!r}: {e}") from None
        if not selector.strip():
            raise UsageError("an empty label selector would select every pod in the namespace")
        return Target(namespace, selector=selector)
    assert ref is not None
    kind_text, slash, name = ref.partition("/")
    rt = by_resource_arg(kind_text) if slash else None
    if rt is None or rt.plural not in WORKLOAD_KINDS:
        hint = nearest(kind_text, [*WORKLOAD_KINDS.values(), *WORKLOAD_KINDS]) if slash else ""
        raise UsageError(
            f"unknown target {ref!r}{hint}: use pod/NAME, deployment/NAME, statefulset/NAME, "
            "daemonset/NAME, replicaset/NAME or -l SELECTOR"
        )
    if not _DNS_SUBDOMAIN.match(name):
        raise UsageError(f"invalid {WORKLOAD_KINDS[rt.plural]} name {name!r}")
    return Target(namespace, kind=rt.plural, name=name)


def selector_to_string(selector: dict[str, Any] | None) -> str:
    """A metav1.LabelSelector as label-selector text (matchLabels and matchExpressions)."""
    if not selector:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        terms.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[op]
        )
    return ",".join(terms)


def selector_to_object(text: str) -> dict[str, Any]:
    """Label-selector text as a metav1.LabelSelector (for a NetworkPolicy's podSelector)."""
    parsed = parse_label_selector(text)
    match_labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    ops = {"in": "In", "notin": "NotIn", "exists": "Exists", "!": "DoesNotExist"}
    for req in parsed.requirements:
        if req.op == "=":
            match_labels[req.key] = req.values[0]
        elif req.op == "!=":
            expressions.append({"key": req.key, "operator": "NotIn", "values": list(req.values)})
        else:
            expr: dict[str, Any] = {"key": req.key, "operator": ops[req.op]}
            if req.values:
                expr["values"] = list(req.values)
            expressions.append(expr)
    out: dict[str, Any] = {}
    if match_labels:
        out["matchLabels"] = match_labels
    if expressions:
        out["matchExpressions"] = expressions
    return out
