"""`irkit run` end to end against irkit.sim: typer's runner in-process, and a real process
killed mid-run (SIGKILL) then resumed, each mutation done exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import seal
from helpers import FAST_RETRIES, invoke, irkit_argv
from typer.testing import Result

from irkit.cluster.kube import connect
from irkit.errors import Locked
from irkit.incident.lock import incident_lock
from irkit.incident.paths import IncidentPaths
from irkit.settings import ClusterSettings
from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "tests" / "fixtures" / "runbooks" / "engine"
ALERTS = ROOT / "tests" / "fixtures" / "alerts"
CONTAIN = str(RUNBOOKS / "contain.yaml")
MINER = str(ALERTS / "alertmanager-miner.json")
NS = "production"
ORIGINAL = "irkit.io/original-replicas"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # incidents/ is relative to the working directory


def irkit(sim: SimCluster, *args: str) -> Result:
    return invoke(*args, kubeconfig=sim.kubeconfig_path, env=FAST_RETRIES)


def journal(tmp_path: Path, incident: str) -> list[dict[str, Any]]:
    path = tmp_path / "incidents" / incident / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def get(sim: SimCluster, kind: str, name: str) -> dict[str, Any]:
    return connect(ClusterSettings(kubeconfig=sim.kubeconfig_path)).get(kind, NS, name)


def test_run_with_yes_completes(sim: SimCluster, tmp_path: Path) -> None:
    seal(sim)  # isolating api-server is complete
    result = irkit(sim, "run", CONTAIN, "--alert-file", MINER, "-i", "inc-7", "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["exit_code"] == 0
    assert [s["status"] for s in summary["steps"]] == ["ok", "ok", "skipped", "ok", "ok"]
    assert "[4/5] contain (scale): ok" in result.stderr  # progress goes to stderr with -o json
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 0
    assert (tmp_path / "incidents" / "inc-7" / "rca.md").is_file()


def test_without_a_terminal_it_stops_then_resume_yes_finishes(
    sim: SimCluster, tmp_path: Path
) -> None:
    seal(sim)  # isolating api-server is complete
    first = irkit(sim, "run", CONTAIN, "--alert-file", MINER, "-i", "inc-8")
    assert first.exit_code == 3, first.output
    assert "stopped before step 'contain': it needs approval" in first.stderr
    assert "irkit run --resume inc-8 --yes" in first.output
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 3

    again = irkit(sim, "run", "--resume", "inc-8")  # the runbook path comes from the journal
    assert again.exit_code == 3

    done = irkit(sim, "run", "--resume", "inc-8", "--yes")
    assert done.exit_code == 0, done.output
    assert "[1/5] isolate (isolate): done earlier (ok)" in done.stdout
    assert "run completed" in done.stdout
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 0
    starts = [e["step"] for e in journal(tmp_path, "inc-8") if e["event"] == "step-start"]
    assert starts == ["isolate", "collect", "contain", "rca"]


def test_dry_run_prints_the_plan_and_changes_nothing(sim: SimCluster, tmp_path: Path) -> None:
    result = irkit(sim, "run", CONTAIN, "--alert-file", MINER, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "kind: NetworkPolicy" in result.stdout
    assert "name: irkit-quarantine-deployment-api-server" in result.stdout
    assert "replicas: 3" in result.stdout and "replicas: 0" in result.stdout
    assert "run dry-run" in result.stdout
    assert not (tmp_path / "incidents").exists()
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ("injection-mro.json", "invalid pod name"),
        ("injection-loop.json", "invalid pod name"),
        ("10MB", "alert payloads are limited"),
    ],
)
def test_a_hostile_alert_exits_2_before_any_step(
    sim: SimCluster, tmp_path: Path, alert: str, message: str
) -> None:
    path = ALERTS / alert
    if alert == "10MB":
        path = tmp_path / "big.json"
        path.write_text(json.dumps({"commonLabels": {"pod": "x" * (10 * 1024 * 1024)}}))
    runbook = str(RUNBOOKS / "injection.yaml")
    result = irkit(sim, "run", runbook, "--alert-file", str(path), "-i", "inc-9", "--yes")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "incidents").exists()


def test_params_are_checked(sim: SimCluster) -> None:
    unknown = irkit(sim, "run", CONTAIN, "--alert-file", MINER, "--set", "replica=1")
    assert unknown.exit_code == 2
    assert "unknown param 'replica' (did you mean 'replicas'?)" in unknown.stderr
    typed = irkit(sim, "run", CONTAIN, "--alert-file", MINER, "--set", "replicas=none")
    assert typed.exit_code == 2 and "param 'replicas': 'none' is not an integer" in typed.stderr


def test_a_locked_incident_exits_1(sim: SimCluster, tmp_path: Path) -> None:
    with incident_lock(IncidentPaths.of("inc-10", tmp_path / "incidents")):
        result = irkit(sim, "run", CONTAIN, "--alert-file", MINER, "-i", "inc-10", "--yes")
    assert result.exit_code == 1
    assert "incident inc-10 is being run by another irkit process" in result.stderr


def test_incidents_dir_and_resume_of_an_unknown_incident(sim: SimCluster, tmp_path: Path) -> None:
    seal(sim)  # isolating api-server is complete
    where = str(tmp_path / "elsewhere")
    args = ("run", CONTAIN, "--alert-file", MINER, "-i", "inc-11", "--incidents-dir", where)
    assert irkit(sim, *args, "--yes").exit_code == 0
    assert (tmp_path / "elsewhere" / "inc-11" / "journal.jsonl").is_file()
    missing = irkit(sim, "run", "--resume", "inc-11")  # not in ./incidents
    assert missing.exit_code == 4 and "incident inc-11 has no run to resume" in missing.stderr
    done = irkit(sim, "run", "--resume", "inc-11", "--incidents-dir", where)
    assert done.exit_code == 0 and "every step is done; nothing to resume" in done.output


# ---- the crash test ------------------------------------------------------------------------------
def test_killed_mid_run_resumes_and_does_each_mutation_once(
    sim: SimCluster, tmp_path: Path
) -> None:
    seal(sim)  # isolating api-server is complete
    incident = "inc-crash"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IRKIT_", "KUBECONFIG"))}
    env["IRKIT_HOME"] = str(tmp_path)
    argv = irkit_argv("run", str(RUNBOOKS / "crash.yaml"), "--yes")
    argv += ["-i", incident, "--kubeconfig", sim.kubeconfig_path]
    out = subprocess.PIPE
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out)
    try:
        deadline = time.monotonic() + 60
        while not any(
            e["event"] == "step-start" and e["step"] == "pause" for e in journal(tmp_path, incident)
        ):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the run never reached the pause step"
            time.sleep(0.02)
        # While it runs, the incident is locked against any other process.
        with (
            pytest.raises(Locked),
            incident_lock(IncidentPaths.of(incident, tmp_path / "incidents")),
        ):
            pass
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    events = journal(tmp_path, incident)
    assert events[-1]["event"] == "step-start" and events[-1]["step"] == "pause"
    assert not any(e["event"] == "run-end" for e in events)

    resumed = irkit(sim, "run", "--resume", incident)
    assert resumed.exit_code == 0, resumed.output
    assert "[2/5] contain (scale): done earlier (ok)" in resumed.stdout

    events = journal(tmp_path, incident)
    starts = [e["step"] for e in events if e["event"] == "step-start"]
    assert starts == ["isolate", "contain", "pause", "pause", "note", "rca"]
    ends = {e["step"]: e["status"] for e in events if e["event"] == "step-end"}
    assert ends == dict.fromkeys(["isolate", "contain", "pause", "note", "rca"], "ok")
    changes = [c for e in events for c in e["changes"]]
    policy_creates = [
        c for c in changes if c["kind"] == "NetworkPolicy" and c["action"] == "create"
    ]
    assert len(policy_creates) == 1
    recorded = [c for c in changes if ORIGINAL in ((c["after"] or {}).get("annotations") or {})]
    assert len(recorded) == 1 and recorded[0]["kind"] == "Deployment"
    audit = [json.loads(line) for line in sim.audit_log_path.read_text().splitlines()]
    created = [a for a in audit if _is_policy_create(a)]
    assert len(created) == 1
    deployment = get(sim, "deployments", "api-server")
    assert deployment["spec"]["replicas"] == 0
    assert deployment["metadata"]["annotations"][ORIGINAL] == "3"
    frontend = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path)).list(
        "pods", NS, labels="app=frontend"
    )
    assert {p["metadata"]["annotations"]["example.com/incident"] for p in frontend} == {incident}
    # The runbook's own rca step wrote it after the resume: the run completed, and it says so.
    rca = (tmp_path / "incidents" / incident / "rca.md").read_text()
    assert "| Status | completed |" in rca, rca[:1500]
    assert "in progress" not in rca


def _is_policy_create(event: dict[str, Any]) -> bool:
    return (
        event["verb"] == "create"
        and event["objectRef"]["resource"] == "networkpolicies"
        and event["responseStatus"]["code"] == 201
    )
