"""What a recorded change did, in short, and the command that undoes a containment action.

Undo commands are built from the recorded target and changes, each argument shell-quoted and
kept on one line, so a hostile name cannot turn the "undo" line into a different command.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from irkit.model.journal import Change

CONTAINS = frozenset({"isolate", "scale", "cordon", "label", "annotate"})
LIFTS = frozenset({"release", "restore", "uncordon"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_BRIEF = 80


def one_line(text: str) -> str:
    return _CONTROL.sub("?", text)


def command(*parts: str) -> str:
    return shlex.join(one_line(p) for p in parts)


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


# ---- undo ----------------------------------------------------------------------------------------
def undo(action: str, target: list[str], changes: list[Change], incident: str) -> str:
    match action:
        case "isolate":
            return command("irkit", "release", *target, *(["-i", incident] if incident else []))
        case "scale":
            return command("irkit", "restore", *target, *(["-i", incident] if incident else []))
        case "cordon":
            nodes = [c.name for c in changes if c.kind == "Node"] or target[:1]
            return " && ".join(command("irkit", "uncordon", n) for n in nodes)
        case "label" | "annotate":
            return _undo_metadata(action, target, changes)
        case _:
            return ""


def _undo_metadata(action: str, target: list[str], changes: list[Change]) -> str:
    field = "labels" if action == "label" else "annotations"
    commands = []
    for c in changes:
        before = _map((c.before or {}).get(field))
        after = _map((c.after or {}).get(field))
        args = [f"{k}-" for k in after if k not in before]
        args += [f"{k}={v}" for k, v in before.items() if after.get(k) != v]
        if args:
            overwrite = ["--overwrite"] if any("=" in a for a in args) else []
            where = [f"{c.kind.lower()}/{c.name}", "-n", c.namespace] if c.namespace else []
            commands.append(command("kubectl", action, *where, *args, *overwrite))
    return " && ".join(commands)


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
