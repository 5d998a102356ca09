"""The Queue port: accepted alerts as durable jobs, claimed by workers, one workload at a time.

``irkit serve`` answers an alert 2xx only after ``submit`` has committed its job, so an
accepted alert is never lost; workers ``claim`` jobs and run their runbook. Two adapters
implement it: ``irkit.queue.sqlite`` (embedded, WAL, one machine) and ``irkit.queue.postgres``
(several replicas: ``FOR UPDATE SKIP LOCKED`` claims with a lease). Both keep the same rules:

* Deduplication: a job's ``key`` (``irkit.engine.alerts.Alert.key``) is unique; submitting a
  known key returns the existing job with ``duplicate=True`` and creates nothing.
* One response per workload: a job is not claimed while another job of an overlapping
  ``workload`` is running (its lease alive) or awaiting approval. Keys overlap when equal, or
  when one is ``NAMESPACE/*`` (a selector or no target: the whole namespace) and the other is
  of that namespace.
* Leases and fencing: a claim holds a lease (``heartbeat`` extends it). A claim whose lease ran
  out may be taken by another worker, which bumps ``attempt``; the old worker's ``heartbeat`` and
  ``finish`` then return False and it must stop. The new worker resumes the incident from its
  journal, where every change is recorded, so each mutation happens once.
* Blast radius: ``submit`` refuses (``Refused``) a job past ``cap`` jobs for its namespace in the
  last ``window_s`` seconds, and any job in a protected namespace (the server's policy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from irkit.errors import IrkitError

QUEUED = "queued"
RUNNING = "running"
AWAITING = "awaiting-approval"
DONE = "done"
PARTIAL = "partial"
FAILED = "failed"
STATES = (QUEUED, RUNNING, AWAITING, DONE, PARTIAL, FAILED)
FINAL = (DONE, PARTIAL, FAILED)


class Refused(IrkitError):
    """A job the server's policy does not accept (blast-radius cap, protected namespace);
    ``code`` says which: ``cap``, ``protected``, or ``invalid`` (a job the database cannot
    store, e.g. text no encoding takes). Not transient: the sender must not retry."""


def cap_refused(namespace: str, count: int, window_s: float, cap: int) -> Refused:
    """The blast-radius cap's refusal. The namespace came from an alert (up to 4 KiB of
    anything): it is named only when it is a valid namespace name (a DNS label)."""
    named = f"namespace {namespace}" if _DNS_LABEL.fullmatch(namespace) else "the namespace"
    return Refused(
        f"{named} had {count} jobs in the last {window_s:g} s: the blast-radius cap is {cap}",
        code="cap",
    )


_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class Overloaded(IrkitError):
    """The queue cannot take more jobs now (too deep, or the database is unavailable): the
    server answers 503 so Alertmanager retries."""

    transient = True


@dataclass(frozen=True)
class NewJob:
    key: str
    """Idempotency key; unique across all jobs."""
    incident: str
    """The incident id the run journals under."""
    runbook: str
    """Path of the runbook file (as routed)."""
    source: str
    """alertmanager or falco"""
    alert: dict[str, Any]
    """The alert's payload (what templates see as ``alert``)."""
    namespace: str
    workload: str
    """The lock key: ``NAMESPACE/KIND/NAME`` of the top controller the job acts on (or
    ``NAMESPACE/pod/NAME``), or ``NAMESPACE/*`` for the whole namespace."""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job(NewJob):
    id: str = ""
    state: str = QUEUED
    attempt: int = 0
    """Bumped by every claim; the fencing token."""
    created_at: str = ""
    updated_at: str = ""
    error: str = ""
    """Why it failed (neutral words, no payload text)."""
    approvals: tuple[str, ...] = ()
    """Step ids approved for this job's run (``approve``)."""
    approvers: tuple[tuple[str, str], ...] = ()
    """``(step, by)`` of each approval, in order: who approved (journaled by the run)."""


@dataclass(frozen=True)
class Claim:
    job: Job
    worker: str
    attempt: int


@dataclass(frozen=True)
class Submitted:
    job: Job
    duplicate: bool


class Queue(Protocol):
    def submit(self, job: NewJob, *, cap: int | None = None, window_s: float = 3600.0) -> Submitted:
        """Commit the job durably before returning (or return the existing one for its key)."""
        ...

    def claim(self, worker: str, lease_s: float) -> Claim | None:
        """The oldest runnable job: queued, or running with its lease expired; None if none."""
        ...

    def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        """Extend the lease; False when another worker took the job over (stop at once)."""
        ...

    def finish(self, claim: Claim, state: str, error: str = "") -> bool:
        """Record the outcome (done, partial, failed or awaiting-approval); False when fenced."""
        ...

    def approve(self, incident: str, step: str, by: str) -> Job:
        """Record an approval of ``step`` for the incident's job and queue it again (it resumes);
        ``irkit.errors.NotFound`` when no job of that incident awaits approval."""
        ...

    def get(self, incident: str) -> Job | None: ...

    def jobs(self, limit: int = 100) -> list[Job]:
        """The newest jobs first."""
        ...

    def depth(self) -> int:
        """Jobs queued or running."""
        ...

    def close(self) -> None: ...
