"""irkit serve's workers when things around them fail: a transient store error leaves the job
to be claimed again, a worker thread that dies makes the server not ready, a worker whose
heartbeats keep failing fences itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import cluster_for
from serving import AUTH, RUNBOOKS, TOKEN, am, journal

from irkit.engine.ports import Adapters
from irkit.engine.routing import routes
from irkit.incident.store import FileStore
from irkit.queue.port import DONE, PARTIAL, RUNNING, Overloaded
from irkit.queue.sqlite import SqliteQueue
from irkit.server.app import create_app
from irkit.server.config import ServeSettings
from irkit.server.intake import Intake
from irkit.server.metrics import Metrics
from irkit.server.worker import Workers
from irkit.settings import RunSettings
from irkit.sim import SimCluster


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FlakyStore(FileStore):
    """Its first read fails as a database that dropped the connection would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0

    def read(self, incident: str, notes: Any) -> Any:
        self.reads += 1
        if self.reads == 1:
            raise Overloaded("PostgreSQL at db:5432/irkit failed: connection reset")
        return super().read(incident, notes)


def settings(tmp_path: Path, **overrides: Any) -> ServeSettings:
    run = RunSettings(incidents_dir=str(tmp_path / "incidents"))
    fields: dict[str, Any] = {"token": TOKEN, "run": run, "workers": 1}
    return ServeSettings(**(fields | overrides))


def test_a_transient_store_error_leaves_the_job_to_be_claimed_again(
    tmp_path: Path, sim: SimCluster
) -> None:
    clock = Clock()
    queue = SqliteQueue(tmp_path / "q.sqlite3", clock=clock)
    s, metrics, loaded = settings(tmp_path), Metrics(), routes(RUNBOOKS)
    incident = Intake(s, queue, loaded, metrics).take("alertmanager", am()).accepted[0]["incident"]
    store = FlakyStore(tmp_path / "incidents")
    workers = Workers(s, queue, loaded, Adapters(cluster=cluster_for(sim), store=store), metrics)
    first = queue.claim("w", s.lease)
    assert first is not None
    workers.handle(first)
    job = queue.get(incident)
    assert job is not None and job.state == RUNNING and not job.error, job  # not failed
    assert queue.claim("w", s.lease) is None  # its lease still runs
    clock.now += s.lease + 1
    again = queue.claim("w", s.lease)
    assert again is not None and again.attempt == first.attempt + 1
    workers.handle(again)
    job = queue.get(incident)
    assert job is not None and job.state in (DONE, PARTIAL) and not job.error, job
    queue.close()


class Bug(Exception):
    pass


class Fatal(BaseException):
    """Escapes every handler: what kills a thread."""


class BrokenClaims:
    """A queue whose first claims fail with ``errors`` (then the real queue answers)."""

    def __init__(self, queue: SqliteQueue, errors: list[BaseException]) -> None:
        self.inner, self.errors = queue, errors

    def claim(self, worker: str, lease_s: float) -> Any:
        if self.errors:
            raise self.errors.pop(0)
        return self.inner.claim(worker, lease_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def served(tmp_path: Path, sim: SimCluster, errors: list[BaseException]) -> Any:
    queue = SqliteQueue(tmp_path / "q.sqlite3")
    broken = BrokenClaims(queue, errors)
    s = settings(tmp_path, poll=0.02)
    app = create_app(s, broken, routes(RUNBOOKS), adapters=Adapters(cluster=cluster_for(sim)))  # type: ignore[arg-type]
    return queue, TestClient(app)


def wait(queue: SqliteQueue, incident: str, states: tuple[str, ...]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = queue.get(incident)
        if job is not None and job.state in states:
            return job.state
        time.sleep(0.05)
    raise AssertionError(f"{incident}: not in {states}")


def test_a_bug_in_claiming_does_not_kill_the_worker(tmp_path: Path, sim: SimCluster) -> None:
    queue, client = served(tmp_path, sim, [Bug("boom")])
    with client:
        reply = client.post("/v1/alerts/alertmanager", json=am(), headers=AUTH)
        incident = reply.json()["accepted"][0]["incident"]
        assert wait(queue, incident, (DONE, PARTIAL))
        assert client.get("/readyz").status_code == 200
    queue.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_readyz_is_503_when_a_worker_thread_died(tmp_path: Path, sim: SimCluster) -> None:
    queue, client = served(tmp_path, sim, [Fatal()])
    with client:
        deadline = time.monotonic() + 10
        while (reply := client.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "the dead worker went unnoticed"
            time.sleep(0.05)
        assert reply.status_code == 503 and "worker" in reply.json()["error"]
    queue.close()


class DeadHeartbeats:
    """A queue every heartbeat of which fails as an unreachable database does."""

    def __init__(self, queue: SqliteQueue) -> None:
        self.inner = queue
        self.beats = 0

    def heartbeat(self, claim: Any, lease_s: float) -> bool:
        self.beats += 1
        raise Overloaded("the queue database is busy or unavailable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_worker_whose_heartbeats_fail_for_a_whole_lease_fences_itself(
    tmp_path: Path, sim: SimCluster
) -> None:
    queue = SqliteQueue(tmp_path / "q.sqlite3")
    dead = DeadHeartbeats(queue)
    s, metrics, loaded = settings(tmp_path, lease=0.3), Metrics(), routes(RUNBOOKS)
    body = am("SlowResponse", pause="2")
    incident = Intake(s, queue, loaded, metrics).take("alertmanager", body).accepted[0]["incident"]
    adapters = Adapters(cluster=cluster_for(sim))
    workers = Workers(s, dead, loaded, adapters, metrics)  # type: ignore[arg-type]
    claim = queue.claim("w", s.lease)
    assert claim is not None
    began = time.monotonic()
    workers.handle(claim)
    assert dead.beats >= 3
    events = journal(tmp_path, incident)
    assert [e["step"] for e in events if e["event"] == "step-end"] == ["mark", "pause"]
    assert not any(e.get("step") == "note" for e in events)  # stopped before the next step
    job = queue.get(incident)
    assert job is not None and job.state == RUNNING  # left for whoever claims it next
    assert time.monotonic() - began < 10
    queue.close()
