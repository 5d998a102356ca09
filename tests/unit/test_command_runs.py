"""Commands run by hand are one-step runs in the incident's one journal (issue 10): each change
journaled the moment it is made, a failure journaled with the changes before it, several
commands side by side with their own run ids, and none of them what a resume continues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from irkit.engine.command import CommandSpec, one_step_run
from irkit.errors import Conflict
from irkit.incident.commands import split_runs
from irkit.incident.journal import Journal
from irkit.incident.reader import run_events
from irkit.incident.state import read_state
from irkit.incident.store import FileStore, IncidentJournal
from irkit.model.journal import Change, RunEvent

POLICY = Change("create", "NetworkPolicy", "prod", "irkit-quarantine-deployment-api", None, {})
POD = Change("patch", "Pod", "prod", "api-0", {"labels": {}}, {"labels": {"q": "inc-1"}})


def spec(command: str = "isolate", **kw: Any) -> CommandSpec:
    return CommandSpec(command, "inc-1", "me", "deployment/api -n prod", ("irkit",), **kw)


def events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_change_is_journaled_the_moment_it_is_made(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with one_step_run(spec(inputs={"strict": False}), Journal(path)) as step:
        assert [e["event"] for e in events(path)] == ["run-start", "step-start"]
        step.changes.append(POLICY)
        assert events(path)[-1]["event"] == "step-change"  # before the command goes on
        step.changes.append(POD)
        step.outputs = {"policy": POLICY.name, "warnings": ["isolation partial: x"]}
        step.result = "partial"
    kinds = [e["event"] for e in events(path)]
    assert kinds == ["run-start", "step-start", "step-change", "step-change", "step-end", "run-end"]
    assert len({e["run"] for e in events(path)}) == 1
    (record,) = split_runs(run_events(path, []))[1]
    assert (record.command, record.result, record.changes) == ("isolate", "partial", [POLICY, POD])
    assert record.outputs["policy"] == POLICY.name and record.actor == "me"


def test_a_failure_after_a_change_keeps_the_change(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with (
        pytest.raises(Conflict),
        one_step_run(spec(), Journal(path)) as step,
    ):
        step.changes.append(POLICY)
        raise Conflict("someone else won")
    (record,) = split_runs(run_events(path, []))[1]
    assert record.result == "error" and record.changes == [POLICY]
    assert "someone else won" in record.error


def test_a_dry_run_journals_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with one_step_run(spec(dry_run=True), Journal(path)) as step:
        step.changes.append(POLICY)
    assert not path.exists()


def test_commands_beside_a_runbook_run_are_not_what_resume_continues(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    run = [
        RunEvent("run-start", "inc-1", data={"runbook": {"name": "rb"}}, run="r1"),
        RunEvent("step-start", "inc-1", "contain", "isolate", run="r1"),
        RunEvent("step-end", "inc-1", "contain", "isolate", "ok", run="r1"),
        RunEvent("step-end", "inc-1", "approve", "scale", "awaiting-approval", run="r1"),
        RunEvent("run-end", "inc-1", status="stopped", run="r1"),
    ]
    for event in run[:3]:
        store.append("inc-1", event)
    with one_step_run(spec("scale"), IncidentJournal(store, "inc-1")) as step:
        step.changes.append(POD)
    for event in run[3:]:
        store.append("inc-1", event)
    with one_step_run(spec("collect"), IncidentJournal(store, "inc-1")):
        pass
    state = read_state(store.read("inc-1", []))
    assert state is not None and state.runbook == {"name": "rb"}
    assert set(state.done) == {"contain", "approve"} and state.ended == "stopped"
    runs, records = split_runs(store.read("inc-1", []))
    assert [r.command for r in records] == ["scale", "collect"]
    assert [e.event for e in runs] == [e.event for e in run]
    assert len({r.run for r in records}) == 2
    assert not store.running("inc-1")  # commands took no lock: a resume can take it
    with store.lock("inc-1"):
        assert store.running("inc-1")


def test_only_commands_is_no_run_to_resume(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    with one_step_run(spec(), IncidentJournal(store, "inc-1")):
        pass
    assert read_state(store.read("inc-1", [])) is None
    assert store.incidents() == ["inc-1"]
