"""`irkit scale` / `irkit restore` end to end against irkit.sim (typer's runner, in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import command_records
from helpers import invoke
from typer.testing import Result

from irkit.cluster.kube import connect
from irkit.settings import ClusterSettings
from irkit.sim import SimCluster

NS = "production"


def irkit(sim: SimCluster, tmp_path: Path, *args: str, kubeconfig: str | None = None) -> Result:
    """``irkit ARGS`` on ``sim`` (or ``kubeconfig``), journaling into ``tmp_path``."""
    journal = ("--journal", str(tmp_path / "journal.jsonl"))
    return invoke(*args, *journal, kubeconfig=kubeconfig or sim.kubeconfig_path)


def journal(tmp_path: Path) -> list[dict[str, Any]]:
    return command_records(tmp_path / "journal.jsonl")


def get(sim: SimCluster, kind: str, name: str) -> dict[str, Any]:
    return connect(ClusterSettings(kubeconfig=sim.kubeconfig_path)).get(kind, NS, name)


def hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api-server-hpa"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api-server"},
            "minReplicas": 2,
            "maxReplicas": 6,
        },
    }


def test_scale_restore_round_trip_with_journal(sim: SimCluster, tmp_path: Path) -> None:
    args = ("scale", "deployment/api-server", "-n", NS, "-i", "inc-9", "-o", "json")
    first = irkit(sim, tmp_path, *args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["changed"] and summary["incident"] == "inc-9"
    assert summary["workloads"] == [
        {
            "kind": "deployment",
            "name": "api-server",
            "before": 3,
            "after": 0,
            "status": "scaled",
            "hpas": [],
        }
    ]
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 0

    second = irkit(sim, tmp_path, *args)
    assert second.exit_code == 0 and json.loads(second.stdout)["workloads"][0]["status"] == (
        "unchanged"
    )

    back = irkit(sim, tmp_path, "restore", "deployment/api-server", "-n", NS)
    assert back.exit_code == 0, back.output
    assert "deployment/api-server: restored (replicas 0 -> 3)" in back.stdout
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 3

    again = irkit(sim, tmp_path, "restore", "deployment/api-server", "-n", NS)
    assert again.exit_code == 0 and "deployment/api-server: nothing to restore" in again.stdout

    entries = journal(tmp_path)
    assert [(e["command"], e["result"]) for e in entries] == [
        ("scale", "ok"),
        ("scale", "unchanged"),
        ("restore", "ok"),
        ("restore", "unchanged"),
    ]
    assert entries[0]["incident"] == "inc-9" and entries[0]["actor"] == "sim-admin"
    record, replicas = entries[0]["changes"]
    assert record["kind"] == "Deployment" and record["before"] == {
        "annotations": {"irkit.io/original-replicas": None, "irkit.io/scaled-by-incident": None}
    }
    assert (replicas["before"], replicas["after"]) == ({"replicas": 3}, {"replicas": 0})
    assert entries[2]["changes"][0]["after"] == {"replicas": 3}
    assert entries[2]["outputs"]["incident"] == "inc-9"


def test_text_output_and_undo_hint(sim: SimCluster, tmp_path: Path) -> None:
    out = irkit(sim, tmp_path, "scale", "-l", "tier=web", "-n", NS, "-i", "inc-3")
    assert out.exit_code == 0, out.output
    assert "deployment/frontend: scaled (replicas 2 -> 0)" in out.stdout
    assert "undo with: irkit restore -l tier=web -n production" in out.stdout


def test_selector_with_several_deployments(sim: SimCluster, tmp_path: Path) -> None:
    out = irkit(sim, tmp_path, "scale", "-l", "tier", "-n", NS, "-o", "json")
    assert out.exit_code == 0, out.output
    names = sorted(w["name"] for w in json.loads(out.stdout)["workloads"])
    assert names == ["api-server", "frontend"]
    assert get(sim, "deployments", "frontend")["spec"]["replicas"] == 0
    back = irkit(sim, tmp_path, "restore", "-l", "tier", "-n", NS, "-o", "json")
    assert [w["after"] for w in json.loads(back.stdout)["workloads"]] == [3, 2]


def test_daemonset_is_refused_pointing_to_isolate(sim: SimCluster, tmp_path: Path) -> None:
    out = irkit(sim, tmp_path, "scale", "daemonset/node-agent", "-n", NS)
    assert out.exit_code == 2
    assert "cannot scale daemonset/node-agent" in out.stderr
    assert "TIP irkit isolate daemonset/node-agent -n production" in out.stderr
    assert journal(tmp_path) == []


def test_hpa_refused_then_forced_and_restored(sim: SimCluster, tmp_path: Path) -> None:
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    cluster.create("horizontalpodautoscalers", NS, hpa())
    original = get(sim, "horizontalpodautoscalers", "api-server-hpa")

    refused = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", NS)
    assert refused.exit_code == 1
    assert 'horizontalpodautoscaler "api-server-hpa"' in refused.stderr
    assert "--force" in refused.stderr
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 3
    assert [e["result"] for e in journal(tmp_path)] == ["error"]

    forced = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", NS, "--force")
    assert forced.exit_code == 0, forced.output
    assert "removed api-server-hpa (min 2, max 6)" in forced.stdout
    assert cluster.list("horizontalpodautoscalers", NS) == []
    deleted = journal(tmp_path)[1]["changes"][1]
    assert deleted["action"] == "delete" and deleted["before"]["maxReplicas"] == 6

    back = irkit(sim, tmp_path, "restore", "deployment/api-server", "-n", NS)
    assert back.exit_code == 0, back.output
    assert "recreated api-server-hpa" in back.stdout
    assert get(sim, "horizontalpodautoscalers", "api-server-hpa")["spec"] == original["spec"]


def test_dry_run_changes_nothing_and_is_not_journaled(sim: SimCluster, tmp_path: Path) -> None:
    before = get(sim, "deployments", "api-server")
    out = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", NS, "--dry-run")
    assert out.exit_code == 0, out.output
    assert "would be scaled (replicas 3 -> 0)" in out.stdout and "nothing was changed" in out.stdout
    assert get(sim, "deployments", "api-server") == before
    assert journal(tmp_path) == []


def test_forbidden_exits_5(sim: SimCluster, tmp_path: Path) -> None:
    sim.add_user("intern", ())
    kubeconfig = sim.write_kubeconfig(tmp_path / "intern.kubeconfig", user="intern")
    out = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", NS, kubeconfig=kubeconfig)
    assert out.exit_code == 5
    assert 'ERROR forbidden: user "intern" may not' in out.stderr
    assert "TIP check with: kubectl auth can-i" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 2  # one line and a tip, no traceback
    (entry,) = journal(tmp_path)
    assert entry["result"] == "error" and "forbidden" in entry["error"]


def test_missing_namespace_exits_4(sim: SimCluster, tmp_path: Path) -> None:
    out = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", "x")
    assert out.exit_code == 4
    assert 'ERROR namespace "x" not found' in out.stderr


def test_usage_errors_exit_2(sim: SimCluster, tmp_path: Path) -> None:
    both = irkit(sim, tmp_path, "scale", "deployment/api-server", "-l", "a=b", "-n", NS)
    assert both.exit_code == 2 and "give exactly one target" in both.stderr
    bad_output = irkit(sim, tmp_path, "restore", "deployment/api-server", "-n", NS, "-o", "xml")
    assert bad_output.exit_code == 2 and "--output must be text, json or yaml" in bad_output.stderr
    negative = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", NS, "--replicas", "-1")
    assert negative.exit_code == 2 and "--replicas must be 0 or more" in negative.stderr
    assert journal(tmp_path) == []  # refused before connecting: nothing to journal


def test_selector_matching_a_daemonset_exits_3(sim: SimCluster, tmp_path: Path) -> None:
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    cluster.create(
        "daemonsets",
        NS,
        {
            "metadata": {"name": "miner", "labels": {"tier": "web"}},
            "spec": {
                "selector": {"matchLabels": {"app": "miner"}},
                "template": {
                    "metadata": {"labels": {"app": "miner"}},
                    "spec": {"containers": [{"name": "m", "image": "m:1"}]},
                },
            },
        },
    )
    out = irkit(sim, tmp_path, "scale", "-l", "tier=web", "-n", NS)
    assert out.exit_code == 3
    assert "deployment/frontend: scaled (replicas 2 -> 0)" in out.stdout
    assert "daemonset/miner also matched -l tier=web and kept running" in out.stderr
    assert "TIP irkit isolate daemonset/miner -n production" in out.stderr


def test_wait_timeout_exits_3(sim: SimCluster, tmp_path: Path) -> None:
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    uid = get(sim, "deployments", "frontend")["metadata"]["uid"]
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend", "uid": uid}
    cluster.create(
        "pods",
        NS,
        {
            "metadata": {
                "name": "frontend-stuck",
                "labels": {"app": "frontend"},
                "ownerReferences": [owner | {"controller": True}],
            },
            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
        },
    )
    args = ("scale", "deployment/frontend", "-n", NS, "--wait", "--timeout", "0.2")
    out = irkit(sim, tmp_path, *args)
    assert out.exit_code == 3
    assert "scaled, but after 0.2s deployment/frontend still has 1 pod" in out.stderr


def test_survives_429_bursts(sim: SimCluster, tmp_path: Path) -> None:
    sim.inject(resource="deployments", status=429, retry_after=0, count=3)
    out = irkit(sim, tmp_path, "scale", "deployment/api-server", "-n", NS)
    assert out.exit_code == 0, out.output
    assert get(sim, "deployments", "api-server")["spec"]["replicas"] == 0
