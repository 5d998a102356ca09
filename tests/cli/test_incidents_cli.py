"""Incidents are first-class (issue 7, item 9): one state directory ($IRKIT_HOME) whatever the
working directory; the commands run by hand journal into their incident's folder (release and
restore find it on the cluster); `irkit rca` reads them; `irkit incidents` lists and shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import LEAKY_POLICY, command_records, no_logs_kubeconfig, seal
from helpers import invoke
from typer.testing import Result

from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "tests" / "fixtures" / "runbooks" / "engine"
TARGET = ("deployment/api-server", "-n", "production")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory: irkit must write nothing here."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def irkit(sim: SimCluster, *args: str, kubeconfig: str | None = None) -> Result:
    return invoke(*args, kubeconfig=kubeconfig or sim.kubeconfig_path)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_state_home_is_irkit_home_then_xdg_then_local_state() -> None:
    from irkit.settings import state_home

    assert state_home({"IRKIT_HOME": "/srv/ir", "XDG_STATE_HOME": "/x"}) == Path("/srv/ir")
    assert state_home({"XDG_STATE_HOME": "/x"}) == Path("/x/irkit")
    assert state_home({"XDG_STATE_HOME": "relative"}) == Path.home() / ".local/state/irkit"
    assert state_home({}) == Path.home() / ".local/state/irkit"


def test_run_settings_default_to_the_state_home(irkit_home: Path) -> None:
    from irkit.settings import RunSettings

    assert RunSettings().incidents_dir == str(irkit_home / "incidents")


def test_commands_journal_into_their_incident_whatever_the_cwd(
    sim: SimCluster, tmp_path: Path, work: Path
) -> None:
    seal(sim)
    steps = [
        ("isolate", *TARGET, "-i", "inc-h"),
        ("scale", *TARGET, "-i", "inc-h"),
        ("collect", *TARGET, "-i", "inc-h"),
        ("restore", *TARGET),  # no -i: the workload records the incident that scaled it
        ("release", *TARGET),  # no -i: the quarantine policy records the incident
    ]
    for args in steps:
        done = irkit(sim, *args)
        assert done.exit_code == 0, (args, done.output)
    assert list(work.iterdir()) == []  # no ./irkit-journal.jsonl, no ./evidence, no ./incidents
    folder = tmp_path / "incidents" / "inc-h"
    entries = command_records(folder / "journal.jsonl")
    assert [e["command"] for e in entries] == ["isolate", "scale", "collect", "restore", "release"]
    assert {e["incident"] for e in entries} == {"inc-h"}
    assert [e["result"] for e in entries[-2:]] == ["ok", "ok"]
    (bundle,) = (folder / "evidence").glob("*.tar.gz")

    rca = invoke("rca", "-i", "inc-h")
    assert rca.exit_code == 0, rca.output
    doc = (folder / "rca.md").read_text()
    lifted = doc.split("Containment already lifted:")[1].split("## Evidence")[0]
    assert "| irkit release | release |" in lifted and "| irkit restore | restore |" in lifted
    assert bundle.name.removesuffix(".tar.gz") in doc

    listed = invoke("incidents", "-o", "json")
    assert listed.exit_code == 0, listed.output
    (summary,) = json.loads(listed.stdout)["incidents"]
    assert summary["id"] == "inc-h" and summary["status"] == "commands only"


def test_an_explicit_journal_still_wins(sim: SimCluster, tmp_path: Path, work: Path) -> None:
    seal(sim)
    own = tmp_path / "mine.jsonl"
    done = irkit(sim, "isolate", *TARGET, "-i", "inc-j", "--journal", str(own))
    assert done.exit_code == 0, done.output
    assert [e["incident"] for e in command_records(own)] == ["inc-j"]
    assert not (tmp_path / "incidents" / "inc-j" / "journal.jsonl").exists()
    rca = invoke("rca", "-i", "inc-j", "--journal", str(own), "--out", "-")
    assert rca.exit_code == 0 and "irkit release deployment/api-server" in rca.stdout


def test_incidents_lists_runs_with_their_step_counts_and_shows_one(
    sim: SimCluster, tmp_path: Path, work: Path
) -> None:
    intern = no_logs_kubeconfig(sim, tmp_path / "intern.kubeconfig")
    run = irkit(sim, "run", str(RUNBOOKS / "partial.yaml"), "-i", "inc-p", kubeconfig=intern)
    assert run.exit_code == 3, run.output
    assert "WARNING not collected: logs/" in run.output
    assert "these steps did only part of their job: collect" in run.output

    listed = invoke("incidents")
    assert listed.exit_code == 0, listed.output
    header, row = listed.stdout.splitlines()
    assert header.split() == [
        "ID",
        "STATUS",
        "STARTED",
        "LAST",
        "EVENT",
        "RUNBOOK",
        "OK/PARTIAL/FAILED",
    ]
    assert row.split()[:2] == ["inc-p", "completed"] and row.split()[-2:] == [
        "engine-partial",
        "1/1/0",
    ]

    shown = invoke("incidents", "show", "inc-p", "-o", "json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["status"] == "completed" and data["runbook"] == "engine-partial"
    assert [(s["id"], s["status"]) for s in data["steps"]] == [
        ("collect", "partial"),
        ("rca", "ok"),
    ]
    assert any("pods/log" in w for w in data["steps"][0]["warnings"])
    text = invoke("incidents", "show", "inc-p")
    assert "collect (collect): partial" in text.stdout and "WARNING not collected" in text.stdout

    missing = invoke("incidents", "show", "inc-nope")
    assert missing.exit_code == 4 and "no incident inc-nope" in missing.stderr


def test_a_leaky_isolate_by_hand_is_journaled_partial_and_in_the_rca(
    sim: SimCluster, tmp_path: Path, work: Path
) -> None:
    irkit(sim, "isolate", *TARGET, "-i", "inc-l")  # the scenario's allow policy still leaks
    (entry,) = command_records(tmp_path / "incidents" / "inc-l" / "journal.jsonl")
    assert entry["result"] == "partial"
    assert any(LEAKY_POLICY in w for w in entry["outputs"]["warnings"])
    rca = invoke("rca", "-i", "inc-l", "--out", "-")
    containment = rca.stdout.split("## Containment actions")[1].split("## Evidence")[0]
    assert "isolation partial" in containment and LEAKY_POLICY in containment
    assert "--strict" in containment and "--scope pod --detach" in containment
