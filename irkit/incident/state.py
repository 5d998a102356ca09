"""An incident's journal read back strictly, for ``irkit run --resume``.

A resumed run appends to the same file: another ``run-start`` (``data.resumed: true``), then
its steps. Command runs (isolate, scale, ... run by hand: run-start ``kind: command``) are
skipped by run id: they are not steps of the runbook run, and never what is resumed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError
from irkit.model.journal import COMMAND, RUN_END, RUN_START, STEP_END, STEP_START


@dataclass
class RunState:
    """What a journal says about a run, for resuming it."""

    start: dict[str, Any]  # data of the first run-start: params, alert, started_at, ...
    runbook: dict[str, Any]  # the latest run-start's runbook {name, path, sha256}
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its last end
    open_since: dict[str, str] = field(default_factory=dict)  # step -> time it started, no end
    ended: str = ""  # status of the last run-end, "" when the last run did not end
    events: int = 0


def read_state(path: Path) -> RunState | None:
    """None when the journal at ``path`` holds no runbook run."""
    return state_of(_events(path))


def is_command_start(event: dict[str, Any]) -> bool:
    data = event.get("data")
    return (
        event.get("event") == RUN_START and isinstance(data, dict) and data.get("kind") == COMMAND
    )


def state_of(events: Iterable[dict[str, Any]]) -> RunState | None:
    """The runbook run the events (as JSON objects) tell of; command runs are left out."""
    state: RunState | None = None
    commands: set[str] = set()
    for event in events:
        run = str(event.get("run") or "")
        if is_command_start(event):
            commands.add(run)
        if run and run in commands:
            continue
        kind, step = event.get("event"), str(event.get("step") or "")
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if kind == RUN_START:
            if state is None:
                state = RunState(start=dict(data), runbook=dict(data.get("runbook") or {}))
            state.runbook = dict(data.get("runbook") or {})
            state.ended = ""
        if state is None:
            continue
        state.events += 1
        if kind == STEP_START:
            state.open_since.setdefault(step, str(event.get("time") or ""))
        elif kind == STEP_END:
            state.open_since.pop(step, None)
            state.done[step] = {
                "status": str(event.get("status") or ""),
                "action": str(event.get("action") or ""),
                "outputs": dict(data.get("outputs") or {}),
            }
        elif kind == RUN_END:
            state.ended = str(event.get("status") or "")
    return state


def _events(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as e:
        raise IrkitError(f"cannot read the run journal {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            if number == len(lines):  # torn by a crash mid-write: the step did not end
                return
            raise IrkitError(f"{path}:{number}: not a journal event; refusing to resume") from None
        if isinstance(event, dict):
            yield event
