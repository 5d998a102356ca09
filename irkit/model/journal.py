"""Journal events: what a run did, with each object's fields before and after.

The RCA timeline and runbook resume are built from these, so an event says everything needed
to undo or explain the change without asking the cluster again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Change:
    """One object changed: ``action`` is create, patch, delete or unchanged."""

    action: str
    kind: str
    namespace: str
    name: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


# ---- runs ----------------------------------------------------------------------------------------
# An incident's journal (incidents/<id>/journal.jsonl) is a sequence of these events, one JSON
# line each; per run (``run``: its id), in this order: run-start, then per step step-start and
# step-end, then run-end (absent when the process died: ``irkit run --resume`` continues from
# the last step-end). A command run by hand (isolate, release, scale, restore, collect) is a
# run of one step: its run-start says ``kind: command`` (see ``COMMAND``).
RUN_START = "run-start"  # runbook {name, path, sha256}, params, alert, actor, dry_run
COMMAND = "command"  # run-start data.kind of a command run: command, target, argv, actor
STEP_START = "step-start"  # step, action, with (rendered), attempt
STEP_END = "step-end"  # step, status, data {outputs, note, warnings}, changes, error
RUN_END = "run-end"  # status: completed | failed | stopped (awaiting approval)
# One object changed, written the moment the action changes it: if the process dies before
# step-end, the journal (and so the RCA) still says what was changed, before and after.
STEP_CHANGE = "step-change"  # changes: [the one change]
STEP_STATUSES = (
    "ok",
    "unchanged",
    "partial",  # the action did only part of its job: data.warnings says what is missing
    "failed",
    "skipped",
    "awaiting-approval",
    "dry-run",
)


@dataclass(frozen=True)
class RunEvent:
    event: str
    incident: str
    step: str = ""
    action: str = ""
    status: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    error: str = ""
    time: str = field(default_factory=utc_now)
    run: str = ""  # the run's id ("" in journals written before run ids)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CommandRecord:
    """A command run by hand, as one record: read off its one-step run in the journal
    (``irkit.incident.commands``), for the RCA, ``irkit incidents`` and scripts."""

    command: str  # isolate, release, scale, restore, collect
    actor: str
    target: str
    result: str  # ok, unchanged, partial, error; interrupted: the process died mid-command
    incident: str = ""
    argv: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    time: str = ""  # when it ended (its last event)
    run: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
