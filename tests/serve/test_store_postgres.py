"""The PostgreSQL IncidentStore behaves as the FileStore does: the same events appended read
back equal and in order, one run lock per incident (``Locked`` at once), ``running`` while it
is held, the same incidents listed; and the engine runs a runbook with it when it takes a
store (issue 10)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from postgres import pg_server, pg_url  # noqa: F401

from irkit.errors import Locked, UsageError
from irkit.incident.store import FileStore, IncidentStore
from irkit.model.journal import Change, RunEvent
from irkit.queue.postgres import open_postgres

ROOT = Path(__file__).resolve().parents[2]


def events(incident: str) -> list[RunEvent]:
    policy = {"metadata": {"name": "irkit-isolate-p1"}, "spec": {"podSelector": {}}}
    made = [
        RunEvent("run-start", incident, data={"runbook": {"name": "contain"}}, run="r1"),
        RunEvent("step-start", incident, step="isolate", action="isolate", run="r1"),
        RunEvent(
            "step-change",
            incident,
            step="isolate",
            changes=[Change("create", "NetworkPolicy", "production", "p1", None, policy)],
            run="r1",
        ),
        RunEvent(
            "step-end",
            incident,
            step="isolate",
            status="ok",
            run="r1",
            data={"note": "nul \x00 and 'quotes'; \u00e9"},
        ),
        RunEvent("run-end", incident, status="completed", run="r1"),
    ]
    return [replace(e, time=f"2026-11-26T03:05:3{i}.000000Z") for i, e in enumerate(made)]


@pytest.fixture(params=["file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IncidentStore]:
    if request.param == "file":
        yield FileStore(tmp_path / "incidents")
        return
    url = request.getfixturevalue("pg_url")
    queue, pg_store = open_postgres(url)
    yield pg_store
    queue.close()


def test_events_read_back_equal_and_in_order(store: IncidentStore) -> None:
    for event in events("inc-1"):
        store.append("inc-1", event)
    store.append("inc-2", events("inc-2")[0])
    store.append("", RunEvent("run-start", "", data={"kind": "command"}))
    notes: list[str] = []
    assert store.read("inc-1", notes) == events("inc-1") and notes == []
    assert store.read("inc-2", notes) == events("inc-2")[:1]
    assert [e.data for e in store.read("", notes)] == [{"kind": "command"}]
    assert store.read("inc-404", notes) == []
    assert store.incidents() == ["inc-1", "inc-2"]


def test_one_run_per_incident_at_a_time(store: IncidentStore) -> None:
    assert not store.running("inc-1")
    with store.lock("inc-1"):
        assert store.running("inc-1") and not store.running("inc-2")
        with (
            pytest.raises(Locked, match="incident inc-1 is being run by another irkit"),
            store.lock("inc-1"),
        ):
            pass
        with store.lock("inc-2"):
            assert store.running("inc-2")
    assert not store.running("inc-1") and not store.running("inc-2")
    with store.lock("inc-1"):
        pass  # free again


def test_a_bad_incident_id_is_refused(store: IncidentStore) -> None:
    with pytest.raises(UsageError, match="invalid incident id"):
        store.append("../etc", events("x")[0])


def test_a_row_that_is_not_an_event_is_skipped_and_said(pg_url: str) -> None:  # noqa: F811
    queue, store = open_postgres(pg_url)
    try:
        store.append("inc-1", events("inc-1")[0])
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("INSERT INTO irkit_events VALUES ('inc-1', 2, '[1, 2]')")
            conn.execute("INSERT INTO irkit_events VALUES ('inc-1', 3, '{torn')")
        store.append("inc-1", events("inc-1")[1])
        notes: list[str] = []
        got = store.read("inc-1", notes)
        assert got == events("inc-1")[:2]
        assert notes == [
            "journal of inc-1 #2: not a JSON object",
            "journal of inc-1 #3: not a JSON object",
        ]
    finally:
        queue.close()


def test_concurrent_appends_to_one_incident_keep_every_event(pg_url: str) -> None:  # noqa: F811
    import threading

    queue, store = open_postgres(pg_url)
    try:

        def write(n: int) -> None:
            for i in range(20):
                store.append("inc-1", RunEvent("step-change", "inc-1", step=f"s{n}", run=str(i)))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        got = store.read("inc-1", [])
        assert len(got) == 80
        for n in range(4):  # each writer's events in its own order
            assert [e.run for e in got if e.step == f"s{n}"] == [str(i) for i in range(20)]
    finally:
        queue.close()


def test_the_engine_runs_a_runbook_and_its_resume_with_the_postgres_store(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    from conftest import seal

    from irkit.cluster.kube import connect
    from irkit.engine import Adapters, RunResult, run
    from irkit.incident.state import read_state
    from irkit.runbook.loader import load_runbook
    from irkit.settings import ClusterSettings, RetrySettings, RunSettings

    sim = request.getfixturevalue("sim")
    seal(sim)
    queue, store = open_postgres(pg_url)
    base = tmp_path / "incidents"
    runbook = load_runbook(ROOT / "tests/fixtures/runbooks/engine/contain.yaml")
    alert = json.loads((ROOT / "tests/fixtures/alerts/alertmanager-miner.json").read_text())

    def go(**kw: object) -> RunResult:
        cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path, retry=RetrySettings(1)))
        return run(
            runbook,
            incident="inc-1",
            adapters=Adapters(cluster=cluster, store=store),
            settings=RunSettings(incidents_dir=str(base)),
            **kw,
        )

    try:
        first = go(alert=alert)
        assert first.status == "stopped" and not store.running("inc-1")
        kinds = [e.event for e in store.read("inc-1", [])]
        assert kinds[0] == "run-start" and kinds[-1] == "run-end" and "step-change" in kinds
        assert not list(base.rglob("journal.jsonl"))  # the journal is in the database only
        second = go(resume=True, yes=True)
        assert second.status == "completed"
        starts = [e.step for e in store.read("inc-1", []) if e.event == "step-start"]
        assert starts.count("isolate") == 1  # done once, not again on resume
        state = read_state(store.read("inc-1", []))
        assert state is not None and state.ended == "completed"
    finally:
        queue.close()
