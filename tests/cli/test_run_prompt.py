"""The approval prompt: Ctrl-D or Ctrl-C is "no", so the run stops before the step (resumable)."""

from __future__ import annotations

import io

import pytest

from irkit.cli.run_wiring import _prompt
from irkit.runbook.model import Step

STEP = Step.model_validate(
    {"id": "contain", "action": "scale", "with": {"namespace": "p", "target": "deployment/x"}}
)


def test_end_of_input_is_declined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # Ctrl-D: input() raises EOFError
    assert _prompt(STEP, {"replicas": 0}) is False


def test_ctrl_c_is_declined(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr("rich.prompt.Confirm.ask", interrupted)
    assert _prompt(STEP, {"replicas": 0}) is False
