"""Replicas sharing one PostgreSQL: a replica killed (``kill -9``) mid-run loses its claim when
its lease runs out; another replica takes the job over with the next attempt and finds in the
shared journal every event the dead one recorded; the dead one's claim is fenced.

The dead replica is a child process that claims the job, takes the incident's run lock and
journals a step through the store, as a worker does, then waits to be killed; so this test
stands on the queue and store alone, whatever the server's worker does with them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from postgres import pg_server, pg_url  # noqa: F401
from queue_contract import job

from irkit.errors import Locked
from irkit.queue.port import DONE, Claim
from irkit.queue.postgres import open_postgres

LEASE_S = 30.0

REPLICA = """
import json, sys, time
from irkit.model.journal import Change, RunEvent
from irkit.queue.postgres import open_postgres

queue, store = open_postgres(sys.argv[1])
claim = queue.claim("replica-a", float(sys.argv[2]))
inc = claim.job.incident
with store.lock(inc):
    store.append(inc, RunEvent("run-start", inc, run="r1", data={"runbook": {"name": "c"}}))
    store.append(inc, RunEvent("step-start", inc, step="isolate", action="isolate", run="r1"))
    change = Change("create", "NetworkPolicy", "production", "irkit-isolate-p1", None, {"a": 1})
    store.append(inc, RunEvent("step-change", inc, step="isolate", changes=[change], run="r1"))
    store.append(inc, RunEvent("step-end", inc, step="isolate", status="ok", run="r1"))
    store.append(inc, RunEvent("step-start", inc, step="collect", action="collect", run="r1"))
    assert queue.heartbeat(claim, float(sys.argv[2]))
    print(json.dumps({"id": claim.job.id, "attempt": claim.attempt}), flush=True)
    time.sleep(600)  # mid-step: killed here
"""


@pytest.fixture
def replica(pg_url: str) -> Iterator[subprocess.Popen[str]]:  # noqa: F811
    queue, _ = open_postgres(pg_url)
    queue.submit(job(1))
    queue.close()
    child = subprocess.Popen(
        [sys.executable, "-c", REPLICA, pg_url, str(LEASE_S)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),  # IRKIT_HOME: the test's tmp_path
    )
    yield child
    if child.poll() is None:
        child.kill()
    child.wait(10)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    child.stderr.close()


def test_a_killed_replica_is_taken_over_with_the_next_attempt_and_fenced(
    pg_url: str,  # noqa: F811
    replica: subprocess.Popen[str],
) -> None:
    assert replica.stdout is not None
    line = replica.stdout.readline()  # the replica is mid-run, its claim and lock held
    assert line, replica.stderr.read() if replica.stderr else "no output"
    held = json.loads(line)
    assert held["attempt"] == 1

    later = 0.0
    queue, store = open_postgres(pg_url, clock=lambda: time.time() + later)
    try:
        assert queue.claim("replica-b", LEASE_S) is None  # its lease is alive
        assert store.running("inc-1")
        with pytest.raises(Locked), store.lock("inc-1"):
            pass

        os.kill(replica.pid, signal.SIGKILL)
        replica.wait(10)
        deadline = time.monotonic() + 10  # the server notices the dead connection
        while store.running("inc-1") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store.running("inc-1")  # its run lock went with it
        assert queue.claim("replica-b", LEASE_S) is None  # but its lease has not run out yet

        later = LEASE_S + 1  # the dead replica's lease runs out
        taken = queue.claim("replica-b", LEASE_S)
        assert taken is not None and taken.job.id == held["id"]
        assert taken.attempt == 2 and taken.worker == "replica-b"

        old = Claim(replace(taken.job, attempt=1), "replica-a", 1)
        assert not queue.heartbeat(old, LEASE_S)  # the dead replica's claim is fenced
        assert not queue.finish(old, DONE)

        with store.lock("inc-1"):  # the new replica resumes from the shared journal
            notes: list[str] = []
            events = store.read("inc-1", notes)
            assert notes == []
            assert [(e.event, e.step) for e in events] == [
                ("run-start", ""),
                ("step-start", "isolate"),
                ("step-change", "isolate"),
                ("step-end", "isolate"),
                ("step-start", "collect"),
            ]
            assert events[2].changes[0].name == "irkit-isolate-p1"
            done = {e.step for e in events if e.event == "step-end" and e.status == "ok"}
            assert done == {"isolate"}  # so the resumed run does not isolate again
        assert queue.finish(taken, DONE)
        got = queue.get("inc-1")
        assert got is not None and got.state == DONE and got.attempt == 2
    finally:
        queue.close()
