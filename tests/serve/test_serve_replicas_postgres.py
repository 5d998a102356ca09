"""Two ``irkit serve`` replicas on one PostgreSQL: the one running a response is killed
(``kill -9``) mid-run; the other takes the job over once its lease runs out, resumes from the
journal both share in the database, and each change is made once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import cluster_for
from postgres import pg_server, pg_url  # noqa: F401 (fixtures)
from serving import POD, am
from test_serve_process import Server

from irkit.sim import SimCluster


@pytest.fixture
def replicas(tmp_path: Path, sim: SimCluster, pg_url: str) -> Iterator[tuple[Server, Server]]:  # noqa: F811
    a = Server(tmp_path / "a", sim, "--database", pg_url)
    b = Server(tmp_path / "b", sim, "--database", pg_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    yield a, b
    a.stop()
    b.stop()


def _events(pg_url: str, incident: str) -> list[dict[str, object]]:  # noqa: F811
    from irkit.queue.postgres import open_postgres

    queue, store = open_postgres(pg_url, size=1)
    try:
        return [e.to_json() for e in store.read(incident, [])]
    finally:
        queue.close()


def test_a_replica_killed_mid_run_is_taken_over_and_each_change_happens_once(
    replicas: tuple[Server, Server],
    sim: SimCluster,
    pg_url: str,  # noqa: F811
) -> None:
    a, b = replicas
    a.start()
    reply = a.post(am("SlowResponse"))
    assert reply.status_code == 202, reply.text
    incident = reply.json()["accepted"][0]["incident"]
    deadline = time.monotonic() + 20
    while not any(
        e["step"] == "mark" and e["event"] == "step-end" for e in _events(pg_url, incident)
    ):
        assert time.monotonic() < deadline, _events(pg_url, incident)
        time.sleep(0.05)
    b.start()  # the second replica: only it is left once a dies
    a.kill()
    job = b.wait(incident, ("done",))
    assert job["attempt"] == 2  # claimed again after the lease of the dead replica ran out
    events = _events(pg_url, incident)
    ends = [(e["step"], e["status"]) for e in events if e["event"] == "step-end"]
    assert ends.count(("mark", "ok")) == 1 and ends.count(("note", "ok")) == 1, ends
    changes = [c for e in events if e["step"] in ("mark", "note") for c in e["changes"] or []]
    assert len(changes) == 2, events  # one label, one annotation: nothing twice
    starts = [e for e in events if e["event"] == "run-start"]
    assert len(starts) == 2 and starts[1]["data"]["resumed"] is True
    assert not (a.tmp / "state" / "incidents" / incident / "journal.jsonl").exists()
    assert not (b.tmp / "state" / "incidents" / incident / "journal.jsonl").exists()
    pod = cluster_for(sim).get("pods", "production", POD)
    assert pod["metadata"]["annotations"]["example.com/incident"] == incident
