"""The drill scenarios in examples/scenarios: each loads in irkit.sim, its alert (shaped as
Alertmanager or Falcosidekick sends it) routes to its paired runbook among every shipped one,
and that runbook, run on the scenario, leaves the compromised pods with no open NetworkPolicy
path (irkit.model.reach over the cluster's policies) and the evidence the scenario expects.
The overlapping-allow scenario's point is checked both ways: the default isolate is partial
and names the allow policy's paths."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FAST_RETRIES, cluster_for, invoke

from irkit.drill.scenario import load_drill
from irkit.engine.alerts import Alert, alertmanager_alerts, falco_alert
from irkit.engine.routing import route, routes
from irkit.model.reach import Path as NetPath
from irkit.model.reach import describe, open_paths
from irkit.runbook.loader import load_runbook
from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"
RUNBOOKS = ROOT / "runbooks"
PAIRS = {
    "suspicious-shell": "suspicious-shell",
    "leaked-sa-token": "leaked-service-account-token",
    "overlapping-allow": "suspicious-egress",
}


def drill_of(name: str) -> dict[str, Any]:
    first = next(yaml.safe_load_all((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8")))
    assert first["kind"] == "Scenario"
    return dict(first["drill"])


def start(name: str) -> SimCluster:
    return SimCluster(SCENARIOS / f"{name}.yaml")


def alert_of(drill: dict[str, Any]) -> Alert:
    source, payload = drill["alert"]["source"], drill["alert"]["payload"]
    if source == "falco":
        return falco_alert(payload)
    (alert,) = alertmanager_alerts(payload)
    return alert


def compromised(sim: SimCluster, drill: dict[str, Any]) -> list[dict[str, Any]]:
    c = cluster_for(sim)
    where = drill["compromised"]
    if "pods" in where:
        return [c.get("pods", where["namespace"], name) for name in where["pods"]]
    return c.list("pods", where["namespace"], labels=where["selector"])


def reach(sim: SimCluster, drill: dict[str, Any]) -> list[NetPath]:
    c = cluster_for(sim)
    pods = compromised(sim, drill)
    assert pods, "the scenario's compromised pods are gone"
    return open_paths(pods, c.list("networkpolicies"), c.list("namespaces"))


def run(sim: SimCluster, runbook: Path, drill: dict[str, Any], tmp_path: Path) -> Any:
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(json.dumps(alert_of(drill).payload), encoding="utf-8")
    sets = [a for k, v in (drill.get("params") or {}).items() for a in ("--set", f"{k}={v}")]
    args = ["run", str(runbook), "--alert-file", str(alert_file), *sets, "-i", "inc-drill"]
    return invoke(*args, "--yes", "-o", "json", kubeconfig=sim.kubeconfig_path, env=FAST_RETRIES)


def bundle_members(home: Path) -> dict[str, str]:
    """Every file of the run's collect bundle(s), by member path, with its text."""
    out: dict[str, str] = {}
    for folder in (home / "incidents" / "inc-drill" / "evidence").glob("irkit-evidence-*"):
        if folder.is_dir():
            for f in folder.rglob("*"):
                if f.is_file():
                    out[f.relative_to(folder).as_posix()] = f.read_text(errors="replace")
    return out


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_scenario_loads_and_its_compromised_pods_exist(name: str) -> None:
    drill = drill_of(name)
    with start(name) as sim:
        pods = compromised(sim, drill)
    assert pods and all(
        p["metadata"]["namespace"] == drill["compromised"]["namespace"] for p in pods
    )
    if "pods" in drill["compromised"]:
        assert [p["metadata"]["name"] for p in pods] == drill["compromised"]["pods"]


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_the_drill_section_passes_the_strict_model(name: str) -> None:
    loaded = load_drill(SCENARIOS / f"{name}.yaml")
    assert loaded.runbook == (RUNBOOKS / f"{PAIRS[name]}.yaml").resolve()
    assert loaded.spec.expect.contained and "contained" in loaded.spec.must_pass


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_alert_routes_to_the_paired_runbook_among_all_shipped(name: str) -> None:
    drill = drill_of(name)
    paired = (SCENARIOS / drill["runbook"]).resolve()
    assert paired == (RUNBOOKS / f"{PAIRS[name]}.yaml").resolve()
    alert = alert_of(drill)
    assert alert.status == "firing"
    assert alert.namespace == drill["compromised"]["namespace"]
    if "pods" in drill["compromised"]:
        assert alert.pod in drill["compromised"]["pods"]
    found = route(alert, routes(RUNBOOKS))
    assert found is not None and Path(found.path).resolve() == paired


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_paired_runbook_contains_and_leaves_the_expected_evidence(
    name: str, tmp_path: Path
) -> None:
    drill = drill_of(name)
    with start(name) as sim:
        assert reach(sim, drill), "nothing to contain: the scenario proves nothing"
        result = run(sim, (SCENARIOS / drill["runbook"]).resolve(), drill, tmp_path)
        assert result.exit_code == 0, result.output
        steps = json.loads(result.stdout)["steps"]
        assert {s["status"] for s in steps} <= {"ok", "skipped"}, steps
        assert [describe(p) for p in reach(sim, drill)] == []
    members = bundle_members(tmp_path)
    for want in drill["expect"]["evidence"]:
        if "path" not in want:
            continue
        hits = [m for m in members if fnmatch.fnmatch(m, want["path"])]
        assert hits, f"no member {want['path']} in {sorted(members)}"
        assert any(re.search(want["contains"], members[m]) for m in hits), want


OVERLAP = "overlapping-allow"
ALLOW = "shop/allow-app-traffic"


def variant(tmp_path: Path, *drop: str) -> Path:
    """suspicious-egress with the ``with:`` lines ``drop`` removed (still a valid runbook)."""
    text = (RUNBOOKS / "suspicious-egress.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if line.strip() not in drop]
    path = tmp_path / "variant.yaml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    load_runbook(path)
    return path


def test_overlapping_allow_default_isolate_is_partial_and_not_contained(tmp_path: Path) -> None:
    drill = drill_of(OVERLAP)
    runbook = variant(tmp_path, "detach: true", "strict: true")
    with start(OVERLAP) as sim:
        result = run(sim, runbook, drill, tmp_path)
        assert result.exit_code == 3, result.output  # completed, partially
        statuses = {s["id"]: s["status"] for s in json.loads(result.stdout)["steps"]}
        assert statuses["isolate"] == "partial"
        found = reach(sim, drill)
    pod = f"shop/{drill['compromised']['pods'][0]}"
    assert found == [
        NetPath("ingress", pod, "any pod in any namespace", "all ports", (ALLOW,)),
        NetPath("egress", pod, "anywhere", "all ports", (ALLOW,)),
    ]


def test_overlapping_allow_strict_without_detach_refuses_and_stays_open(tmp_path: Path) -> None:
    drill = drill_of(OVERLAP)
    runbook = variant(tmp_path, "detach: true")
    with start(OVERLAP) as sim:
        result = run(sim, runbook, drill, tmp_path)
        assert result.exit_code != 0
        assert "allow-app-traffic" in result.output
        assert {p.policies for p in reach(sim, drill)} == {(ALLOW,)}


def test_suspicious_egress_isolates_the_pod_detached_and_strict() -> None:
    rb = load_runbook(RUNBOOKS / "suspicious-egress.yaml").runbook
    isolate = rb.step("isolate").with_
    assert (isolate["scope"], isolate["detach"], isolate["strict"]) == ("pod", True, True)
    assert rb.match.alertmanager is not None
    assert rb.match.alertmanager.labels == {"alertname": "SuspiciousEgressConnection"}
