"""``irkit drill`` end to end on every scenario in examples/scenarios: each, drilled with its
paired runbook, passes its must-pass checks (exit 0); a deliberately broken copy of the runbook
(written to tmp_path) fails the check named for what was broken (exit 1), so a team gating a
runbook repository on ``irkit drill`` catches exactly that regression."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FAST_RETRIES, invoke

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"
RUNBOOKS = ROOT / "runbooks"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # incidents/ (and the drill reports) are relative to it


def drill(tmp_path: Path, scenario: Path, runbook: Path | None = None) -> tuple[int, Any]:
    args = ["drill", *([str(runbook)] if runbook else []), "--scenario", str(scenario)]
    result = invoke(*args, "--report", str(tmp_path / "report"), "-o", "json", env=FAST_RETRIES)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def must_pass(scenario: Path) -> list[str]:
    first = next(yaml.safe_load_all(scenario.read_text(encoding="utf-8")))
    return list(first["drill"].get("must_pass") or [])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_scenario_drilled_passes_its_must_pass_checks(scenario: Path, tmp_path: Path) -> None:
    code, report = drill(tmp_path, scenario)
    by_name = checks(report)
    wanted = must_pass(scenario)
    assert wanted, "a scenario without must_pass checks gates nothing"
    failed = {n: by_name[n] for n in wanted if by_name[n]["status"] != "pass"}
    assert failed == {}
    assert by_name["contained"]["status"] == "pass"
    assert code == 0 and report["passed"] is True


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["steps"])


def drop_steps(*ids: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"] = [s for s in _steps(doc) if s["id"] not in ids]

    return edit


def plain_isolate(doc: dict[str, Any]) -> None:
    """The default isolate: no detach, no strict (a namespace-scoped deny-all, in effect)."""
    for step in _steps(doc):
        if step["action"] == "isolate":
            step["with"].pop("detach", None)
            step["with"].pop("strict", None)


def isolate_frontend(doc: dict[str, Any]) -> None:
    """Isolate the wrong workload, and no pod quarantine: every isolate ends ok, none on the
    compromised pods."""
    doc["steps"] = [s for s in _steps(doc) if s["id"] != "quarantine_pod"]
    for step in _steps(doc):
        if step["id"] == "isolate":
            step["with"]["target"] = "deployment/frontend"


def scale_instead_of_isolate(doc: dict[str, Any]) -> None:
    """No isolate: the compromised pod's workload scaled to 0, so the pod is gone, unverified."""
    drop_steps("isolate")(doc)
    stop = {
        "id": "stop",
        "action": "scale",
        "with": {
            "namespace": "{{ params.namespace }}",
            "target": "deployment/checkout",
            "replicas": 0,
            "force": True,
        },
    }
    doc["steps"].insert(len(doc["steps"]) - 1, stop)


BROKEN = [
    # (scenario, runbook, what is broken, the check that must fail, words its detail holds)
    ("overlapping-allow", "suspicious-egress", plain_isolate, "contained", "allow-app-traffic"),
    (
        "leaked-sa-token",
        "leaked-service-account-token",
        drop_steps("isolate"),
        "contained",
        "anywhere",
    ),
    # notify quotes the collect step's outputs, so it goes too
    ("suspicious-shell", "suspicious-shell", drop_steps("collect", "notify"), "evidence", ""),
    ("compromised-pod", "compromised-pod", isolate_frontend, "contain_time", "frontend"),
    (
        "suspicious-shell",
        "suspicious-shell",
        scale_instead_of_isolate,
        "contained",
        "no longer exists: containment could not be verified",
    ),
]


@pytest.mark.parametrize(
    ("scenario", "runbook", "edit", "check", "words"),
    BROKEN,
    ids=[f"{b[0]}-{getattr(b[2], '__name__', 'edit')}" for b in BROKEN],
)
def test_a_broken_runbook_fails_the_named_check(
    scenario: str,
    runbook: str,
    edit: Callable[[dict[str, Any]], None],
    check: str,
    words: str,
    tmp_path: Path,
) -> None:
    doc = yaml.safe_load((RUNBOOKS / f"{runbook}.yaml").read_text(encoding="utf-8"))
    edit(doc)
    broken = tmp_path / "broken" / f"{runbook}.yaml"
    broken.parent.mkdir()
    broken.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    code, report = drill(tmp_path, SCENARIOS / f"{scenario}.yaml", broken)
    failed = checks(report)[check]
    assert failed["status"] == "fail" and failed["must_pass"] is True
    assert words in failed["detail"]
    assert checks(report)["route"]["status"] == "pass"  # it failed for what was broken
    assert code == 1 and report["passed"] is False
