"""``release`` as a runbook step: undoes ``isolate``."""

from __future__ import annotations

from irkit.actions.inputs import Targeted
from irkit.actions.needs import on, resolving
from irkit.actions.release import release
from irkit.actions.spec import ActionSpec, StepCall, StepOutcome, plan, status


class ReleaseInput(Targeted):
    """Undo isolate: delete irkit's policy, remove the quarantine label (``irkit release``)."""


def run(call: StepCall) -> StepOutcome:
    r = release(
        call.adapters.cluster,
        call.tgt,
        incident=call.incident,
        dry_run=call.dry_run,
        changes=call.changes,
    )
    outputs = {"policy": r.policy_name, "pods": r.unlabelled}
    note = f"networkpolicy/{r.policy_name} {'deleted' if r.policy_deleted else 'absent'}"
    return StepOutcome(status(call), outputs, note, plan(call))


RELEASE = ActionSpec(
    name="release",
    inputs=ReleaseInput,
    outputs=frozenset({"policy", "pods"}),
    needs=(
        *resolving(),
        *on("get", ["networkpolicies"]),
        *on("delete", ["networkpolicies"], note="only a policy irkit created"),
        *on("list", ["networkpolicies"], note="irkit's other quarantines that still hold a pod"),
        *on("patch", ["pods"], note="removes the quarantine label"),
    ),
    runner=run,
    mutating=True,
    lifts=True,
)
