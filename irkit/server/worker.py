"""Worker threads: claim a job, keep its lease alive, run its runbook through the engine,
record the outcome.

A run starts fresh, or resumes when the incident's journal already holds a run (the process
died after the 2xx, or mid-run, or the job was approved): resume skips the finished steps, so
each change happens once. A step marked ``approval: required`` runs only when the job's
``approvals`` (``Queue.approve``) name it; otherwise the run stops before it, the job waits
for approval and people are told (a JSON log line, and the ``--notify-url`` webhook).

Fencing: a heartbeat thread extends the lease; when it fails (another worker took the job
over after the lease ran out) the run is stopped before its next step. The engine calls
``Adapters.output`` at the start and end of every step, so the check lives there: it raises
``Fenced``, a BaseException the engine's step handlers do not catch, and nothing more is
written to the journal by this worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irkit.engine.ports import Adapters
from irkit.engine.result import RunResult
from irkit.engine.runner import run
from irkit.errors import IrkitError, Locked
from irkit.incident.paths import IncidentPaths
from irkit.incident.reader import run_events
from irkit.incident.state import read_state
from irkit.notify.port import Notification
from irkit.notify.senders import http_notifier
from irkit.queue.port import AWAITING, DONE, FAILED, PARTIAL, Claim, Overloaded, Queue
from irkit.runbook.loader import Loaded, load_runbook
from irkit.server.config import ServeSettings
from irkit.server.logs import log
from irkit.server.metrics import Metrics

if TYPE_CHECKING:
    from irkit.runbook.model import Step


class Fenced(BaseException):
    """This worker lost its claim: stop now, write nothing more (not an error of the run)."""


class Workers:
    def __init__(
        self,
        settings: ServeSettings,
        queue: Queue,
        routes: Sequence[Loaded],
        adapters: Adapters,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.routes = {str(Path(r.path)): r for r in routes}
        self.adapters = adapters
        self.metrics = metrics
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def start(self) -> None:
        for n in range(self.settings.workers):
            thread = threading.Thread(
                target=self.loop, args=(f"{self.name}:{n}",), name=f"irkit-worker-{n}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; a run in progress stops before its next step (its lease then runs
        out and the job is resumed, by this server restarted or another replica)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()

    def loop(self, worker: str) -> None:
        while not self.stopping.is_set():
            try:
                claim = self.queue.claim(worker, self.settings.lease)
            except Overloaded as e:
                log(logging.WARNING, "the queue is unavailable; retrying", error=str(e))
                self.stopping.wait(1.0)
                continue
            if claim is None:
                self.stopping.wait(self.settings.poll)
                continue
            self.handle(claim)

    def handle(self, claim: Claim) -> None:
        job = claim.job
        ids: dict[str, Any] = {"incident": job.incident, "job": job.id, "source": job.source}
        fenced = threading.Event()
        beat = threading.Thread(target=self.heartbeat, args=(claim, fenced), daemon=True)
        beat.start()
        log(logging.INFO, f"run starts (attempt {claim.attempt})", **ids)
        try:
            result = self.execute(claim, fenced)
        except Fenced:
            why = "shutting down" if self.stopping.is_set() else "claim lost to another worker"
            log(logging.WARNING, f"{why}: stopped before the next step", **ids)
            return
        except Locked:
            log(
                logging.WARNING,
                "the incident is still held by a stopping run; retried when its lease runs out",
                **ids,
            )
            return
        except IrkitError as e:
            self.end(claim, FAILED, str(e), ids, job_runbook=job.runbook)
            return
        except Exception as e:  # a bug: the job fails, the worker goes on
            log(logging.ERROR, f"internal error: {type(e).__name__}: {e}", **ids)
            self.end(
                claim, FAILED, f"internal error: {type(e).__name__}", ids, job_runbook=job.runbook
            )
            return
        finally:
            fenced.set()  # also stops the heartbeat
            beat.join(5)
        self.record(claim, result, ids)

    def execute(self, claim: Claim, fenced: threading.Event) -> RunResult:
        """The one call into the engine: a fresh run, or a resume of the incident's journal."""
        job = claim.job
        loaded = self.routes.get(job.runbook) or load_runbook(job.runbook)
        paths = IncidentPaths.of(job.incident, Path(self.settings.run.incidents_dir))
        resume = read_state(paths.journal) is not None
        approved = frozenset(job.approvals)

        def approve(step: Step, rendered: Any) -> bool:
            return step.id in approved

        def output(line: str) -> None:
            if fenced.is_set() or self.stopping.is_set():  # taken over, or shutting down
                raise Fenced
            log(logging.DEBUG, line, incident=job.incident, job=job.id)

        adapters = replace(self.adapters, approve=approve, output=output)
        return run(
            loaded,
            params=None if resume else job.params,
            alert=None if resume else job.alert,
            incident=job.incident,
            adapters=adapters,
            resume=resume,
            settings=self.settings.run,
            command=f"irkit serve: job {job.id}, attempt {claim.attempt}",
        )

    def heartbeat(self, claim: Claim, fenced: threading.Event) -> None:
        every = self.settings.lease / 3
        while not fenced.wait(every):
            try:
                if not self.queue.heartbeat(claim, self.settings.lease):
                    fenced.set()
            except Overloaded as e:
                log(
                    logging.WARNING,
                    "heartbeat failed; retrying",
                    error=str(e),
                    incident=claim.job.incident,
                )

    def record(self, claim: Claim, result: RunResult, ids: dict[str, Any]) -> None:
        ids = ids | ({"run": run} if (run := last_run(result.journal)) else {})
        for step in result.steps:
            if step.note != "done earlier" and step.status not in ("skipped", "awaiting-approval"):
                self.metrics.step_seconds.labels(step.action).observe(step.seconds)
        if result.status == "stopped":
            state = AWAITING
        elif result.status == "failed":
            state = FAILED
        elif result.failed_steps or result.partial_steps:
            state = PARTIAL
        else:
            state = DONE
        error = str(result.error) if result.error else ""
        self.end(claim, state, error, ids, job_runbook=result.runbook)
        if state == AWAITING:
            self.awaiting(claim, result.awaiting, ids)

    def end(
        self, claim: Claim, state: str, error: str, ids: dict[str, Any], *, job_runbook: str
    ) -> None:
        try:
            kept = self.queue.finish(claim, state, error)
        except Overloaded as e:
            log(
                logging.ERROR,
                "could not record the outcome; the job will be resumed",
                error=str(e),
                **ids,
            )
            return
        if not kept:
            log(logging.WARNING, "claim lost before the outcome was recorded", **ids)
            return
        runbook = Path(job_runbook).stem if "/" in job_runbook else job_runbook
        self.metrics.runs.labels(runbook, state).inc()
        level = logging.ERROR if state == FAILED else logging.INFO
        log(level, f"run {state}" + (f": {error}" if error else ""), **ids)

    def awaiting(self, claim: Claim, step: str, ids: dict[str, Any]) -> None:
        incident = claim.job.incident
        text = (
            f"incident {incident}: the run waits for approval of step {step}; approve "
            f"with: irkit approve {incident} {step} (POST /v1/incidents/{incident}/approve)"
        )
        log(logging.WARNING, text, step=step, **ids)
        if not self.settings.notify_url:
            return
        try:
            http_notifier("webhook", self.settings.notify_url, attempts=2).send(
                Notification(
                    title=f"irkit: approval needed ({incident})",
                    message=text,
                    incident=incident,
                    fields={"step": step},
                )
            )
        except IrkitError as e:
            log(logging.ERROR, f"approval notification not sent: {e}", **ids)


def last_run(journal: Path | None) -> str:
    """The run id the engine journaled last (for the log lines of this run's end)."""
    if journal is None or not journal.exists():
        return ""
    events = run_events(journal, [])
    return events[-1].run if events else ""
