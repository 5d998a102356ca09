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
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irkit.engine.ports import Adapters, Approval
from irkit.engine.result import RunResult
from irkit.engine.runner import run
from irkit.errors import IrkitError, Locked
from irkit.incident.state import RunState, read_state
from irkit.incident.store import FileStore, IncidentStore
from irkit.notify.port import Notification
from irkit.notify.senders import http_notifier
from irkit.queue.port import AWAITING, DONE, FAILED, PARTIAL, Claim, Overloaded, Queue
from irkit.redact import REDACTED
from irkit.runbook.loader import Loaded, load_runbook
from irkit.server.config import ServeSettings
from irkit.server.logs import log
from irkit.server.metrics import Metrics

if TYPE_CHECKING:
    from irkit.runbook.model import Step


APPROVED_HOW = "irkit approve / API"
"""How a step approved through ``POST /v1/incidents/ID/approve`` is journaled."""


REST = 0.01
"""Seconds an idle worker lets pass between two claims that found nothing."""


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
        self.store: IncidentStore = adapters.store or FileStore(Path(settings.run.incidents_dir))
        if adapters.store is None:
            self.adapters = replace(adapters, store=self.store)
        self.metrics = metrics
        self.stopping = threading.Event()
        self.work = threading.Event()
        """Set when a job was submitted here: an idle worker claims at once, not at its poll."""
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
        self.work.set()  # idle workers: out of their wait now
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()

    def wake(self) -> None:
        self.work.set()

    def alive(self) -> bool:
        """Every worker thread started is still running (for /readyz): one that died, by a
        bug no handler caught, is a server that takes alerts and never runs them."""
        return all(thread.is_alive() for thread in self.threads)

    def loop(self, worker: str) -> None:
        try:
            self.claims(worker)
        finally:
            if not self.stopping.is_set():
                log(logging.CRITICAL, f"worker {worker} died; /readyz answers 503 from now on")

    def claims(self, worker: str) -> None:
        while not self.stopping.is_set():
            self.work.clear()  # a submit after this sets it again, so no wake-up is lost
            try:
                claim = self.queue.claim(worker, self.settings.lease)
            except Overloaded as e:
                log(logging.WARNING, "the queue is unavailable; retrying", error=str(e))
                self.stopping.wait(1.0)
                continue
            except Exception as e:  # a bug: logged, and the worker goes on after a pause
                log(logging.ERROR, f"claiming failed: {type(e).__name__}: {e}; retrying")
                self.stopping.wait(1.0)
                continue
            if claim is None:
                looked = time.monotonic()
                self.work.wait(self.settings.poll)
                # a burst of submits wakes this worker once per REST seconds at most: a claim
                # that finds nothing still reads the queue (many jobs waiting on one workload)
                self.stopping.wait(max(0.0, REST - (time.monotonic() - looked)))
                continue
            try:
                self.handle(claim)
            except Exception as e:  # the job's lease runs out and it is claimed again
                log(
                    logging.ERROR,
                    f"internal error after the run: {type(e).__name__}: {e}",
                    incident=claim.job.incident,
                    job=claim.job.id,
                )
                self.stopping.wait(1.0)

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
            if e.transient:  # the store or database hiccuped: the job was promised (202)
                log(
                    logging.WARNING,
                    "transient error; the job is claimed again once its lease runs out",
                    error=str(e),
                    **ids,
                )
                return
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
        state = read_state(self.store.read(job.incident, []))
        resume = state is not None
        approved = dict(job.approvers)  # the last approval of a step names who

        def approve(step: Step, rendered: Any) -> bool | Approval:
            if step.id not in approved:
                return False
            return Approval(by=approved[step.id], how=APPROVED_HOW)

        def output(line: str) -> None:
            if fenced.is_set() or self.stopping.is_set():  # taken over, or shutting down
                raise Fenced
            log(logging.DEBUG, line, incident=job.incident, job=job.id)

        adapters = replace(self.adapters, approve=approve, output=output)
        return run(
            loaded,
            params=secrets_again(state, job.params) if state is not None else job.params,
            alert=None if resume else job.alert,
            incident=job.incident,
            adapters=adapters,
            resume=resume,
            settings=self.settings.run,
            command=f"irkit serve: job {job.id}, attempt {claim.attempt}",
        )

    def heartbeat(self, claim: Claim, fenced: threading.Event) -> None:
        """Extend the lease every third of it; fence the run when the queue says the claim is
        lost, or when no beat got through for a whole lease (the queue unreachable that long:
        another worker may have taken the job over, and nothing could tell this one)."""
        every = self.settings.lease / 3
        beaten = time.monotonic()  # the claim itself set the lease a moment ago
        while not fenced.wait(every):
            try:
                if not self.queue.heartbeat(claim, self.settings.lease):
                    fenced.set()
                beaten = time.monotonic()
            except Exception as e:  # Overloaded, or a bug: the heartbeat goes on
                log(
                    logging.WARNING,
                    f"heartbeat failed; retrying: {type(e).__name__}",
                    error=str(e),
                    incident=claim.job.incident,
                )
                if time.monotonic() > beaten + self.settings.lease:
                    log(
                        logging.ERROR,
                        "no heartbeat for a whole lease: stopping the run before its next step",
                        incident=claim.job.incident,
                    )
                    fenced.set()

    def record(self, claim: Claim, result: RunResult, ids: dict[str, Any]) -> None:
        ids = ids | ({"run": run} if (run := last_run(self.store, claim.job.incident)) else {})
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


def secrets_again(state: RunState, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params a resume must be given again: those the journal holds as ``<redacted>``
    (secrets are never journaled), from the job, which keeps them in the queue."""
    journaled = state.start.get("params")
    if not isinstance(journaled, dict):
        return {}
    return {k: params[k] for k, v in journaled.items() if v == REDACTED and k in params}


def last_run(store: IncidentStore, incident: str) -> str:
    """The run id the engine journaled last (for the log lines of this run's end); "" when
    the store cannot be read now (the outcome is recorded all the same)."""
    try:
        events = store.read(incident, [])
    except IrkitError:
        return ""
    return events[-1].run if events else ""
