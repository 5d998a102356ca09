"""A command run by hand (isolate, release, scale, restore, collect) as a one-step run.

``irkit run`` and the response commands write one journal, the same way: a run-start (here
``kind: command``, with the command, its target and argv), the step's step-start with its
inputs, a step-change the moment each object is changed (``JournaledChanges``, as in
``Execution``), the step-end with status, outputs and every change, and a run-end. So a
command that dies or fails after creating a NetworkPolicy still leaves its record, and the
RCA and ``irkit incidents`` read one format.

A command run takes no incident lock: several may append to the incident's journal, each with
its own run id, while a runbook run holds the lock, and ``irkit run --resume`` reads only the
runbook runs (``irkit.incident.state``). A dry run journals nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from irkit.engine.execution import JournaledChanges, stamp
from irkit.engine.ports import utc_now
from irkit.errors import IrkitError
from irkit.incident.ids import new_run_id
from irkit.incident.journal import EventSink, NoJournal
from irkit.model.journal import (
    COMMAND,
    RUN_END,
    RUN_START,
    STEP_CHANGE,
    STEP_END,
    STEP_START,
    Change,
    RunEvent,
)


@dataclass
class CommandStep:
    """What the command did, filled in as it goes: ``changes`` journals each append at once."""

    incident: str
    changes: list[Change]
    outputs: dict[str, Any] = field(default_factory=dict)
    result: str = "ok"  # ok, unchanged, partial


@dataclass(frozen=True)
class CommandSpec:
    command: str  # isolate, release, scale, restore, collect
    incident: str  # "" when the command belongs to no incident
    actor: str
    target: str
    argv: Sequence[str] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)  # journaled as the step's with
    dry_run: bool = False


@contextmanager
def one_step_run(
    spec: CommandSpec, journal: EventSink, clock: Callable[[], datetime] = utc_now
) -> Iterator[CommandStep]:
    """Journal the command as a run of one step around the ``with`` block; an ``IrkitError``
    is journaled as a failed step (with the changes made before it) and raised again."""
    sink: EventSink = NoJournal() if spec.dry_run else journal
    run = new_run_id()

    def event(kind: str, *, step: bool = True, **fields: Any) -> None:
        name = spec.command if step else ""
        sink.write(
            RunEvent(kind, spec.incident, name, name, time=stamp(clock()), run=run, **fields)
        )

    start: dict[str, Any] = {"kind": COMMAND, "command": spec.command, "target": spec.target}
    start |= {"argv": list(spec.argv), "actor": spec.actor, "dry_run": False}
    event(RUN_START, step=False, data=start)
    event(STEP_START, data={"with": dict(spec.inputs), "attempt": 1})
    changes: list[Change] = (
        [] if spec.dry_run else JournaledChanges(lambda c: event(STEP_CHANGE, changes=[c]))
    )
    rec = CommandStep(spec.incident, changes)
    try:
        yield rec
    except IrkitError as e:
        _end(event, spec.command, "failed", rec, str(e))
        raise
    except Exception as e:
        _end(event, spec.command, "failed", rec, f"internal error: {type(e).__name__}: {e}")
        raise
    except BaseException as e:  # Ctrl-C, SystemExit: what was changed is on record already
        _end(event, spec.command, "failed", rec, f"interrupted ({type(e).__name__})")
        raise
    _end(event, spec.command, rec.result, rec, "")


def _end(
    event: Callable[..., None], command: str, status: str, rec: CommandStep, error: str
) -> None:
    data: dict[str, Any] = {"outputs": rec.outputs}
    warnings = rec.outputs.get("warnings")
    if isinstance(warnings, list) and warnings:
        data["warnings"] = list(warnings)
    event(STEP_END, status=status, data=data, changes=list(rec.changes), error=error)
    summary = {
        "failed": [command] if status == "failed" else [],
        "partial": [command] if status == "partial" else [],
    }
    run_status = "failed" if status == "failed" else "completed"
    event(RUN_END, step=False, status=run_status, data=summary, error=error)
