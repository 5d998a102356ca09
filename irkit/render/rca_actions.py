"""What a recorded change did, in short; the target of a containment as command arguments.

The command that undoes a containment is its action's (``ActionSpec.undo``, built safely by
``irkit.actions.undo``); ``containment`` says which actions contain and which lift, ``bundles``
which leave evidence, as their specs say.
"""

from __future__ import annotations

import json
from typing import Any

from irkit.actions.registry import SPECS
from irkit.actions.spec import ActionSpec
from irkit.model.journal import Change

_MAX_BRIEF = 80


def containment(action: str) -> ActionSpec | None:
    """The spec of an action that contains (it has an undo) or lifts a containment."""
    spec = SPECS.get(action)
    return spec if spec is not None and (spec.undo is not None or spec.lifts) else None


def bundles(action: str) -> bool:
    """The action's outputs name an evidence bundle (collect, snapshot)."""
    spec = SPECS.get(action)
    return spec is not None and spec.bundles


def undo(spec: ActionSpec, target: list[str], changes: list[Change], incident: str) -> str:
    return "" if spec.lifts or spec.undo is None else spec.undo(target, changes, incident)


# ---- targets -------------------------------------------------------------------------------------
def step_target(with_: dict[str, Any]) -> list[str]:
    """``[KIND/NAME | -l SELECTOR, -n NS]`` from a step's rendered ``with:``."""
    if with_.get("node"):
        return [str(with_["node"])]
    what = (
        [str(with_["target"])]
        if with_.get("target")
        else ["-l", str(with_["selector"])]
        if with_.get("selector")
        else []
    )
    return [*what, "-n", str(with_["namespace"])] if with_.get("namespace") else what


def entry_target(target: str) -> list[str]:
    """The same from a command journal's ``target`` (``pod/web -n prod``, ``-l a=b -n prod``)."""
    what, sep, namespace = target.rpartition(" -n ")
    if not sep:
        what, namespace = target, ""
    parts = ["-l", what[3:]] if what.startswith("-l ") else [what]
    return [*parts, "-n", namespace] if namespace else parts


# ---- change summaries ----------------------------------------------------------------------------
def summarize(change: Change) -> str:
    before, after = change.before, change.after
    if before is None and after is None:
        return change.action
    if before is None:
        return "created: " + "; ".join(f"{k}: {brief(v)}" for k, v in (after or {}).items())
    if after is None:
        return "deleted (was " + "; ".join(f"{k}: {brief(v)}" for k, v in before.items()) + ")"
    parts = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if _flat(old) and _flat(new):
            parts.append(f"{key}: " + ", ".join(_map_diff(_map(old), _map(new))))
        else:
            parts.append(f"{key}: {brief(old)} → {brief(new)}")
    return "; ".join(parts) or "no difference"


def _map_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = [f"+{k}={brief(v)}" for k, v in new.items() if k not in old]
    out += [f"-{k}" for k in old if k not in new]
    out += [f"{k}: {brief(v)} → {brief(new[k])}" for k, v in old.items() if new.get(k, v) != v]
    return out


def _flat(value: Any) -> bool:
    """A map of scalars (labels, annotations), or nothing."""
    return (
        isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values())
    ) or value is None


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def brief(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_BRIEF else text[: _MAX_BRIEF - 1] + "…"
