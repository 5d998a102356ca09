"""Everything a runbook will ask of the Kubernetes API, worked out before the incident.

Each step's needs come from its action's spec (``irkit.runbook.permissions``), narrowed by
what its ``with:`` says: the namespace, the target's kind, and options such as ``detach`` or
``force``. A value that is a literal, or a template over ``params`` only, is rendered with the
given params. A value that depends on the alert, on earlier steps' outputs or on the incident
is unknown until then, and irkit assumes the widest case: every namespace (``*``), every
target kind, the option on. Each assumption is said in words (``StepScope.assumptions``),
never made silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from irkit.actions.needs import SELECTOR, Permission, sort_key
from irkit.actions.registry import spec_for
from irkit.errors import UsageError
from irkit.model.kinds import by_name
from irkit.model.target import parse_target
from irkit.runbook.model import Action, Runbook, Step
from irkit.runbook.permissions import needs, options_of
from irkit.runbook.templating import TemplateFailure, is_template, references, render_value

CLUSTER = ""  # a cluster-scoped resource (nodes, namespaces, clusterroles)
ALL_NAMESPACES = "*"  # a namespaced resource in every namespace: by design, or not known yet
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


@dataclass(frozen=True)
class StepScope:
    """What is known about one step before the incident. None: known only during it."""

    step: str
    action: Action
    namespace: str | None
    kind: str | None  # plural kind of ``with.target``, or SELECTOR for ``with.selector``
    options: Mapping[str, bool | None]
    assumptions: tuple[str, ...] = ()
    namespace_unknown: str = ""  # why ``namespace`` is None


@dataclass(frozen=True)
class ResolvedPermission:
    """One SelfSubjectAccessReview to ask, one RBAC rule to grant."""

    permission: Permission  # ``namespaced``: the resource's scope, as in irkit.model.kinds
    namespace: str  # CLUSTER, ALL_NAMESPACES or a namespace
    steps: tuple[str, ...]
    notes: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()  # why the namespace is ALL_NAMESPACES when one would do

    @property
    def review_namespace(self) -> str:
        """The namespace of the access review: "" asks about every namespace (or the cluster)."""
        return "" if self.namespace in (CLUSTER, ALL_NAMESPACES) else self.namespace

    @property
    def where(self) -> str:
        """For a table column: ``(cluster)``, ``* (all)`` or the namespace."""
        if self.namespace == CLUSTER:
            return "(cluster)"
        return "* (all)" if self.namespace == ALL_NAMESPACES else self.namespace

    @property
    def scope(self) -> str:
        """For a sentence: ``in production``, ``cluster-wide``, ``in every namespace``."""
        if self.namespace == CLUSTER:
            return "cluster-wide"
        return "in every namespace" if self.namespace == ALL_NAMESPACES else f"in {self.namespace}"


def needed_permissions(runbook: Runbook, params: Mapping[str, Any]) -> list[ResolvedPermission]:
    """Every permission the runbook's steps need (also steps whose ``when:`` may skip them)."""
    return combine(analyse(runbook, params))


def analyse(runbook: Runbook, params: Mapping[str, Any]) -> list[StepScope]:
    """``params``: the values known now (``--set`` and plain defaults), typed. A param left out
    is unknown: its default is a template over the alert, or it is required and not given."""
    unknown = {
        name: (
            f"param {name!r} defaults to alert data"
            if is_template(p.default)
            else f"param {name!r} has no value (--set {name}=...)"
        )
        for name, p in runbook.params.items()
        if params.get(name) is None
    }
    known = {k: v for k, v in params.items() if v is not None}
    return [step_scope(step, known, unknown) for step in runbook.steps]


def step_scope(
    step: Step, params: Mapping[str, Any], unknown: Mapping[str, str] | None = None
) -> StepScope:
    fields = spec_for(step.action).inputs.model_fields
    late = unknown or {}
    assumptions: list[str] = []
    namespace: str | None = None
    why_ns = ""
    if "namespace" in fields:
        value, why_ns = _known(step, "namespace", params, late)
        if why_ns:
            assumptions.append(f"{why_ns}: its namespaced permissions are asked for everywhere")
        else:
            namespace = _namespace(step, value)
    kind, why = _target_kind(step, params, late, namespace)
    if why:
        assumptions.append(f"{why}: permissions for every target kind are included")
    options: dict[str, bool | None] = {}
    for name in sorted(options_of(step.action)):
        value, why = _known(step, name, params, late)
        if why:
            assumptions.append(f"{why}: assumed on")
            options[name] = None
        else:
            options[name] = _flag(step, name, fields[name].default if value is None else value)
    return StepScope(step.id, step.action, namespace, kind, options, tuple(assumptions), why_ns)


