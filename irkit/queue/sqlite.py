"""The Queue port (``irkit.queue.port``) on SQLite: the embedded default of ``irkit serve``.

One file (``<state>/serve.sqlite3``) in WAL mode with ``synchronous=FULL``: a ``submit`` has
reached the disk (the WAL fsynced) when it returns, so the 2xx the server answers after it
survives a power loss. Every write runs in ``BEGIN IMMEDIATE`` (the write lock is taken first),
so two workers can never claim one job, and waiting writers queue on ``busy_timeout`` instead of
failing. A small pool of connections serves all threads (an operation borrows one; however
many threads come and go, ``POOL`` connections at most); ``close`` closes them all.

Submits are group-committed: one thread takes every submit waiting at that moment and commits
them in one transaction, so concurrent alerts share one fsync instead of queueing for one each;
each caller still returns only after its job is on disk.

SQLite serves one machine: replicas need ``irkit.queue.postgres``.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError, NotFound
from irkit.queue.port import (
    AWAITING,
    FINAL,
    QUEUED,
    RUNNING,
    STATES,
    Claim,
    Job,
    NewJob,
    Overloaded,
    Refused,
    Submitted,
    cap_refused,
)

POOL = 4
"""Connections kept open: readers run side by side (WAL), writers take turns."""
GROUP = 64
"""Most submits committed in one transaction."""
BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another's transaction before giving up (Overloaded -> 503)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    incident TEXT NOT NULL,
    runbook TEXT NOT NULL,
    source TEXT NOT NULL,
    alert TEXT NOT NULL,
    namespace TEXT NOT NULL,
    workload TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    approvals TEXT NOT NULL DEFAULT '[]',
    approved_by TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
CREATE INDEX IF NOT EXISTS jobs_workload ON jobs (workload, state);
CREATE INDEX IF NOT EXISTS jobs_namespace ON jobs (namespace, created);
CREATE INDEX IF NOT EXISTS jobs_incident ON jobs (incident);
"""

# The oldest runnable job whose workload no other live job holds (running with a live lease,
# or awaiting approval): one response per workload at a time; NS/* overlaps every key of NS.
# Each check is an index lookup (workload, or namespace for NS/*), never a scan of live jobs.
_LIVE = (
    "o.seq != j.seq AND ((+o.state = 'running' AND o.lease_until >= :now)"
    " OR +o.state = 'awaiting-approval')"
)
_CLAIMABLE = f"""
SELECT * FROM jobs AS j
WHERE (j.state = 'queued' OR (j.state = 'running' AND j.lease_until < :now))
  AND NOT EXISTS (SELECT 1 FROM jobs AS o
    WHERE o.workload IN (j.workload, j.namespace || '/*') AND {_LIVE})
  AND (j.workload != j.namespace || '/*' OR NOT EXISTS (SELECT 1 FROM jobs AS o
    WHERE o.namespace = j.namespace AND {_LIVE}))
ORDER BY j.seq LIMIT 1
"""  # noqa: S608 (constants only)


@dataclass(frozen=True)
class _Pending:
    job: NewJob
    cap: int | None
    window_s: float
    done: Future[Submitted]


