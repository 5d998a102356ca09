"""``snapshot`` as a runbook step: a state-only bundle before containment."""

from __future__ import annotations

from irkit.actions.collect import Collector, collect
from irkit.actions.inputs import Targeted
from irkit.actions.needs import OWNER_KINDS, on, resolving
from irkit.actions.spec import ActionSpec, StepCall, StepOutcome
from irkit.actions.targets import resolve


class SnapshotInput(Targeted):
    """Record the target's pods, their owners and the namespace's NetworkPolicies and Services
    as they are, before containment changes them: a quick, sealed, state-only bundle
    (``irkit collect --state-only``). Put it before isolate."""


def run(call: StepCall) -> StepOutcome:
    """A state-only bundle before containment: ``collect(..., state_only=True)``."""
    cluster = call.adapters.cluster
    if call.dry_run:
        names = resolve(cluster, call.tgt).pod_names
        outputs = {"bundle": "", "tarball": "", "sha256": "", "files": 0, "failures": 0}
        plan = {"pods": names, "out_dir": str(call.paths.evidence)}
        return StepOutcome("dry-run", outputs | {"pods": names}, "would snapshot", plan)
    result = collect(
        cluster,
        call.tgt,
        out_dir=call.paths.evidence,
        incident=call.incident,
        collector=Collector.here(call.command),
        runbook=call.runbook.metadata.name,
        state_only=True,
    )
    bundle = result.bundle
    outputs = {
        "bundle": str(bundle.folder),
        "tarball": str(bundle.tarball),
        "sha256": bundle.sha256,
        "files": len(bundle.manifest.files),
        "failures": len(result.failures),
        "pods": result.pods,
    }
    note = f"{len(result.pods)} pod(s), {len(bundle.manifest.files)} files -> {bundle.tarball}"
    note += "".join(f"; WARNING {w}" for w in result.warnings)
    return StepOutcome("ok", outputs, note)


SNAPSHOT = ActionSpec(
    name="snapshot",
    inputs=SnapshotInput,
    outputs=frozenset({"bundle", "tarball", "sha256", "files", "failures", "pods"}),
    needs=(
        *resolving(),
        *on("get", OWNER_KINDS, note="the pods' owners, upwards"),
        *on("list", ["networkpolicies", "services"], note="as they were before isolate"),
    ),
    runner=run,
    bundles=True,
)
