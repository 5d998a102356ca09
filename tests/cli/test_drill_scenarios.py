"""Every example scenario with a drill section passes its drill with its paired runbook
(compromised-pod is covered in test_drill.py, with its broken variants)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import invoke

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = sorted(
    p
    for p in (ROOT / "examples" / "scenarios").glob("*.yaml")
    if p.name != "compromised-pod.yaml" and "\ndrill:" in p.read_text(encoding="utf-8")
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_the_paired_runbook_passes_the_drill(scenario: Path) -> None:
    result = invoke("drill", "--scenario", str(scenario), "-o", "json")
    data = json.loads(result.stdout[result.stdout.find("{\n") :])
    failed = {c["name"]: c["detail"] for c in data["checks"] if c["status"] == "fail"}
    assert result.exit_code == 0, failed
    checks = {c["name"]: c["status"] for c in data["checks"]}
    assert checks["route"] == checks["steps"] == checks["contained"] == "pass"
