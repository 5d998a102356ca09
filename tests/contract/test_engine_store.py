"""The engine keeps an incident's journal and run lock in its ``IncidentStore`` only (issue 10):
a run and its resume against an in-memory store write no journal file, and the resume
continues from the store's events. The incident folder holds only artefacts (bundles, rca.md).
Commands run by hand go through ``irkit.engine.command`` into the same store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import seal
from memory_store import MemoryStore

from irkit.actions.isolate import IsolateRequest
from irkit.cluster.kube import connect
from irkit.engine import Adapters, RunResult, command, run
from irkit.engine.incidents import list_incidents
from irkit.engine.rca import build_rca
from irkit.errors import Locked, NotFound
from irkit.incident.commands import split_runs
from irkit.incident.paths import IncidentPaths
from irkit.incident.state import read_state
from irkit.incident.store import IncidentJournal
from irkit.model.target import parse_target
from irkit.runbook.loader import load_runbook
from irkit.settings import ClusterSettings, RetrySettings, RunSettings
from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
CONTAIN = ROOT / "tests" / "fixtures" / "runbooks" / "engine" / "contain.yaml"
ALERT = ROOT / "tests" / "fixtures" / "alerts" / "alertmanager-miner.json"


def go(sim: SimCluster, store: MemoryStore, base: Path, **kw: Any) -> RunResult:
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path, retry=RetrySettings(1)))
    return run(
        load_runbook(CONTAIN),
        incident="inc-1",
        adapters=Adapters(cluster=cluster, store=store),
        settings=RunSettings(incidents_dir=str(base)),
        **kw,
    )


def journal_files(base: Path) -> list[Path]:
    """Journals and run locks (a bundle's own files, such as ``events.jsonl``, are artefacts)."""
    return sorted(p for p in base.rglob("*") if p.name in ("journal.jsonl", ".lock"))


def test_a_run_and_its_resume_keep_the_journal_in_the_store(
    sim: SimCluster, tmp_path: Path
) -> None:
    seal(sim)
    store, base = MemoryStore(), tmp_path / "incidents"
    first = go(sim, store, base, alert=json.loads(ALERT.read_text()))
    assert first.status == "stopped" and first.awaiting == "contain"
    assert first.journal is None  # the store keeps no file to point at
    kinds = [e.event for e in store.events["inc-1"]]
    assert kinds[0] == "run-start" and kinds[-1] == "run-end" and "step-change" in kinds
    assert journal_files(base) == []
    assert not store.running("inc-1")  # the run held the store's lock, and let it go

    state = read_state(store.read("inc-1", []))
    assert state is not None and state.ended == "stopped"
    assert {s for s, d in state.done.items() if d["status"] == "ok"} == {"isolate", "collect"}

    second = go(sim, store, base, resume=True, yes=True)
    assert second.status == "completed", second.steps
    runs = [e for e in store.events["inc-1"] if e.event == "run-start"]
    assert len(runs) == 2 and runs[1].data["resumed"] is True
    starts = [e.step for e in store.events["inc-1"] if e.event == "step-start"]
    assert starts.count("isolate") == 1 and starts.count("collect") == 1  # not run again
    assert journal_files(base) == []
    paths = IncidentPaths.of("inc-1", base)
    assert paths.rca.is_file() and any(paths.evidence.iterdir())  # artefacts: in the folder
    assert "isolate" in paths.rca.read_text()  # the rca step read its journal from the store

    data = build_rca(paths, store=store)  # the RCA reads the store too
    assert data.status == "completed" and not data.notes
    (summary,) = list_incidents(store, base)
    assert (summary.id, summary.status) == ("inc-1", "completed")


def test_the_store_lock_and_an_empty_store(sim: SimCluster, tmp_path: Path) -> None:
    store, base = MemoryStore(), tmp_path / "incidents"
    with pytest.raises(NotFound, match="incident inc-1 has no run to resume"):
        go(sim, store, base, resume=True, yes=True)
    with store.lock("inc-1"), pytest.raises(Locked, match="memory store"):
        go(sim, store, base, alert=json.loads(ALERT.read_text()))
    assert store.events == {} and not base.exists()


def test_commands_run_by_hand_go_through_the_engine_into_the_store(
    sim: SimCluster, tmp_path: Path
) -> None:
    """What ``irkit isolate`` / ``irkit release`` run (``irkit.engine.command``), with a store
    that keeps no files: a release given no incident is journaled in the quarantine's."""
    store = MemoryStore()

    def journals(incident: str) -> IncidentJournal:
        return IncidentJournal(store, incident)

    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path, retry=RetrySettings(1)))
    target = parse_target("production", "deployment/api-server", None)
    req = IsolateRequest(incident="inc-9", actor=cluster.identity.user, command="test")
    isolated = command.isolate(cluster, target, req, journals, argv=["irkit", "isolate"])
    assert isolated.partial  # the shipped scenario lets frontend in: the remedy is journaled
    released = command.release(cluster, target, journals)
    assert released.policy_deleted
    assert store.incidents() == ["inc-9"] and "" not in store.events
    runs, records = split_runs(store.read("inc-9", []))
    assert runs == [] and [r.command for r in records] == ["isolate", "release"]
    assert [r.result for r in records] == ["partial", "ok"]
    assert records[0].outputs["warnings"][-1] == command.ISOLATE_REMEDY
    assert records[0].changes[0].kind == "NetworkPolicy" and records[0].argv == ["irkit", "isolate"]
    assert journal_files(tmp_path) == []