class SqliteQueue:
    """``irkit.queue.port.Queue`` in one SQLite file; ``clock`` (seconds) drives leases and
    the blast-radius window."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        connections: int = POOL,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(connections)
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._committer: threading.Thread | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._borrow() as db:
            db.executescript(_SCHEMA)

    # ---- connections -----------------------------------------------------------------------
    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        """A connection of the pool for one operation (waits while all are in use)."""
        self._slots.acquire()
        try:
            try:
                db = self._idle.get_nowait()
            except queue.Empty:
                db = self._connect()
            try:
                yield db
            finally:
                self._idle.put(db)
        finally:
            self._slots.release()

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                self.path,
                isolation_level=None,  # we say BEGIN IMMEDIATE / COMMIT ourselves
                check_same_thread=False,  # pooled: used by one thread at a time
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error as e:
            raise Overloaded(f"the queue database {self.path} cannot be opened: {e}") from e
        with self._guard:
            self._all.append(db)
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, the write lock taken first."""
        with self._borrow() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:  # busy past busy_timeout, disk full, ...
                raise Overloaded(f"the queue database is busy or unavailable: {e}") from e
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                db.execute("ROLLBACK")
                raise Overloaded(f"the queue database could not commit: {e}") from e

    def close(self) -> None:
        with self._guard:
            committer, self._committer = self._committer, None
            if committer is not None:
                self._pending.put(None)
        if committer is not None:
            committer.join()
        with self._guard:
            for db in self._all:
                db.close()
            self._all.clear()
        self._idle = queue.LifoQueue()

    # ---- the port --------------------------------------------------------------------------
    def submit(self, job: NewJob, *, cap: int | None = None, window_s: float = 3600.0) -> Submitted:
        """Handed to the committer thread, which commits the submits waiting at that moment in
        one transaction (group commit: one fsync for many alerts); returns once committed."""
        pending = _Pending(job, cap, window_s, Future())
        with self._guard:
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="irkit-queue-commit", daemon=True
                )
                self._committer.start()
            self._pending.put(pending)
        return pending.done.result()

    def _commit_loop(self) -> None:
        while (first := self._pending.get()) is not None:
            batch = [first]
            while len(batch) < GROUP:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # close(): finish this batch, then stop
                    self._pending.put(None)
                    break
                batch.append(item)
            outcomes: list[Submitted | IrkitError] = []
            try:
                with self._write() as db:
                    for p in batch:
                        outcomes.append(self._one(db, p))
            except Exception as e:  # nothing of the batch is committed
                failure = e if isinstance(e, Overloaded) else Overloaded(f"queue write: {e}")
                for p in batch:
                    p.done.set_exception(failure)
                continue
            for p, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, IrkitError):
                    p.done.set_exception(outcome)
                else:
                    p.done.set_result(outcome)

    def _one(self, db: sqlite3.Connection, p: _Pending) -> Submitted | IrkitError:
        """One submit of a group commit, in a savepoint: a job that cannot be stored (text no
        encoding takes, ...) fails its own submit only, never the batch; a database error
        (``sqlite3.OperationalError``: disk, lock) still fails the whole batch."""
        db.execute("SAVEPOINT one")
        try:
            outcome: Submitted | IrkitError = self._insert(db, p.job, p.cap, p.window_s)
        except Refused as e:
            outcome = e
        except sqlite3.OperationalError:
            raise
        except (sqlite3.Error, ValueError, TypeError) as e:  # UnicodeEncodeError is a ValueError
            db.execute("ROLLBACK TO one")
            outcome = Refused(f"the job cannot be stored ({type(e).__name__})", code="invalid")
        db.execute("RELEASE one")
        return outcome

    def _insert(
        self, db: sqlite3.Connection, job: NewJob, cap: int | None, window_s: float
    ) -> Submitted:
        now = self.clock()
        row = db.execute("SELECT * FROM jobs WHERE key = ?", (job.key,)).fetchone()
        if row is not None:
            return Submitted(_job(row), duplicate=True)
        if cap is not None:
            (count,) = db.execute(
                "SELECT count(*) FROM jobs WHERE namespace = ? AND created > ?",
                (job.namespace, now - window_s),
            ).fetchone()
            if count >= cap:
                raise cap_refused(job.namespace, count, window_s, cap)
        stamp = _stamp(now)
        cursor = db.execute(
            "INSERT INTO jobs (key, incident, runbook, source, alert, namespace, workload,"
            " params, state, created, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.key,
                job.incident,
                job.runbook,
                job.source,
                json.dumps(job.alert),
                job.namespace,
                job.workload,
                json.dumps(job.params),
                QUEUED,
                now,
                stamp,
                stamp,
            ),
        )
        row = db.execute("SELECT * FROM jobs WHERE seq = ?", (cursor.lastrowid,)).fetchone()
        return Submitted(_job(row), duplicate=False)

    def claim(self, worker: str, lease_s: float) -> Claim | None:
        now = self.clock()
        if not self._read(_CLAIMABLE, {"now": now}):  # a WAL read: no write lock
            return None  # taken when there is nothing to claim (idle workers woken by submits)
        with self._write() as db:
            row = db.execute(_CLAIMABLE, {"now": now}).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = ?, attempt = attempt + 1, worker = ?, lease_until = ?,"
                " updated_at = ?, error = '' WHERE seq = ?",
                (RUNNING, worker, now + lease_s, _stamp(now), row["seq"]),
            )
            row = db.execute("SELECT * FROM jobs WHERE seq = ?", (row["seq"],)).fetchone()
        job = _job(row)
        return Claim(job, worker, job.attempt)

    def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        now = self.clock()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE seq = ? AND attempt = ? AND state = ?",
                (now + lease_s, int(claim.job.id), claim.attempt, RUNNING),
            )
        return cursor.rowcount == 1

    def finish(self, claim: Claim, state: str, error: str = "") -> bool:
        if state not in (*FINAL, AWAITING):
            raise ValueError(f"finish: {state!r} is not an outcome")
        now = self.clock()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = ?, error = ?, worker = '', lease_until = 0,"
                " updated_at = ? WHERE seq = ? AND attempt = ? AND state = ?",
                (state, error, _stamp(now), int(claim.job.id), claim.attempt, RUNNING),
            )
        return cursor.rowcount == 1

    def approve(self, incident: str, step: str, by: str) -> Job:
        now = self.clock()
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE incident = ? AND state = ? ORDER BY seq DESC LIMIT 1",
                (incident, AWAITING),
            ).fetchone()
            if row is None:
                raise NotFound(f"incident {incident}: no job awaits approval")
            approvals = json.loads(row["approvals"])
            if step not in approvals:
                approvals.append(step)
            approved_by = [*json.loads(row["approved_by"]), {"step": step, "by": by}]
            db.execute(
                "UPDATE jobs SET state = ?, approvals = ?, approved_by = ?, updated_at = ?"
                " WHERE seq = ?",
                (QUEUED, json.dumps(approvals), json.dumps(approved_by), _stamp(now), row["seq"]),
            )
            row = db.execute("SELECT * FROM jobs WHERE seq = ?", (row["seq"],)).fetchone()
        return _job(row)

    def get(self, incident: str) -> Job | None:
        sql = "SELECT * FROM jobs WHERE incident = ? ORDER BY seq DESC LIMIT 1"
        rows = self._read(sql, incident)
        return _job(rows[0]) if rows else None

    def jobs(self, limit: int = 100) -> list[Job]:
        return [_job(r) for r in self._read("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", limit)]

    def depth(self) -> int:
        rows = self._read("SELECT count(*) AS n FROM jobs WHERE state IN (?, ?)", QUEUED, RUNNING)
        return int(rows[0]["n"])

    def _read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        try:
            with self._borrow() as db:
                named = len(args) == 1 and isinstance(args[0], dict)
                return db.execute(sql, args[0] if named else args).fetchall()
        except sqlite3.OperationalError as e:
            raise Overloaded(f"the queue database cannot be read: {e}") from e


def _job(row: sqlite3.Row) -> Job:
    state = str(row["state"])
    assert state in STATES, state
    return Job(
        key=row["key"],
        incident=row["incident"],
        runbook=row["runbook"],
        source=row["source"],
        alert=json.loads(row["alert"]),
        namespace=row["namespace"],
        workload=row["workload"],
        params=json.loads(row["params"]),
        id=str(row["seq"]),
        state=state,
        attempt=int(row["attempt"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        error=row["error"],
        approvals=tuple(json.loads(row["approvals"])),
        approvers=tuple((str(a["step"]), str(a["by"])) for a in json.loads(row["approved_by"])),
    )


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
