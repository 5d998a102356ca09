"""What a run (or a dry-run plan) reports: one ``StepReport`` per step, and the run's status.

Exit codes (``RunResult.exit_code``, documented in docs/cli.md):

    0   completed: every step ok, unchanged or skipped (or a dry-run plan with no failure)
    3   partial: stopped before a step that needs approval, or completed with failed steps
        that had ``on_failure: continue``, or with partial steps (an action that did only part
        of its job: a collect missing some logs, an isolate other policies still leak through)
    N   failed (a step failed with ``on_failure: abort``): the exit code of that step's error,
        e.g. 4 not found, 5 forbidden, 2 invalid input, 1 otherwise
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError
from irkit.model.journal import Change

# Step statuses that need nothing more: resume skips these steps (a partial step did what it
# could; running it again would not fix what stopped it, e.g. RBAC).
FINISHED = ("ok", "unchanged", "skipped", "partial")


@dataclass(frozen=True)
class StepReport:
    id: str
    action: str
    status: str  # ok, unchanged, partial, failed, skipped, awaiting-approval, dry-run
    outputs: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    error: str = ""
    rendered: dict[str, Any] = field(default_factory=dict)  # ``with:`` as rendered
    plan: dict[str, Any] = field(default_factory=dict)  # dry run: the concrete objects
    note: str = ""  # one line for people
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # what the action could not do

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    incident: str
    runbook: str
    status: str  # completed, failed, stopped (awaiting approval), dry-run
    steps: list[StepReport]
    journal: Path | None  # None for a dry run: it writes nothing
    awaiting: str = ""  # the step id waiting for approval
    error: IrkitError | None = None  # what failed the run (on_failure: abort)
    resume_args: tuple[str, ...] = ()  # what a resume must be given again (see resume_line)

    @property
    def failed_steps(self) -> list[str]:
        return [s.id for s in self.steps if s.status == "failed"]

    @property
    def partial_steps(self) -> list[str]:
        return [s.id for s in self.steps if s.status == "partial"]

    @property
    def exit_code(self) -> int:
        if self.error is not None and self.status == "failed":
            return self.error.exit_code
        if self.status == "stopped" or self.failed_steps or self.partial_steps:
            return 3
        return 0

    @property
    def resume_command(self) -> str:
        return resume_line(self.incident, self.resume_args, yes=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "runbook": self.runbook,
            "status": self.status,
            "exit_code": self.exit_code,
            "journal": str(self.journal) if self.journal else None,
            "awaiting_approval": self.awaiting or None,
            "error": str(self.error) if self.error else None,
            "steps": [s.to_json() for s in self.steps],
        }


def resume_line(incident: str, args: tuple[str, ...], *, yes: bool) -> str:
    """The command that resumes ``incident``, to be pasted: ``args`` are the ``--set NAME=...``
    placeholders of the secret params (the journal does not keep them) and ``--incidents-dir``
    when the run was not in the default folder."""
    line = shlex.join(["irkit", "run", "--resume", incident, *(["--yes"] if yes else []), *args])
    if any(a.endswith("=...") for a in args):
        line += "  (replace each ... with the secret value: the journal does not keep secrets)"
    return line
