"""``snapshot`` (RFC 3227): the state as found, before isolate changes it, sealed like a bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from irkit.actions.collect import Collector, collect
from irkit.cluster.kube import connect
from irkit.engine import Adapters, run
from irkit.evidence.verify import verify_bundle
from irkit.model.target import parse_target
from irkit.runbook.loader import load_runbook
from irkit.settings import ClusterSettings, RunSettings
from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
NS = "production"
QUARANTINE = "irkit.io/quarantine"
POLICY = "irkit-quarantine-deployment-api-server"


def _objects(folder: Path, sub: str) -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in (folder / "state" / sub).glob("*.yaml")}


def test_the_shipped_runbook_snapshots_the_pods_before_isolate_labels_them(
    sim: SimCluster, tmp_path: Path
) -> None:
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    before = {p["metadata"]["name"]: p for p in cluster.list("pods", NS, labels="app=api-server")}
    assert before and not any(QUARANTINE in p["metadata"]["labels"] for p in before.values())
    result = run(
        load_runbook(ROOT / "runbooks" / "compromised-pod.yaml"),
        incident="inc-snap",
        adapters=Adapters(cluster=cluster, output=lambda line: None, sleep=lambda s: None),
        settings=RunSettings(incidents_dir=str(tmp_path / "incidents")),
        params={"namespace": NS, "workload": "deployment/api-server"},
        yes=True,
    )
    assert result.status == "completed", [(s.id, s.status, s.error) for s in result.steps]
    steps = {s.id: s for s in result.steps}
    assert [s.id for s in result.steps][:3] == ["snapshot", "isolate", "collect"]

    snap = Path(steps["snapshot"].outputs["bundle"])
    assert snap.name.startswith("irkit-snapshot-inc-snap-")
    pods = _objects(snap, "pods")
    assert set(pods) == set(before)
    for name, pod in pods.items():  # as found: no quarantine label yet
        assert pod["metadata"]["labels"] == before[name]["metadata"]["labels"]
        assert QUARANTINE not in pod["metadata"]["labels"]
    assert POLICY not in _objects(snap, "networkpolicies")
    assert "allow-frontend-to-api" in _objects(snap, "networkpolicies")
    assert _objects(snap, "owners/deployments")["api-server"]["spec"]["replicas"] == 3
    assert not (snap / "logs").exists()
    custody = json.loads((snap / "custody.json").read_text())
    assert custody["kind"] == "snapshot" and custody["runbook"] == "compromised-pod"

    # what collect saw after isolate: the label and irkit's policy are there
    collected = Path(steps["collect"].outputs["bundle"])
    assert all(
        p["metadata"]["labels"][QUARANTINE] == "inc-snap"
        for p in _objects(collected, "pods").values()
    )
    assert POLICY in _objects(collected, "networkpolicies")

    tarball = Path(steps["snapshot"].outputs["tarball"])
    assert (
        steps["snapshot"].outputs["sha256"]
        in tarball.with_name(tarball.name + ".sha256").read_text()
    )
    assert verify_bundle(tarball).ok and verify_bundle(snap).ok
    assert (
        "irkit-snapshot-inc-snap-" in (tmp_path / "incidents" / "inc-snap" / "rca.md").read_text()
    )


def test_state_only_collect_is_quick_and_has_no_logs(sim: SimCluster, tmp_path: Path) -> None:
    cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    result = collect(
        cluster,
        parse_target(NS, "deployment/api-server", None),
        out_dir=tmp_path,
        incident="inc-1",
        collector=Collector("h", "u", "irkit collect --state-only"),
        state_only=True,
    )
    paths = {e.path.split("/")[1] for e in result.bundle.manifest.files}
    assert paths == {"pods", "owners", "networkpolicies", "services"}
    assert len(result.pods) == 3 and result.status == "complete"
    assert result.audit == {
        "collected": False,
        "reason": "a state-only snapshot: no logs, no audit events",
    }
