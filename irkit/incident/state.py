"""An incident's journal read back strictly, for ``irkit run --resume``.

A resumed run appends to the same journal: another ``run-start`` (``data.resumed: true``), then
its steps. Command runs (isolate, scale, ... run by hand: run-start ``kind: command``) are
skipped by run id: they are not steps of the runbook run, and never what is resumed.

The events come from the incident's store (``IncidentStore.read``), with what it skipped reading
them: a torn last line (the process died mid-write) only means the step did not end, but a
damaged line anywhere else makes the journal untrustworthy, and resume must not guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from irkit.errors import IrkitError
from irkit.incident.reader import Skipped
from irkit.model.journal import COMMAND, RUN_END, RUN_START, STEP_END, STEP_START, RunEvent


@dataclass
class RunState:
    """What a journal says about a run, for resuming it."""

    start: dict[str, Any]  # data of the first run-start: params, alert, started_at, ...
    runbook: dict[str, Any]  # the latest run-start's runbook {name, path, sha256}
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its last end
    open_since: dict[str, str] = field(default_factory=dict)  # step -> time it started, no end
    ended: str = ""  # status of the last run-end, "" when the last run did not end
    events: int = 0


def read_state(events: Iterable[RunEvent], notes: Sequence[str] = ()) -> RunState | None:
    """The runbook run the events tell of (command runs are left out); None when there is none.

    ``notes``: what the store skipped reading them (``IncidentStore.read``); any but an
    incomplete line (``irkit.incident.reader.Skipped``, not ``damaged``) is refused."""
    for note in notes:
        if not isinstance(note, Skipped) or note.damaged:
            where = note.where if isinstance(note, Skipped) else note
            raise IrkitError(f"{where}: not a journal event; refusing to resume")
    return _state_of(events)


def is_command_start(event: RunEvent) -> bool:
    return event.event == RUN_START and event.data.get("kind") == COMMAND


def _state_of(events: Iterable[RunEvent]) -> RunState | None:
    state: RunState | None = None
    commands: set[str] = set()
    for event in events:
        run = event.run
        if is_command_start(event):
            commands.add(run)
        if run and run in commands:
            continue
        kind, step, data = event.event, event.step, event.data
        if kind == RUN_START:
            if state is None:
                state = RunState(start=dict(data), runbook=dict(data.get("runbook") or {}))
            state.runbook = dict(data.get("runbook") or {})
            state.ended = ""
        if state is None:
            continue
        state.events += 1
        if kind == STEP_START:
            state.open_since.setdefault(step, event.time)
        elif kind == STEP_END:
            state.open_since.pop(step, None)
            state.done[step] = {
                "status": event.status,
                "action": event.action,
                "outputs": dict(data.get("outputs") or {}),
            }
        elif kind == RUN_END:
            state.ended = event.status
    return state
