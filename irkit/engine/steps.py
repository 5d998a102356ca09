"""One function per action: a step's validated inputs -> a call of the SAME action code the CLI
commands use -> (status, outputs as declared in ``irkit.runbook.model.OUTPUTS``, plan).

``StepCall.changes`` is the list the action fills as it works, so the journal records what a
step did even when it fails half-way. With ``dry_run`` the mutating actions send every write
as a server-side dryRun, and the ``plan`` holds the objects they would create or change;
nothing else is written, sent or waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, assert_never, cast

from irkit.actions import cordon as cordon_action
from irkit.actions import label as label_action
from irkit.actions import notify as notify_action
from irkit.actions import wait as wait_action
from irkit.actions.collect import Collector, collect
from irkit.actions.isolate import IsolateRequest, isolate
from irkit.actions.netpol import AllowList
from irkit.actions.release import release
from irkit.actions.scale import restore, scale
from irkit.actions.targets import resolve
from irkit.engine.ports import Adapters
from irkit.engine.rca import write_rca
from irkit.incident.paths import IncidentPaths
from irkit.model.journal import Change
from irkit.model.target import Target
from irkit.runbook import inputs as i
from irkit.runbook.model import Action, Runbook, Step


@dataclass(frozen=True)
class StepCall:
    step: Step
    inputs: Any  # the action's model from irkit.runbook.inputs.INPUTS
    target: Target | None
    runbook: Runbook
    incident: str
    paths: IncidentPaths
    actor: str
    command: str
    adapters: Adapters
    runbook_dir: Path = Path()  # relative template paths start here
    dry_run: bool = False
    started: datetime | None = None  # when an interrupted attempt of this step began (resume)
    changes: list[Change] = field(default_factory=list)
    run_status: str = ""  # what the run is as this step runs (the rca step's Status line)

    @property
    def tgt(self) -> Target:
        assert self.target is not None
        return self.target


@dataclass(frozen=True)
class StepOutcome:
    status: str  # ok, unchanged, partial, dry-run
    outputs: dict[str, Any]
    note: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # printed, journaled, in the RCA


StepRunner = Callable[[StepCall], StepOutcome]
ISOLATE_REMEDY = (
    "remedy: remove or narrow those policies; isolate with strict: true to fail instead, or "
    "with scope: pod and detach: true to take the pod out of their selectors"
)


def runner_for(action: Action) -> StepRunner:
    match action:
        case Action.ISOLATE:
            return _isolate
        case Action.RELEASE:
            return _release
        case Action.COLLECT:
            return _collect
        case Action.SNAPSHOT:
            return _snapshot
        case Action.SCALE | Action.RESTORE:
            return _scale
        case Action.LABEL | Action.ANNOTATE:
            return _label
        case Action.CORDON | Action.UNCORDON:
            return _cordon
        case Action.NOTIFY:
            return _notify
        case Action.WAIT:
            return _wait
        case Action.RCA:
            return _rca
        case _:
            assert_never(action)


def _status(call: StepCall, partial: bool = False) -> str:
    """dry-run; partial when the action did only part of its job; else ok or unchanged."""
    if call.dry_run:
        return "dry-run"
    if partial:
        return "partial"
    return "ok" if call.changes else "unchanged"


def _brief(items: list[str], most: int = 10) -> list[str]:
    """At most ``most`` warnings, and how many more there were."""
    if len(items) <= most:
        return items
    return [*items[:most], f"... and {len(items) - most} more"]


def _plan(call: StepCall, **extra: Any) -> dict[str, Any]:
    if not call.dry_run:
        return {}
    return {"changes": [asdict(c) for c in call.changes], **extra}


def _isolate(call: StepCall) -> StepOutcome:
    inp = cast(i.IsolateInput, call.inputs)
    allow = AllowList(inp.allow_dns, tuple(inp.allow_cidr), tuple(inp.allow_to)).check()
    reason = inp.reason or f"runbook {call.runbook.metadata.name}, step {call.step.id}"
    req = IsolateRequest(
        incident=call.incident,
        actor=call.actor,
        command=call.command,
        reason=reason,
        scope=inp.scope,
        allow=allow,
        detach=inp.detach,
        strict=inp.strict,
        dry_run=call.dry_run,
    )
    r = isolate(call.adapters.cluster, call.tgt, req, call.changes)
    outputs = {"policy": r.policy_name, "namespace": r.namespace, "pods": r.pods}
    # Other policies that still let traffic reach the pods: isolation is partial.
    partial = bool(getattr(r, "partial", bool(r.warnings)))
    warnings = [f"isolation partial: {w}" for w in r.warnings]
    if partial:
        warnings.append(ISOLATE_REMEDY)
    note = f"networkpolicy/{r.policy_name} {r.status}; {len(r.pods)} pod(s) isolated"
    if partial:
        note += " (partial: other NetworkPolicies still allow traffic)"
    plan = _plan(call, objects=[r.policy])
    return StepOutcome(_status(call, partial), outputs, note, plan, warnings)


def _release(call: StepCall) -> StepOutcome:
    r = release(
        call.adapters.cluster,
        call.tgt,
        incident=call.incident,
        dry_run=call.dry_run,
        changes=call.changes,
    )
    outputs = {"policy": r.policy_name, "pods": r.unlabelled}
    note = f"networkpolicy/{r.policy_name} {'deleted' if r.policy_deleted else 'absent'}"
    return StepOutcome(_status(call), outputs, note, _plan(call))


def _collect(call: StepCall) -> StepOutcome:
    inp = cast(i.CollectInput, call.inputs)
    cluster, adapters = call.adapters.cluster, call.adapters
    pods = resolve(cluster, call.tgt).pods
    nodes = sorted({n for p in pods if (n := (p.get("spec") or {}).get("nodeName"))})
    if call.dry_run:
        names = [p["metadata"]["name"] for p in pods]
        plan = {"pods": names, "out_dir": str(call.paths.evidence), "s3": inp.s3}
        outputs = {"bundle": "", "tarball": "", "sha256": "", "uri": "", "files": 0}
        outputs |= {"failures": 0, "nodes": nodes}
        return StepOutcome("dry-run", outputs, f"would collect {len(names)} pod(s)", plan)
    sources, scope = adapters.audit(inp, adapters.clock())
    result = collect(
        cluster,
        call.tgt,
        out_dir=call.paths.evidence,
        incident=call.incident,
        concurrency=inp.concurrency,
        audit_sources=sources,
        audit_scope=scope,
        stores=adapters.stores(inp),
        collector=Collector.here(call.command),
        runbook=call.runbook.metadata.name,
    )
    bundle = result.bundle
    uri = result.stored[0].uri if result.stored else Path(bundle.tarball).resolve().as_uri()
    outputs = {
        "bundle": str(bundle.folder),
        "tarball": str(bundle.tarball),
        "sha256": bundle.sha256,
        "uri": uri,
        "files": len(bundle.manifest.files),
        "failures": len(result.failures),
        "nodes": nodes,
    }
    note = f"{len(result.pods)} pod(s), {len(bundle.manifest.files)} files -> {uri}"
    warnings = []
    if result.failures:
        note += f" ({len(result.failures)} could not be read: see the manifest)"
        warnings = _brief([f"not collected: {f.artifact} ({f.reason})" for f in result.failures])
    status = "partial" if result.failures else "ok"  # collect changes nothing, yet does work
    return StepOutcome(status, outputs, note, warnings=warnings)


def _snapshot(call: StepCall) -> StepOutcome:
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


def _scale(call: StepCall) -> StepOutcome:
    cluster = call.adapters.cluster
    if call.step.action == Action.SCALE:
        inp = cast(i.ScaleInput, call.inputs)
        r = scale(
            cluster,
            call.tgt,
            replicas=inp.replicas,
            force=inp.force,
            wait=inp.wait,
            wait_timeout=inp.timeout,
            dry_run=call.dry_run,
            incident=call.incident,
            changes=call.changes,
        )
    else:
        back = cast(i.RestoreInput, call.inputs)
        r = restore(
            cluster,
            call.tgt,
            wait=back.wait,
            wait_timeout=back.timeout,
            dry_run=call.dry_run,
            changes=call.changes,
        )
    workloads = r.to_json()["workloads"]
    note = ", ".join(f"{w.ref} {w.before}->{w.after} ({w.status})" for w in r.workloads)
    warnings = []
    if r.skipped:
        note += f"; not scalable, left running: {', '.join(r.skipped)}"
        warnings = [f"{ref} matched and kept running: it cannot be scaled" for ref in r.skipped]
    status = _status(call, bool(r.skipped))
    return StepOutcome(status, {"workloads": workloads}, note, _plan(call), warnings)


def _label(call: StepCall) -> StepOutcome:
    inp = cast(i.LabelInput, call.inputs)
    annotate = call.step.action == Action.ANNOTATE
    r = label_action.label(
        call.adapters.cluster,
        call.tgt,
        set=dict(inp.set),
        remove=list(inp.remove),
        annotate=annotate,
        dry_run=call.dry_run,
        changes=call.changes,
    )
    note = f"{r.field} of {len(r.changed)} of {len(r.pods)} pod(s) changed"
    return StepOutcome(_status(call), label_action.outputs(r), note, _plan(call))


def _cordon(call: StepCall) -> StepOutcome:
    inp = cast(i.CordonInput, call.inputs)
    run = cordon_action.cordon if call.step.action == Action.CORDON else cordon_action.uncordon
    r = run(call.adapters.cluster, inp.node, dry_run=call.dry_run, changes=call.changes)
    note = f"node/{r.node} {r.status}"
    return StepOutcome(_status(call), cordon_action.outputs(r), note, _plan(call))


def _notify(call: StepCall) -> StepOutcome:
    inp = cast(i.NotifyInput, call.inputs)
    meta = call.runbook.metadata
    notification = notify_action.Notification(
        title=inp.title or f"irkit: {meta.name} ({call.incident})",
        message=inp.message,
        incident=call.incident,
        severity=str(meta.severity),
        fields={"runbook": meta.name, "step": call.step.id},
    )
    notifier = call.adapters.notifiers(inp)
    outputs = notify_action.notify(notifier, notification, dry_run=call.dry_run)
    note = f"{outputs.get('channel', inp.channel)}: {outputs.get('status', '')}"
    plan = {"channel": inp.channel, "to": repr(notifier), "message": inp.message}
    return StepOutcome(
        "dry-run" if call.dry_run else "ok", outputs, note, plan if call.dry_run else {}
    )


def _wait(call: StepCall) -> StepOutcome:
    inp = cast(i.WaitInput, call.inputs)
    left = inp.seconds
    if call.started is not None:  # resumed mid-wait: only what is left of it
        left -= max(0.0, (call.adapters.clock() - call.started).total_seconds())
    if left > 0:
        wait_action.wait(left, dry_run=call.dry_run, sleep=call.adapters.sleep)
    note = f"{'would wait' if call.dry_run else 'waited'} {max(left, 0):g}s"
    return StepOutcome(
        "dry-run" if call.dry_run else "ok", {"seconds": inp.seconds}, note, _plan(call)
    )


def _rca(call: StepCall) -> StepOutcome:
    inp = cast(i.RcaInput, call.inputs)
    out = call.paths.root / inp.output if inp.output else call.paths.rca
    if call.dry_run:
        return StepOutcome("dry-run", {"path": str(out)}, f"would write {out}", {"path": str(out)})
    template = call.runbook_dir / inp.template if inp.template else None
    path = write_rca(
        call.paths,
        store=call.adapters.store,
        template=template,
        out=out,
        status=call.run_status or None,
    )
    return StepOutcome("ok", {"path": str(path)}, f"wrote {path}")
