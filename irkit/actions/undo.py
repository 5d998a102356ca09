"""The command that undoes a containment action, as the RCA shows it (``ActionSpec.undo``).

Undo commands are built from the recorded target and changes, each argument shell-quoted and
kept on one line, so a hostile name cannot turn the "undo" line into a different command.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from irkit.actions.spec import Undo
from irkit.model.journal import Change

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    return _CONTROL.sub("?", text)


def command(*parts: str) -> str:
    return shlex.join(one_line(p) for p in parts)


def irkit_on_target(verb: str) -> Undo:
    """``irkit VERB TARGET [-i INCIDENT]``: undo isolate with release, scale with restore."""

    def undo(target: list[str], changes: list[Change], incident: str) -> str:
        return command("irkit", verb, *target, *(["-i", incident] if incident else []))

    return undo


def metadata(action: str) -> Undo:
    """``kubectl label|annotate`` putting back each changed pod's keys as they were."""
    field = "labels" if action == "label" else "annotations"

    def undo(target: list[str], changes: list[Change], incident: str) -> str:
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

    return undo


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
