"""What one runbook step needs of the Kubernetes API, from its action's spec.

The needs themselves are declared in each action's spec (``ActionSpec.needs``, built with
``irkit.actions.needs``) next to the code that makes the calls; this module asks them which
apply to a step: some depend on the target's kind or on a boolean ``with:`` option. Unknown
before the incident means "assume it": see ``irkit.runbook.needed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from irkit.actions.needs import Need, Permission, sort_key
from irkit.actions.registry import SPECS

PERMISSIONS: Mapping[str, tuple[Need, ...]] = MappingProxyType(
    {name: spec.needs for name, spec in SPECS.items()}
)
"""Each action's needs, by action name."""


def permissions(
    action: str, kind: str | None = None, options: Mapping[str, bool | None] | None = None
) -> list[Permission]:
    """What one step needs: ``kind`` None and options left out mean unknown (assume all)."""
    opts = options or {}
    found = {n.permission for n in PERMISSIONS[action] if n.applies(kind, opts)}
    return sorted(found, key=sort_key)


def needs(
    action: str, kind: str | None = None, options: Mapping[str, bool | None] | None = None
) -> list[Need]:
    opts = options or {}
    return [n for n in PERMISSIONS[action] if n.applies(kind, opts)]


def options_of(action: str) -> frozenset[str]:
    """The boolean ``with:`` options an action's needs depend on."""
    return frozenset(n.option for n in PERMISSIONS[action] if n.option is not None)