def _target_kind(
    step: Step, params: Mapping[str, Any], late: Mapping[str, str], namespace: str | None
) -> tuple[str | None, str]:
    """SELECTOR, a plural kind, or None with why. An empty rendered value means "not given"."""
    if "target" not in spec_for(step.action).inputs.model_fields:
        return None, ""
    if step.with_.get("target") is None and step.with_.get("selector") is not None:
        return SELECTOR, ""  # whatever the alert puts in it, it is a selector
    selector, why_selector = _known(step, "selector", params, late)
    if selector not in (None, "") and not why_selector:
        return SELECTOR, ""
    target, why_target = _known(step, "target", params, late)
    if target not in (None, "") and not why_target:
        return _kind(step, target, namespace), ""
    raw = step.with_.get("target")
    kind_text, slash, _ = str(raw).partition("/")
    if why_target and slash and not is_template(kind_text) and "{" not in kind_text:
        # pod/{{ alert... }}: the name comes later, the kind is written down
        return _kind(step, f"{kind_text}/x", namespace), ""
    return None, why_target or why_selector


def combine(scopes: list[StepScope]) -> list[ResolvedPermission]:
    found: dict[tuple[Permission, str], _Entry] = {}
    for scope in scopes:
        for need in needs(scope.action, scope.kind, scope.options):
            perm, namespace, why = _placed(need.permission, scope)
            entry = found.setdefault((perm, namespace), _Entry())
            entry.add(scope.step, need.note, why)
    # A grant in every namespace covers the same permission in one namespace.
    for perm, namespace in list(found):
        everywhere = found.get((perm, ALL_NAMESPACES))
        if namespace not in (CLUSTER, ALL_NAMESPACES) and everywhere is not None:
            everywhere.merge(found.pop((perm, namespace)))
    out = [
        ResolvedPermission(perm, ns, tuple(e.steps), tuple(e.notes), tuple(e.unresolved))
        for (perm, ns), e in found.items()
    ]
    return sorted(out, key=lambda r: (_rank(r.namespace), r.namespace, sort_key(r.permission)))


@dataclass
class _Entry:
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    def add(self, step: str, note: str, why: str) -> None:
        for items, item in ((self.steps, step), (self.notes, note), (self.unresolved, why)):
            if item and item not in items:
                items.append(item)

    def merge(self, other: _Entry) -> None:
        for step in other.steps:
            self.add(step, "", "")
        for note in other.notes:
            self.add("", note, "")


def _placed(perm: Permission, scope: StepScope) -> tuple[Permission, str, str]:
    rt = by_name(perm.resource)
    namespaced = rt is not None and rt.namespaced
    base = replace(perm, namespaced=namespaced)
    if not namespaced:
        return base, CLUSTER, ""
    if not perm.namespaced:  # across all namespaces by design
        return base, ALL_NAMESPACES, ""
    if scope.namespace is None:
        return base, ALL_NAMESPACES, scope.namespace_unknown
    return base, scope.namespace, ""


def _rank(namespace: str) -> int:
    return {CLUSTER: 0, ALL_NAMESPACES: 1}.get(namespace, 2)


def _known(
    step: Step, key: str, params: Mapping[str, Any], late: Mapping[str, str]
) -> tuple[Any, str]:
    """``with.<key>`` rendered when it can be now, else ``(None, why not)``."""
    raw = step.with_.get(key)
    if not is_template(raw):
        return raw, ""
    where = f"step {step.id!r}: with.{key}"
    try:
        refs = list(references(str(raw)))
    except TemplateFailure as e:
        raise UsageError(f"{where}: {e}") from None
    later = sorted({r[0] for r in refs} - {"params"})
    if later:
        return None, f"{where} comes from {' and '.join(later)}, known only during the incident"
    missing = sorted({r[1] for r in refs if len(r) > 1 and r[1] not in params})
    if missing:
        reasons = "; ".join(late.get(m, f"param {m!r} has no value") for m in missing)
        return None, f"{where} is not known yet ({reasons})"
    try:
        return render_value(raw, {"params": dict(params)}), ""
    except TemplateFailure as e:
        raise UsageError(f"{where}: {e}") from None


def _namespace(step: Step, value: Any) -> str:
    try:
        parse_target(str(value), None, "x")  # the namespace checks of every command
    except UsageError as e:
        raise UsageError(f"step {step.id!r}: with.namespace: {e}") from None
    return str(value)


def _kind(step: Step, value: Any, namespace: str | None) -> str:
    try:
        target = parse_target(namespace or "default", str(value), None)
    except UsageError as e:
        raise UsageError(f"step {step.id!r}: with.target: {e}") from None
    assert target.kind is not None
    return target.kind


def _flag(step: Step, name: str, value: Any) -> bool:
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        raise UsageError(f"step {step.id!r}: with.{name}: {value!r} is not a boolean") from None
