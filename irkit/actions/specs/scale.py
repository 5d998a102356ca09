"""``scale`` and ``restore`` as runbook steps: replicas down, recorded, and put back."""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field

from irkit.actions.inputs import Targeted
from irkit.actions.needs import SELECTOR, Need, by_kind, on, perm
from irkit.actions.scale import ScaleResult, check_scalable, restore, scale
from irkit.actions.spec import ActionSpec, StepCall, StepInfo, StepOutcome, plan, status
from irkit.actions.undo import irkit_on_target
from irkit.model.target import Target


class ScaleInput(Targeted):
    """Scale Deployments/StatefulSets down, recording their replicas (``irkit scale``)."""

    replicas: int = Field(default=0, ge=0)
    """Replicas to scale to."""
    force: bool = False
    """Also remove HorizontalPodAutoscalers targeting the workload (saved; restore recreates
    them). Without it an HPA makes scale refuse."""
    wait: bool = False
    """Wait until the pods are gone."""
    timeout: float = Field(default=120, gt=0)
    """Seconds wait waits at most."""


class RestoreInput(Targeted):
    """Put back the replicas (and HPAs) scale recorded (``irkit restore``)."""

    wait: bool = False
    """Wait until the pods are back."""
    timeout: float = Field(default=120, gt=0)
    """Seconds wait waits at most."""


def run_scale(call: StepCall) -> StepOutcome:
    inp = cast(ScaleInput, call.inputs)
    r = scale(
        call.adapters.cluster,
        call.tgt,
        replicas=inp.replicas,
        force=inp.force,
        wait=inp.wait,
        wait_timeout=inp.timeout,
        dry_run=call.dry_run,
        incident=call.incident,
        changes=call.changes,
    )
    return _outcome(call, r)


def run_restore(call: StepCall) -> StepOutcome:
    inp = cast(RestoreInput, call.inputs)
    r = restore(
        call.adapters.cluster,
        call.tgt,
        wait=inp.wait,
        wait_timeout=inp.timeout,
        dry_run=call.dry_run,
        changes=call.changes,
    )
    return _outcome(call, r)


def _outcome(call: StepCall, r: ScaleResult) -> StepOutcome:
    workloads = r.to_json()["workloads"]
    note = ", ".join(f"{w.ref} {w.before}->{w.after} ({w.status})" for w in r.workloads)
    warnings = []
    if r.skipped:
        note += f"; not scalable, left running: {', '.join(r.skipped)}"
        warnings = [f"{ref} matched and kept running: it cannot be scaled" for ref in r.skipped]
    return StepOutcome(
        status(call, bool(r.skipped)), {"workloads": workloads}, note, plan(call), warnings
    )


def _scalable(step: StepInfo, inputs: Any, target: Target | None) -> None:
    if target is not None:
        check_scalable(target, str(step.action))


_SCALABLE = ("deployments", "statefulsets")
_TARGETS = frozenset({SELECTOR, *_SCALABLE})
_HPA = "horizontalpodautoscalers"


def _scaling(option_wait: str = "wait") -> tuple[Need, ...]:
    """What scale and restore share: the workloads, chosen by name or by their own labels,
    patched (records) and scaled through the ``scale`` subresource."""
    return (
        Need(perm("get", "namespaces"), _TARGETS),
        *by_kind("get", _SCALABLE),
        *on("list", _SCALABLE, [SELECTOR], note="-l matches the workloads' own labels"),
        *by_kind("patch", _SCALABLE),
        *on("patch", _SCALABLE, [SELECTOR]),
        *(Need(perm("patch", k, "scale"), frozenset({k, SELECTOR})) for k in _SCALABLE),
        # --wait resolves each workload again to count its pods
        *on("list", ["pods"], _TARGETS, option=option_wait),
        *on("get", ["replicasets"], ["deployments", SELECTOR], option=option_wait),
        *on("get", _SCALABLE, [SELECTOR], option=option_wait),
    )


SCALE = ActionSpec(
    name="scale",
    inputs=ScaleInput,
    outputs=frozenset({"workloads"}),
    needs=(
        *_scaling(),
        *on("get", _SCALABLE, [SELECTOR], note="re-read after a conflicting write"),
        *on(
            "list",
            ["daemonsets"],
            [SELECTOR],
            note="optional: names DaemonSets -l also matches (a refusal is ignored)",
        ),
        *on("list", [_HPA], _TARGETS, note="an HPA would scale the workload back up"),
        *on("delete", [_HPA], _TARGETS, option="force", note="saved on the workload"),
    ),
    runner=run_scale,
    mutating=True,
    destructive=True,
    undo=irkit_on_target("restore"),
    check=_scalable,
)

RESTORE = ActionSpec(
    name="restore",
    inputs=RestoreInput,
    outputs=frozenset({"workloads"}),
    needs=(
        *_scaling(),
        *on("get", [_HPA], _TARGETS, note="HPAs scale --force saved"),
        *on("create", [_HPA], _TARGETS, note="recreates the saved HPAs"),
    ),
    runner=run_restore,
    mutating=True,
    lifts=True,
    check=_scalable,
)
