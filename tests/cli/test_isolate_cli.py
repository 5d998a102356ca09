"""`irkit isolate` / `irkit release` end to end: a subprocess against irkit.sim."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import command_records

from irkit.sim import SimCluster


def irkit(sim: SimCluster, *args: str, journal: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "irkit", *args, "--kubeconfig", sim.kubeconfig_path]
    cmd += ["--journal", str(journal)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_isolate_then_release_with_journal(sim: SimCluster, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    args = ("isolate", "deployment/api-server", "-n", "production", "-i", "inc-7", "-o", "json")
    first = irkit(sim, *args, journal=journal)
    assert first.returncode == 3, first.stderr  # partial: another policy lets frontend in
    summary = json.loads(first.stdout)
    assert summary["status"] == "created" and len(summary["pods"]) == 3
    assert any("allow-frontend-to-api" in w for w in summary["warnings"])  # additive policies

    second = irkit(sim, *args, journal=journal)
    assert second.returncode == 3 and json.loads(second.stdout)["status"] == "unchanged"

    released = irkit(sim, "release", "deployment/api-server", "-n", "production", journal=journal)
    assert released.returncode == 0, released.stderr
    assert "deleted networkpolicy/irkit-quarantine-deployment-api-server" in released.stdout

    entries = command_records(journal)
    assert [e["command"] for e in entries] == ["isolate", "isolate", "release"]
    # allow-frontend-to-api still lets traffic in: the isolation is partial
    assert [e["result"] for e in entries] == ["partial", "partial", "ok"]
    assert [e["incident"] for e in entries] == ["inc-7"] * 3  # release: from the policy
    created = entries[0]["changes"][0]
    assert created["action"] == "create" and created["kind"] == "NetworkPolicy"
    assert created["after"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    pod_change = entries[0]["changes"][1]
    assert pod_change["after"]["labels"]["irkit.io/quarantine"] == "inc-7"
    assert "irkit.io/quarantine" not in pod_change["before"]["labels"]
    assert entries[0]["actor"] == "sim-admin" and entries[0]["incident"] == "inc-7"
    assert entries[0]["time"].endswith("Z")


def test_dry_run_prints_the_policy_and_journals_nothing(sim: SimCluster, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    out = irkit(sim, "isolate", "deploy/frontend", "-n", "production", "--dry-run", journal=journal)
    assert out.returncode == 0, out.stderr
    assert (
        "kind: NetworkPolicy" in out.stdout and "irkit-quarantine-deployment-frontend" in out.stdout
    )
    assert not journal.exists()


def test_exit_codes_and_one_line_errors(sim: SimCluster, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    missing_ns = irkit(sim, "isolate", "deployment/api-server", "-n", "nope", journal=journal)
    assert missing_ns.returncode == 4
    assert missing_ns.stderr.strip() == 'ERROR namespace "nope" not found'
    bad_kind = irkit(sim, "isolate", "cronjob/x", "-n", "production", journal=journal)
    assert bad_kind.returncode == 2 and "unknown target 'cronjob/x'" in bad_kind.stderr
    both = irkit(sim, "isolate", "pod/x", "-l", "a=b", "-n", "production", journal=journal)
    assert both.returncode == 2 and "exactly one target" in both.stderr
    forbidden = irkit(
        sim,
        "isolate",
        "deployment/api-server",
        "-n",
        "production",
        "--context",
        "irkit-sim-oncall-viewer",
        journal=journal,
    )
    assert forbidden.returncode == 5
    assert 'user "oncall-viewer" may not list networkpolicies' in forbidden.stderr
    assert (
        "TIP check with: kubectl auth can-i list networkpolicies -n production" in forbidden.stderr
    )
    assert "Traceback" not in forbidden.stderr + missing_ns.stderr + bad_kind.stderr


def test_partial_isolation_says_so_exits_3_and_suggests_the_ways_out(
    sim: SimCluster, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    args = ("isolate", "deployment/api-server", "-n", "production", "-i", "inc-7")
    strict = irkit(sim, *args, "--strict", journal=journal)
    assert strict.returncode == 1 and "allow-frontend-to-api" in strict.stderr
    (refused,) = command_records(journal)
    assert refused["result"] == "error" and refused["changes"] == []  # before any change

    out = irkit(sim, *args, journal=journal)
    assert out.returncode == 3, out.stderr
    assert (
        "PARTIAL NetworkPolicy 'allow-frontend-to-api' still allows ingress from pods "
        "app=frontend" in out.stdout
    )
    assert "ERROR isolation is partial" in out.stderr
    tip = next(line for line in out.stderr.splitlines() if line.startswith("TIP "))
    assert "--strict" in tip and "--scope pod --detach" in tip
    entry = command_records(journal)[-1]
    assert entry["result"] == "partial" and entry["outputs"]["partial"] is True
    assert entry["outputs"]["leaks"][0]["policy"] == "allow-frontend-to-api"
    assert entry["outputs"]["leaks"][0]["direction"] == "ingress"

    as_json = irkit(sim, *args, "-o", "json", journal=journal)
    summary = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and summary["partial"] is True
    assert summary["leaks"] == entry["outputs"]["leaks"]

    # The suggested way out, pasted: a detached pod is out of that policy's reach.
    suggested = tip.split("take single pods out of those policies' reach: ", 1)[1]
    command = suggested.split(";", 1)[0].split()
    assert command[:2] == ["irkit", "isolate"]
    detached = irkit(sim, *command[1:], "-o", "json", journal=journal)
    assert detached.returncode == 0, detached.stderr
    assert json.loads(detached.stdout)["partial"] is False


def test_isolate_again_without_an_incident_joins_the_quarantines_incident(
    sim: SimCluster, tmp_path: Path
) -> None:
    """A responder re-running isolate without -i gets the quarantine's incident (no refusal,
    no second incident); naming another incident is still refused (test_isolate_races)."""
    journal = tmp_path / "journal.jsonl"
    args = ("isolate", "deployment/api-server", "-n", "production", "-o", "json")
    first = irkit(sim, *args, "-i", "inc-first", journal=journal)
    assert first.returncode == 3, first.stderr  # partial: the scenario's allow-frontend-to-api
    again = irkit(sim, *args, journal=journal)
    assert again.returncode == 3, again.stderr
    summary = json.loads(again.stdout)
    assert summary["incident"] == "inc-first" and summary["status"] == "unchanged"
    entries = command_records(journal)
    assert [e["incident"] for e in entries] == ["inc-first", "inc-first"]
    assert "-i inc-first" in again.stderr  # the pasteable TIP names the joined incident


def test_another_incident_never_releases_or_rewrites_a_quarantine(
    sim: SimCluster, tmp_path: Path
) -> None:
    """Review findings: release -i inc-B lifted inc-A's quarantine; an isolate without -i that
    joined inc-A could open the deny-all with --allow-cidr."""
    journal = tmp_path / "journal.jsonl"
    target = ("deployment/api-server", "-n", "production")
    first = irkit(sim, "isolate", *target, "-i", "inc-a", "-o", "json", journal=journal)
    assert first.returncode == 3, first.stderr
    policy = json.loads(first.stdout)["policy"]

    other = irkit(sim, "release", *target, "-i", "inc-b", journal=journal)
    assert other.returncode == 1, other.stderr
    assert "quarantined by incident 'inc-a', not 'inc-b'" in other.stderr

    wider = irkit(sim, "isolate", *target, "--allow-cidr", "0.0.0.0/0", journal=journal)
    assert wider.returncode == 1, wider.stderr
    assert "joining that incident never changes its quarantine" in wider.stderr

    kubectl = ["kubectl", "--kubeconfig", sim.kubeconfig_path, "-n", "production", "-o", "json"]
    out = subprocess.run(
        [*kubectl, "get", "networkpolicy", policy],
        capture_output=True,
        text=True,
        check=True,
    )
    spec = json.loads(out.stdout)["spec"]
    assert spec.get("ingress", []) == [] and spec.get("egress", []) == []  # still deny-all
