"""An incident's journal read back tolerantly, for the RCA and ``irkit incidents``.

``irkit.incident.state`` refuses a file with a bad line (resume must not guess); these readers
must not: they are most needed after a crash (a torn last line) or a tampered file, and they
say what they skipped instead. Each line becomes a ``RunEvent`` with every field checked for
its type, so a hand-edited journal cannot make a renderer fail half-way.

Each note is a ``Skipped``: a ``str``, as ``IncidentStore.read`` promises, that also says
whether the line only makes the journal incomplete (a torn last line, a JSON value that is not
an object) or damaged: ``irkit.incident.state`` refuses to resume from a damaged one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError
from irkit.model.journal import Change, RunEvent

MAX_LINE = 4 * 1024 * 1024  # a journal line longer than this is not one irkit wrote


class Skipped(str):
    """A note on a line skipped: ``where`` (``path:line``) and whether it is ``damaged`` (not
    JSON, and not the last line: a crash tears only the last one)."""

    where: str = ""
    damaged: bool = False


def skipped(where: str, why: str, *, damaged: bool) -> Skipped:
    note = Skipped(f"{where}: {why}, skipped")
    note.where, note.damaged = where, damaged
    return note


def read_lines(path: Path, notes: list[str]) -> Iterator[dict[str, Any]]:
    torn: str = ""  # a line that is not JSON: torn if it is the last one, else damaged
    try:
        f = path.open(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    except OSError as e:
        raise IrkitError(f"cannot read {path}: {e.strerror or e}") from e
    with f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            if torn:
                notes.append(skipped(torn, "not a journal line", damaged=True))
                torn = ""
            try:
                if len(line) > MAX_LINE:
                    raise ValueError("too long")
                obj = json.loads(line)
            except ValueError:
                torn = f"{path}:{number}"
                continue
            if isinstance(obj, dict):
                yield obj
            else:
                notes.append(skipped(f"{path}:{number}", "not a JSON object", damaged=False))
    if torn:
        notes.append(skipped(torn, "not a journal line", damaged=False))


def run_events(path: Path, notes: list[str]) -> list[RunEvent]:
    return [run_event(raw) for raw in read_lines(path, notes)]


def run_event(raw: dict[str, Any]) -> RunEvent:
    """One journal line's object as a ``RunEvent`` (also for stores that keep lines elsewhere)."""
    return RunEvent(
        event=_str(raw, "event"),
        incident=_str(raw, "incident"),
        step=_str(raw, "step"),
        action=_str(raw, "action"),
        status=_str(raw, "status"),
        data=_dict(raw, "data"),
        changes=_changes(raw),
        error=_str(raw, "error"),
        time=_str(raw, "time"),
        run=_str(raw, "run"),
    )


def _changes(raw: dict[str, Any]) -> list[Change]:
    items = raw.get("changes")
    if not isinstance(items, list):
        return []
    return [
        Change(
            _str(c, "action"),
            _str(c, "kind"),
            _str(c, "namespace"),
            _str(c, "name"),
            _dict(c, "before") if isinstance(c.get("before"), dict) else None,
            _dict(c, "after") if isinstance(c.get("after"), dict) else None,
        )
        for c in items
        if isinstance(c, dict)
    ]


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _dict(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}
