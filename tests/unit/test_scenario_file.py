"""One scenario file, not two copies: the example is the packaged scenario the CLI starts from."""

from __future__ import annotations

from pathlib import Path

from irkit.cli.sim import DEFAULT_SCENARIO
from irkit.sim.scenario import BUNDLED

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"


def test_the_example_scenario_is_the_packaged_one() -> None:
    assert BUNDLED.is_file() and not BUNDLED.is_symlink()
    assert EXAMPLE.is_symlink(), "examples/scenarios/ must link to irkit/sim/scenarios/, not copy"
    assert EXAMPLE.resolve() == BUNDLED


def test_the_cli_starts_from_the_packaged_scenario() -> None:
    assert DEFAULT_SCENARIO.resolve() == BUNDLED


def test_no_other_copy_of_the_scenario_in_the_repository() -> None:
    text = BUNDLED.read_bytes()
    copies = [
        p
        for top in ("examples", "tests", "docs", "bench", "runbooks", "irkit")
        for p in (ROOT / top).rglob("*.yaml")
        if p.resolve() != BUNDLED and p.read_bytes() == text
    ]
    assert copies == []
