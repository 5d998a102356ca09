"""The step loop of one run: conditions, approvals, retries, the journal, and on_failure.

Per step: ``when:`` (false -> skipped); render and validate ``with:``; approval (``--yes``, a
prompt, or stop before the step: awaiting-approval); attempts (tenacity, on errors that say
they are ``transient``, waiting at least their ``retry_after``, all within the step's
``timeout``); then step-end with status, outputs, changes, error. This is the one place that
decides to run something again: adapters below keep only short, bounded retries of a single
request (``irkit.cluster.kube``) and senders are built with one attempt (``Adapters``).
A step-start is journaled before every attempt and a step-end once the step is over, so a
step-start with no step-end after it is a step the process died in.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from irkit.actions.registry import runner_for, spec_for
from irkit.actions.spec import StepCall, StepOutcome
from irkit.engine.ports import Adapters, Approval
from irkit.engine.prepare import Prepared, prepare, should_run
from irkit.engine.result import RunResult, StepReport, resume_line
from irkit.errors import IrkitError, PartialError, UploadError
from irkit.incident.ids import new_run_id
from irkit.incident.journal import EventSink
from irkit.incident.paths import IncidentPaths
from irkit.model.journal import RUN_END, STEP_CHANGE, STEP_END, STEP_START, Change, RunEvent
from irkit.redact import REDACTED, journaled_params, redact_url
from irkit.runbook.model import Runbook, Step
from irkit.settings import RunSettings


def is_transient(e: BaseException) -> bool:
    """Worth another attempt: the error says so (``IrkitError.transient``: the API server or a
    webhook was throttled, failing or away). The one retry decision of a run."""
    return isinstance(e, IrkitError) and e.transient


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Execution:
    runbook: Runbook
    runbook_dir: Path
    paths: IncidentPaths  # the incident's folder: its artefacts (evidence, rca.md) only
    adapters: Adapters
    journal: EventSink  # the incident store's journal (IncidentJournal); NoJournal: dry run
    context: dict[str, Any]  # the template context; steps.<id>.outputs grows as steps end
    settings: RunSettings
    command: str
    dry_run: bool = False
    yes: bool = False
    done: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # resume: finished
    interrupted: Mapping[str, datetime] = field(default_factory=dict)  # resume: died mid-step
    reports: list[StepReport] = field(default_factory=list)
    run: str = field(default_factory=new_run_id)  # this run's id in the incident's journal

    @property
    def incident(self) -> str:
        return self.paths.incident

    @property
    def actor(self) -> str:
        return self.adapters.cluster.identity.user

    def out(self, line: str) -> None:
        self.adapters.output(line)

    def event(self, kind: str, step: Step | None = None, **fields: Any) -> None:
        self.journal.write(
            RunEvent(
                kind,
                self.incident,
                step=step.id if step else "",
                action=str(step.action) if step else "",
                time=stamp(self.adapters.clock()),
                run=self.run,
                **fields,
            )
        )

    # ---- the loop --------------------------------------------------------------------------
    def execute(self) -> RunResult:
        steps = self.runbook.steps
        for n, step in enumerate(steps, 1):
            prefix = f"[{n}/{len(steps)}] {step.id} ({step.action})"
            if step.id in self.done:
                earlier = self.done[step.id]
                self.out(f"{prefix}: done earlier ({earlier['status']})")
                status, outputs = str(earlier["status"]), dict(earlier["outputs"])
                report = StepReport(step.id, str(step.action), status, outputs, note="done earlier")
                self.reports.append(report)
                continue
            report, error = self.step(step, prefix)
            self.reports.append(report)
            self.context["steps"][step.id] = {"outputs": dict(report.outputs)}
            if report.status == "awaiting-approval":
                return self.end("stopped", awaiting=step.id)
            if report.status == "failed" and step.on_failure == "abort":
                return self.end("failed", error=error)
        return self.end("dry-run" if self.dry_run else "completed")

    def end(self, status: str, *, awaiting: str = "", error: IrkitError | None = None) -> RunResult:
        failed = [r.id for r in self.reports if r.status == "failed"]
        partial = [r.id for r in self.reports if r.status == "partial"]
        data: dict[str, Any] = {"failed": failed, "partial": partial}
        if awaiting:
            data["awaiting_approval"] = awaiting
        self.event(RUN_END, status=status, data=data, error=str(error) if error else "")
        journal = getattr(self.journal, "path", None)
        name = self.runbook.metadata.name
        args = self.resume_args()
        return RunResult(self.incident, name, status, self.reports, journal, awaiting, error, args)

    def resume_args(self) -> tuple[str, ...]:
        """What ``irkit run --resume`` must be given again: a ``--set NAME=...`` placeholder
        per secret param (journaled as <redacted>), and a non-default ``--incidents-dir``."""
        params = journaled_params(self.context.get("params") or {})
        args: list[str] = []
        if self.settings.incidents_dir != RunSettings().incidents_dir:
            args += ["--incidents-dir", self.settings.incidents_dir]
        for name in sorted(k for k, v in params.items() if v == REDACTED):
            args += ["--set", f"{name}=..."]
        return tuple(args)

    # ---- one step --------------------------------------------------------------------------
    def step(self, step: Step, prefix: str) -> tuple[StepReport, IrkitError | None]:
        began = time.monotonic()
        try:
            if not should_run(step, self.context):
                self.out(f"{prefix}: skipped (when: {step.when})")
                self.event(STEP_END, step, status="skipped", data={"outputs": {}})
                return StepReport(step.id, str(step.action), "skipped", note="when: false"), None
            prepared = prepare(step, self.context)
        except IrkitError as e:
            return self.failed(step, prefix, e, [], {}, began), e
        approval, why = self.approval(step, prepared.rendered)
        if why:
            return self.awaiting(step, prefix, why, prepared.rendered), None
        call = self.call(prepared)
        verb = "planning" if self.dry_run else "running"
        self.out(f"{prefix}: {verb} {describe(prepared)}".rstrip())
        try:
            outcome = self.attempts(step, call, prepared, approval, prefix)
        except IrkitError as e:
            return self.failed(step, prefix, e, call.changes, prepared.rendered, began), e
        except Exception as e:
            bug = f"internal error: {type(e).__name__}: {e}"
            self.event(STEP_END, step, status="failed", changes=call.changes, error=bug)
            self.event(RUN_END, status="failed", error=f"internal error in step {step.id}")
            raise
        for warning in outcome.warnings:
            self.out(f"{prefix}: WARNING {warning}")
        if outcome.status == "partial" and step.require == "complete":
            incomplete = PartialError(
                f"step {step.id!r} ({step.action}) did only part of its job and the runbook "
                f"requires it complete: {outcome.note}",
                hint="the warnings above (and in the journal) say what is missing",
            )
            rendered = prepared.rendered
            report = self.failed(step, prefix, incomplete, call.changes, rendered, began, outcome)
            return report, incomplete
        seconds = round(time.monotonic() - began, 3)
        data: dict[str, Any] = {"outputs": outcome.outputs, "note": outcome.note}
        if outcome.warnings:
            data["warnings"] = list(outcome.warnings)
        if approval:
            data["approval"] = approval
        self.event(STEP_END, step, status=outcome.status, data=data, changes=call.changes)
        self.out(f"{prefix}: {outcome.status} - {outcome.note} ({seconds:g}s)")
        needs = {"approval": "required"} if self.dry_run and step.approval == "required" else {}
        return StepReport(
            step.id,
            str(step.action),
            outcome.status,
            outcome.outputs,
            list(call.changes),
            rendered=redact(step.action, prepared.rendered),
            plan=outcome.plan | needs,
            note=outcome.note,
            seconds=seconds,
            warnings=list(outcome.warnings),
        ), None

    def failed(
        self,
        step: Step,
        prefix: str,
        e: IrkitError,
        changes: list[Change],
        rendered: dict[str, Any],
        began: float,
        outcome: StepOutcome | None = None,
    ) -> StepReport:
        """A failed step; ``outcome`` when it was a partial one under ``require: complete``."""
        warnings = list(outcome.warnings) if outcome else []
        outputs = dict(outcome.outputs) if outcome else {}
        data: dict[str, Any] = {"outputs": outputs, "warnings": warnings} if outcome else {}
        if isinstance(e, UploadError) and e.kept:  # the local bundle stays: its hash on record
            outputs |= e.kept
            data["outputs"] = outputs
        self.event(STEP_END, step, status="failed", data=data, changes=changes, error=str(e))
        then = "continuing (on_failure: continue)" if step.on_failure == "continue" else "abort"
        self.out(f"{prefix}: failed - {e} [{then}]")
        return StepReport(
            step.id,
            str(step.action),
            "failed",
            outputs,
            changes=list(changes),
            error=str(e),
            rendered=redact(step.action, rendered),
            seconds=round(time.monotonic() - began, 3),
            warnings=warnings,
        )

    def awaiting(self, step: Step, prefix: str, why: str, rendered: dict[str, Any]) -> StepReport:
        """Stop before the step: journaled as awaiting-approval, resumable with --yes."""
        line = f"needs approval: {why}"
        resume = resume_line(self.incident, self.resume_args(), yes=True)
        self.out(f"{prefix}: awaiting approval ({why}); continue with: {resume}")
        self.event(STEP_END, step, status="awaiting-approval", error=line)
        shown = redact(step.action, rendered)
        return StepReport(
            step.id, str(step.action), "awaiting-approval", error=line, rendered=shown
        )

    def approval(self, step: Step, rendered: dict[str, Any]) -> tuple[dict[str, str] | None, str]:
        """(who approved and how, or None; why not)."""
        if step.approval != "required" or self.dry_run:
            return None, ""
        if self.yes:
            return {"by": self.actor, "how": "--yes"}, ""
        if self.adapters.approve is None:
            return None, "no terminal to ask and no --yes"
        answer = self.adapters.approve(step, redact(step.action, rendered))
        if isinstance(answer, Approval):
            return {"by": answer.by, "how": answer.how}, ""
        if answer:
            return {"by": self.actor, "how": "prompt"}, ""
        return None, "declined at the prompt"

    def call(self, prepared: Prepared) -> StepCall:
        step = prepared.step
        changes: list[Change] = (
            []
            if self.dry_run
            else JournaledChanges(lambda c: self.event(STEP_CHANGE, step, changes=[c]))
        )
        return StepCall(
            step=prepared.step,
            inputs=prepared.inputs,
            target=prepared.target,
            runbook=self.runbook,
            incident=self.incident,
            paths=self.paths,
            actor=self.actor,
            command=f"{self.command} (step {prepared.step.id})",
            adapters=self.adapters,
            runbook_dir=self.runbook_dir,
            dry_run=self.dry_run,
            started=self.interrupted.get(prepared.step.id),
            changes=changes,
            run_status=self.status_now(step),
        )

    def status_now(self, step: Step) -> str:
        """The run's status as ``step`` runs: its last step runs only in a run that did not
        abort, so the run is completed once it ends (a failed continue-step, a partial one,
        are listed in the RCA on their own); any earlier step: in progress."""
        if step.id == self.runbook.steps[-1].id:
            return "completed"
        return f"in progress (written by step {step.id})"

    def attempts(
        self,
        step: Step,
        call: StepCall,
        prepared: Prepared,
        approval: dict[str, str] | None,
        prefix: str,
    ) -> StepOutcome:
        """Run the step; again on transient errors, ``retries`` times at most, all of it
        within ``timeout`` (an attempt in flight is not interrupted: the timeout stops retries
        and bounds the waits between them)."""
        runner = runner_for(step.action)
        rendered = redact(step.action, prepared.rendered)

        def retrying(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.upcoming_sleep
            self.out(f"{prefix}: {error}; attempt {state.attempt_number + 1} in {wait:.1f}s")

        for attempt in Retrying(
            stop=stop_after_attempt(step.retries + 1) | stop_before_delay(step.timeout),
            retry=retry_if_exception(is_transient),
            wait=self.backoff,
            sleep=self.adapters.sleep,
            before_sleep=retrying,
            reraise=True,
        ):
            with attempt:
                data: dict[str, Any] = {
                    "with": rendered,
                    "attempt": attempt.retry_state.attempt_number,
                }
                if approval:
                    data["approval"] = approval
                self.event(STEP_START, step, data=data)
                return runner(call)
        raise AssertionError("unreachable")  # pragma: no cover

    def backoff(self, state: RetryCallState) -> float:
        """Exponential with full jitter; at least what the server's Retry-After asks for."""
        cap = self.settings.retry_max
        ceiling = min(cap, self.settings.retry_initial * 2 ** (state.attempt_number - 1))
        wait = random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret
        error = state.outcome.exception() if state.outcome else None
        asked = error.retry_after if isinstance(error, IrkitError) else None
        if asked is not None and asked > 0:
            wait = max(wait, min(float(asked), cap))
        return wait


def describe(prepared: Prepared) -> str:
    if prepared.target is not None:
        return str(prepared.target)
    inputs = prepared.inputs
    for key in ("node", "channel", "seconds"):
        if hasattr(inputs, key):
            return f"{key} {getattr(inputs, key)}"
    return ""


def redact(action: str, rendered: dict[str, Any]) -> dict[str, Any]:
    """Webhook URLs carry their secret in the path: journal and show scheme://host only."""
    if not spec_for(action).secret_url or not isinstance(rendered.get("url"), str):
        return dict(rendered)
    return {**rendered, "url": redact_url(rendered["url"], always=True)}


class JournaledChanges(list[Change]):
    """The list actions append their changes to; each append is journaled at once."""

    def __init__(self, record: Callable[[Change], None]) -> None:
        super().__init__()
        self._record = record

    def append(self, change: Change) -> None:
        self._record(change)
        super().append(change)
