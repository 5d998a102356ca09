"""``cordon`` and ``uncordon`` as runbook steps: a node unschedulable, and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from irkit.actions import cordon as cordon_action
from irkit.actions.inputs import Input
from irkit.actions.needs import Need, perm
from irkit.actions.spec import ActionSpec, StepCall, StepOutcome, plan, status
from irkit.actions.undo import command
from irkit.model.journal import Change


class CordonInput(Input):
    """Mark a node unschedulable (cordon) or schedulable again (uncordon)."""

    node: str
    """The node's name, e.g. from ``alert.output_fields['k8s.node.name']``."""


def run_cordon(call: StepCall) -> StepOutcome:
    return _outcome(call, cordon_action.cordon)


def run_uncordon(call: StepCall) -> StepOutcome:
    return _outcome(call, cordon_action.uncordon)


def _outcome(call: StepCall, action: Callable[..., cordon_action.CordonResult]) -> StepOutcome:
    inp = cast(CordonInput, call.inputs)
    r = action(call.adapters.cluster, inp.node, dry_run=call.dry_run, changes=call.changes)
    note = f"node/{r.node} {r.status}"
    return StepOutcome(status(call), cordon_action.outputs(r), note, plan(call))


def undo(target: list[str], changes: list[Change], incident: str) -> str:
    nodes = [c.name for c in changes if c.kind == "Node"] or target[:1]
    return " && ".join(command("irkit", "uncordon", n) for n in nodes)


_NODE = (Need(perm("get", "nodes")), Need(perm("patch", "nodes")))

CORDON = ActionSpec(
    name="cordon",
    inputs=CordonInput,
    outputs=frozenset({"node"}),
    needs=_NODE,
    runner=run_cordon,
    mutating=True,
    destructive=True,
    undo=undo,
)

UNCORDON = ActionSpec(
    name="uncordon",
    inputs=CordonInput,
    outputs=frozenset({"node"}),
    needs=_NODE,
    runner=run_uncordon,
    mutating=True,
    lifts=True,
)
