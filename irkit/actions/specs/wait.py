"""``wait`` as a runbook step: a pause, shortened on resume by the time already waited."""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field

from irkit.actions import wait as wait_action
from irkit.actions.inputs import Input
from irkit.actions.spec import ActionSpec, StepCall, StepInfo, StepOutcome, plan
from irkit.errors import UsageError
from irkit.model.target import Target


class WaitInput(Input):
    """Pause, e.g. for a replacement pod to start."""

    seconds: float = Field(gt=0, le=3600)
    """How long, up to an hour."""


def run(call: StepCall) -> StepOutcome:
    inp = cast(WaitInput, call.inputs)
    left = inp.seconds
    if call.started is not None:  # resumed mid-wait: only what is left of it
        left -= max(0.0, (call.adapters.clock() - call.started).total_seconds())
    if left > 0:
        wait_action.wait(left, dry_run=call.dry_run, sleep=call.adapters.sleep)
    note = f"{'would wait' if call.dry_run else 'waited'} {max(left, 0):g}s"
    return StepOutcome(
        "dry-run" if call.dry_run else "ok", {"seconds": inp.seconds}, note, plan(call)
    )


def _fits(step: StepInfo, inputs: Any, target: Target | None) -> None:
    seconds = cast(WaitInput, inputs).seconds
    if seconds > step.timeout:
        raise UsageError(f"waits {seconds:g}s, longer than the step's timeout ({step.timeout:g}s)")


WAIT = ActionSpec(
    name="wait",
    inputs=WaitInput,
    outputs=frozenset({"seconds"}),
    needs=(),
    runner=run,
    check=_fits,
)
