"""The runs of commands run by hand (isolate, release, scale, restore, collect), one record
each, read off the journal's events.

A command is journaled as a one-step run (run-start ``kind: command``, step-start, a
step-change per object changed, step-end, run-end) like any runbook run; the RCA, ``irkit
incidents`` and scripts still want one line per command, with its result and changes.
``split_runs`` sorts an incident's events into the runbook runs' and the commands'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from irkit.incident.ids import new_run_id
from irkit.model.journal import (
    COMMAND,
    RUN_END,
    RUN_START,
    STEP_CHANGE,
    STEP_END,
    STEP_START,
    CommandRecord,
    RunEvent,
)

# A command's step status -> its result as people read it (and as scripts have checked it).
RESULTS = {"failed": "error"}


def is_command(event: RunEvent) -> bool:
    return event.event == RUN_START and event.data.get("kind") == COMMAND


def split_runs(
    events: Iterable[RunEvent], incident: str | None = None
) -> tuple[list[RunEvent], list[CommandRecord]]:
    """(the runbook runs' events, one record per command run), each in journal order;
    ``incident``: only that incident's events (a journal given by hand may hold several)."""
    runs: list[RunEvent] = []
    by_run: dict[str, list[RunEvent]] = {}
    for e in events:
        if incident is not None and e.incident != incident:
            continue
        if is_command(e) and e.run:
            by_run[e.run] = [e]
        elif e.run in by_run:
            by_run[e.run].append(e)
        else:
            runs.append(e)
    return runs, [_record(run) for run in by_run.values()]


def _record(events: list[RunEvent]) -> CommandRecord:
    start, *rest = events
    data = start.data
    argv = data.get("argv")
    journaled = [c for e in rest if e.event == STEP_CHANGE for c in e.changes]
    end = next((e for e in reversed(rest) if e.event == STEP_END), None)
    last = next((e for e in reversed(rest) if e.event == RUN_END), rest[-1] if rest else start)
    changes = journaled or (list(end.changes) if end else [])
    outputs = end.data.get("outputs") if end else None
    return CommandRecord(
        command=_text(data.get("command")),
        actor=_text(data.get("actor")),
        target=_text(data.get("target")),
        result=RESULTS.get(end.status, end.status) if end else "interrupted",
        incident=start.incident,
        argv=[str(a) for a in argv if isinstance(a, str)] if isinstance(argv, list) else [],
        changes=changes,
        outputs=dict(outputs) if isinstance(outputs, dict) else {},
        error=end.error if end else "",
        time=last.time,
        run=start.run,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def command_events(record: CommandRecord) -> list[RunEvent]:
    """The one-step run a record stands for (all at its time): what ``one_step_run`` in
    ``irkit.engine.command`` journals, for fixtures and for journals converted by hand."""
    inc, name, run, time = record.incident, record.command, record.run or new_run_id(), record.time
    status = {v: k for k, v in RESULTS.items()}.get(record.result, record.result)
    start: dict[str, Any] = {"kind": COMMAND, "command": name, "target": record.target}
    start |= {"argv": record.argv, "actor": record.actor, "dry_run": False}
    return [
        RunEvent(RUN_START, inc, data=start, time=time, run=run),
        RunEvent(STEP_START, inc, name, name, data={"with": {}}, time=time, run=run),
        *(
            RunEvent(STEP_CHANGE, inc, name, name, changes=[c], time=time, run=run)
            for c in record.changes
        ),
        RunEvent(
            STEP_END,
            inc,
            name,
            name,
            status,
            data={"outputs": record.outputs},
            changes=list(record.changes),
            error=record.error,
            time=time,
            run=run,
        ),
        RunEvent(
            RUN_END, inc, status="failed" if status == "failed" else "completed", time=time, run=run
        ),
    ]
