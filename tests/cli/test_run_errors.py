"""Errors reach the terminal as one plain line, whatever text they quote (alert data, input)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke

from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
CONTAIN = str(ROOT / "tests" / "fixtures" / "runbooks" / "engine" / "contain.yaml")
MINER = str(ROOT / "tests" / "fixtures" / "alerts" / "alertmanager-miner.json")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_rich_markup_in_a_message_is_printed_as_text(sim: SimCluster) -> None:
    args = ["run", CONTAIN, "--alert-file", MINER, "--set", "workload=deployment/[/x]", "--yes"]
    result = invoke(*args, kubeconfig=sim.kubeconfig_path)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "[/x]" in errors[0], result.stderr
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
