"""An incident's journal read back tolerantly, for the RCA and ``irkit incidents``.

``irkit.incident.state`` refuses a file with a bad line (resume must not guess); these readers
must not: they are most needed after a crash (a torn last line) or a tampered file, and they
say what they skipped instead. Each line becomes a ``RunEvent`` with every field checked for
its type, so a hand-edited journal cannot make a renderer fail half-way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError
from irkit.model.journal import Change, RunEvent

MAX_LINE = 4 * 1024 * 1024  # a journal line longer than this is not one irkit wrote


def read_lines(path: Path, notes: list[str]) -> Iterator[dict[str, Any]]:
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
            try:
                if len(line) > MAX_LINE:
                    raise ValueError("too long")
                obj = json.loads(line)
            except ValueError:
                notes.append(f"{path}:{number}: not a journal line, skipped")
                continue
            if isinstance(obj, dict):
                yield obj
            else:
                notes.append(f"{path}:{number}: not a JSON object, skipped")


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
