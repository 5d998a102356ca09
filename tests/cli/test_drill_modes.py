"""``irkit drill --interactive`` (a tabletop fed through stdin) and ``--live`` (its own namespace
on a cluster, here a simulator standing in for a real one)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import IrkitProcess, cluster_for, invoke, irkit_argv

from irkit.drill.live import sandbox
from irkit.errors import UsageError
from irkit.model.kinds import RESOURCE_TYPES
from irkit.sim import SimCluster
from irkit.sim.scenario import BUNDLED

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIO = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"


def test_a_tabletop_records_answers_notes_and_approvals(irkit_cli: IrkitProcess) -> None:
    # answers (then an empty line), then one prompt per step end (a note after snapshot), and
    # the approval of scale_down after notify's; then the end of input
    room = "isolate the api-server pods\ncheck the logs\n\nthe snapshot was quick\n\n\n\n\ny\n"
    cmd = ["drill", "--scenario", str(SCENARIO), "--interactive", "--report", "out"]
    home = str(irkit_cli.home)
    result = subprocess.run(
        irkit_argv(*cmd),
        input=room,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": home, "IRKIT_HOME": home},
        cwd=home,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ALERT (alertmanager, firing): PodCompromised" in out
    assert "export KUBECONFIG=" in out and "What would you do first?" in out
    assert "NEXT: isolate (isolate)" in out and "EFFECT: [2/7] isolate (isolate): partial" in out
    assert "APPROVAL: step scale_down (scale)" in out
    md = (irkit_cli.home / "out" / "drill-report.md").read_text()
    assert "- isolate the api-server pods\n- check the logs\n" in md
    assert "- `snapshot`: the snapshot was quick" in md
    assert "- `scale_down`: approved" in md
    data = json.loads((irkit_cli.home / "out" / "drill-report.json").read_text())
    assert data["answers"] == ["isolate the api-server pods", "check the logs"]
    assert data["facilitator"] == [["snapshot", "the snapshot was quick"]]
    assert data["trend_key"].endswith(":tabletop")  # never compared with simulator timings


def test_a_declined_approval_stops_the_run_and_fails_the_drill(irkit_cli: IrkitProcess) -> None:
    result = invoke("drill", "--scenario", str(SCENARIO), "--interactive", "-o", "json")
    # CliRunner's stdin is empty: no answers, no notes, the approval is declined
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout[result.stdout.find("{\n") :])
    steps = next(c for c in data["checks"] if c["name"] == "steps")
    assert steps["status"] == "fail" and steps["detail"] == "the run stopped"
    assert data["approvals"] == [["scale_down", False]]


def listing(sim: SimCluster) -> dict[tuple[str, str, str], str]:
    """Every object the simulator holds outside irkit-drill-* namespaces: its resourceVersion."""
    out = {}
    for rt in RESOURCE_TYPES:
        for obj in sim.store.objects(rt):
            meta = obj["metadata"]
            ns = meta.get("namespace", "")
            if ns.startswith("irkit-drill-") or (
                rt.kind == "Namespace" and meta["name"].startswith("irkit-drill-")
            ):
                continue
            out[(rt.plural, ns, meta["name"])] = meta["resourceVersion"]
    return out


def test_a_live_drill_stays_in_its_namespace_and_deletes_it(tmp_path: Path) -> None:
    with SimCluster(BUNDLED, audit_log=tmp_path / "audit.log") as cluster:
        before = listing(cluster)
        result = invoke(
            "drill",
            "--scenario",
            str(SCENARIO),
            "--live",
            "-o",
            "json",
            kubeconfig=cluster.kubeconfig_path,
        )
        after = listing(cluster)
        namespaces = [o["metadata"]["name"] for o in cluster.store.objects(RESOURCE_TYPES[0])]
    assert result.exit_code in (0, 1), result.output
    data: dict[str, Any] = json.loads(result.stdout[result.stdout.find("{\n") :])
    ns = data["namespace"]
    assert data["mode"] == "live" and ns.startswith("irkit-drill-")
    assert f"live drill: namespace {ns} created" in result.output
    assert f"live drill: namespace {ns} deleted" in result.output
    assert ns not in namespaces
    assert after == before  # nothing outside the drill's namespace created, changed or deleted
    notes = data["notes"]
    assert "skipped cluster-scoped ClusterRole oncall-viewer" in notes
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["route"]["status"] == "pass"  # the alert was rewritten into the namespace
    assert checks["steps"]["status"] == "pass", checks["steps"]
    assert checks["scaled"]["status"] == "pass" and checks["undo"]["status"] == "pass"
    assert checks["injects"]["status"] == "skip"  # throttle is a simulator fault
    assert "throttle@collect (a simulator fault" in checks["injects"]["detail"]


def test_the_live_namespace_is_deleted_on_ctrl_c_and_an_existing_one_refused(
    empty_sim: SimCluster,
) -> None:
    cluster = cluster_for(empty_sim)
    said: list[str] = []
    with (
        pytest.raises(KeyboardInterrupt),
        sandbox(cluster, "irkit-drill-x1", "drill-x1", said.append),
    ):
        assert cluster.get("namespaces", "", "irkit-drill-x1")["metadata"]["labels"] == {
            "irkit.io/drill": "drill-x1"
        }
        raise KeyboardInterrupt
    assert said == [
        "live drill: namespace irkit-drill-x1 created",
        "live drill: namespace irkit-drill-x1 deleted",
    ]
    names = [o["metadata"]["name"] for o in cluster.list("namespaces")]
    assert "irkit-drill-x1" not in names
    taken = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "irkit-drill-x2"}}
    cluster.create("namespaces", "", taken)
    for name, why in (("irkit-drill-x2", "exists already"), ("default", "only in a namespace")):
        with pytest.raises(UsageError, match=why), sandbox(cluster, name, "x", said.append):
            pass  # pragma: no cover
    assert cluster.get("namespaces", "", "irkit-drill-x2")  # refused, so left alone


def test_a_live_runbook_naming_another_namespace_is_refused_by_the_guard(tmp_path: Path) -> None:
    text = (ROOT / "runbooks" / "compromised-pod.yaml").read_text(encoding="utf-8")
    hard_coded = tmp_path / "compromised-pod.yaml"
    hard_coded.write_text(
        text.replace('namespace: "{{ params.namespace }}"', "namespace: production"),
        encoding="utf-8",
    )
    with SimCluster(BUNDLED, audit_log=tmp_path / "audit.log") as cluster:
        before = listing(cluster)
        result = invoke(
            "drill",
            str(hard_coded),
            "--scenario",
            str(SCENARIO),
            "--live",
            "-o",
            "json",
            kubeconfig=cluster.kubeconfig_path,
        )
        after = listing(cluster)
    assert result.exit_code == 1, result.output
    assert after == before  # production untouched: no label, no policy, no scale
    refused = (
        "live drill: refusing to create networkpolicies/irkit-quarantine-deployment-api-server "
        "in namespace production: a live drill writes only in its namespace irkit-drill-"
    )
    data: dict[str, Any] = json.loads(result.stdout[result.stdout.find("{\n") :])
    steps = {c["name"]: c for c in data["checks"]}["steps"]
    assert steps["status"] == "fail" and refused in steps["detail"]


def test_a_scenario_runbook_outside_its_tree_runs_only_when_named(tmp_path: Path) -> None:
    first, *rest = SCENARIO.read_text(encoding="utf-8").split("\n---\n")
    outside = tmp_path / "elsewhere" / "rb.yaml"
    outside.parent.mkdir()
    outside.write_text((ROOT / "runbooks" / "compromised-pod.yaml").read_text(), encoding="utf-8")
    moved = first.replace("runbook: ../../runbooks/compromised-pod.yaml", f"runbook: {outside}")
    assert moved != first
    scenario = tmp_path / "scenarios" / "s.yaml"
    scenario.parent.mkdir()
    scenario.write_text("\n---\n".join([moved, *rest]), encoding="utf-8")
    refused = invoke("drill", "--scenario", str(scenario), "-o", "json")
    assert refused.exit_code == 2
    assert "is outside" in refused.output and "RUNBOOK argument" in refused.output
    named = invoke("drill", str(outside), "--scenario", str(scenario), "-o", "json")
    assert named.exit_code in (0, 1), named.output
