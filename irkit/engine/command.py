"""A command run by hand (isolate, release, scale, restore, collect) as a one-step run.

``irkit run`` and the response commands write one journal, the same way: a run-start (here
``kind: command``, with the command, its target and argv), the step's step-start with its
inputs, a step-change the moment each object is changed (``JournaledChanges``, as in
``Execution``), the step-end with status, outputs and every change, and a run-end. So a
command that dies or fails after creating a NetworkPolicy still leaves its record, and the
RCA and ``irkit incidents`` read one format.

A command run takes no incident lock: several may append to the incident's journal, each with
its own run id, while a runbook run holds the lock, and ``irkit run --resume`` reads only the
runbook runs (``irkit.incident.state``). A dry run journals nothing.

Front ends run the response commands through the functions at the end (``isolate``,
``release``, ``scale``, ``restore``, ``collect``), never the actions themselves: each finds the
incident it belongs to (``irkit.engine.lookup``), journals it as a one-step run with what it
did, and returns the action's result for the front end to print. ``Journals`` gives the journal
of an incident: the store's (``IncidentJournal``) or one file given by hand (``--journal``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from irkit.actions import collect as collect_action
from irkit.actions import isolate as isolate_action
from irkit.actions import release as release_action
from irkit.actions import scale as scale_action
from irkit.audit.source import AuditScope, AuditSource
from irkit.cluster.port import Cluster
from irkit.engine.execution import JournaledChanges, stamp
from irkit.engine.lookup import names_suggested, policy_incident, restore_incident
from irkit.engine.ports import utc_now
from irkit.errors import IrkitError, UploadError
from irkit.evidence.store import EvidenceStore
from irkit.incident.ids import new_run_id
from irkit.incident.journal import EventSink, NoJournal
from irkit.model.journal import (
    COMMAND,
    RUN_END,
    RUN_START,
    STEP_CHANGE,
    STEP_END,
    STEP_START,
    Change,
    RunEvent,
)
from irkit.model.target import Target

Journals = Callable[[str], EventSink]
"""The journal of an incident ("": a command of no incident)."""
ISOLATE_REMEDY = (
    "remedy: remove or narrow those policies; isolate strict to fail instead, or isolate the "
    "pod alone (scope pod, detach) to take it out of their selectors"
)


@dataclass
class CommandStep:
    """What the command did, filled in as it goes: ``changes`` journals each append at once."""

    incident: str
    changes: list[Change]
    outputs: dict[str, Any] = field(default_factory=dict)
    result: str = "ok"  # ok, unchanged, partial


@dataclass(frozen=True)
class CommandSpec:
    command: str  # isolate, release, scale, restore, collect
    incident: str  # "" when the command belongs to no incident
    actor: str
    target: str
    argv: Sequence[str] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)  # journaled as the step's with
    dry_run: bool = False


@contextmanager
def one_step_run(
    spec: CommandSpec, journal: EventSink, clock: Callable[[], datetime] = utc_now
) -> Iterator[CommandStep]:
    """Journal the command as a run of one step around the ``with`` block; an ``IrkitError``
    is journaled as a failed step (with the changes made before it) and raised again."""
    sink: EventSink = NoJournal() if spec.dry_run else journal
    run = new_run_id()

    def event(kind: str, *, step: bool = True, **fields: Any) -> None:
        name = spec.command if step else ""
        sink.write(
            RunEvent(kind, spec.incident, name, name, time=stamp(clock()), run=run, **fields)
        )

    start: dict[str, Any] = {"kind": COMMAND, "command": spec.command, "target": spec.target}
    start |= {"argv": list(spec.argv), "actor": spec.actor, "dry_run": False}
    event(RUN_START, step=False, data=start)
    event(STEP_START, data={"with": dict(spec.inputs), "attempt": 1})
    changes: list[Change] = (
        [] if spec.dry_run else JournaledChanges(lambda c: event(STEP_CHANGE, changes=[c]))
    )
    rec = CommandStep(spec.incident, changes)
    try:
        yield rec
    except IrkitError as e:
        _end(event, spec.command, "failed", rec, str(e))
        raise
    except Exception as e:
        _end(event, spec.command, "failed", rec, f"internal error: {type(e).__name__}: {e}")
        raise
    except BaseException as e:  # Ctrl-C, SystemExit: what was changed is on record already
        _end(event, spec.command, "failed", rec, f"interrupted ({type(e).__name__})")
        raise
    _end(event, spec.command, rec.result, rec, "")


def _end(
    event: Callable[..., None], command: str, status: str, rec: CommandStep, error: str
) -> None:
    data: dict[str, Any] = {"outputs": rec.outputs}
    warnings = rec.outputs.get("warnings")
    if isinstance(warnings, list) and warnings:
        data["warnings"] = list(warnings)
    event(STEP_END, status=status, data=data, changes=list(rec.changes), error=error)
    summary = {
        "failed": [command] if status == "failed" else [],
        "partial": [command] if status == "partial" else [],
    }
    run_status = "failed" if status == "failed" else "completed"
    event(RUN_END, step=False, status=run_status, data=summary, error=error)


# ---- the response commands ---------------------------------------------------------------------
def isolate(
    cluster: Cluster,
    target: Target,
    req: isolate_action.IsolateRequest,
    journals: Journals,
    *,
    argv: Sequence[str] = (),
    remedy: str = ISOLATE_REMEDY,
) -> isolate_action.IsolateResult:
    """``req.join_existing`` (the incident was not chosen): journaled in the incident of the
    quarantine already in place, if any. ``remedy``: the warning a partial isolation journals,
    in the front end's words."""
    if req.join_existing:
        req = replace(req, incident=policy_incident(cluster, target) or req.incident)
    allow = req.allow
    inputs: dict[str, Any] = {"scope": req.scope, "detach": req.detach}
    inputs["allow"] = {"dns": allow.dns, "cidrs": list(allow.cidrs), "to": list(allow.peers)}
    inputs |= {"strict": req.strict, "reason": req.reason}
    spec = CommandSpec("isolate", req.incident, req.actor, str(target), argv, inputs, req.dry_run)
    with one_step_run(spec, journals(req.incident)) as rec, names_suggested(cluster, target):
        result = isolate_action.isolate(cluster, target, req, rec.changes)
        rec.result = "partial" if result.partial else "ok" if rec.changes else "unchanged"
        rec.outputs = {
            "policy": result.policy_name,
            "pods": result.pods,
            "partial": result.partial,
            "leaks": [leak.to_json() for leak in result.leaks],
        }
        warnings = [f"isolation partial: {w}" for w in result.warnings]
        rec.outputs["warnings"] = warnings + ([remedy] if result.partial else [])
    return result


def release(
    cluster: Cluster,
    target: Target,
    journals: Journals,
    *,
    incident: str = "",
    dry_run: bool = False,
    argv: Sequence[str] = (),
) -> release_action.ReleaseResult:
    """``incident``: the one given, which must be the quarantine's; without it, journaled in
    the incident recorded on the quarantine policy."""
    journaled_in = incident or policy_incident(cluster, target)
    actor = cluster.identity.user
    spec = CommandSpec("release", journaled_in, actor, str(target), argv, {}, dry_run)
    with one_step_run(spec, journals(journaled_in)) as rec, names_suggested(cluster, target):
        result = release_action.release(
            cluster, target, incident=incident, dry_run=dry_run, changes=rec.changes
        )
        rec.result = "ok" if rec.changes else "unchanged"
    return result


def scale(
    cluster: Cluster,
    target: Target,
    journals: Journals,
    *,
    incident: str,
    replicas: int = 0,
    force: bool = False,
    wait: bool = False,
    wait_timeout: float = 120.0,
    dry_run: bool = False,
    argv: Sequence[str] = (),
) -> scale_action.ScaleResult:
    inputs = {"replicas": replicas, "force": force, "wait": wait, "timeout": wait_timeout}
    spec = CommandSpec("scale", incident, cluster.identity.user, str(target), argv, inputs, dry_run)
    with one_step_run(spec, journals(incident)) as rec, names_suggested(cluster, target):
        result = scale_action.scale(
            cluster,
            target,
            replicas=replicas,
            force=force,
            wait=wait,
            wait_timeout=wait_timeout,
            dry_run=dry_run,
            incident=incident,
            changes=rec.changes,
        )
        rec.result = "ok" if result.changed else "unchanged"
        rec.outputs = result.to_json()
    return result


def restore(
    cluster: Cluster,
    target: Target,
    journals: Journals,
    *,
    incident: str = "",
    wait: bool = False,
    wait_timeout: float = 120.0,
    dry_run: bool = False,
    argv: Sequence[str] = (),
) -> scale_action.ScaleResult:
    """``incident``: where it is journaled; without it, the one its workloads were scaled for."""
    incident = incident or restore_incident(cluster, target)
    inputs = {"wait": wait, "timeout": wait_timeout}
    actor = cluster.identity.user
    spec = CommandSpec("restore", incident, actor, str(target), argv, inputs, dry_run)
    with one_step_run(spec, journals(incident)) as rec, names_suggested(cluster, target):
        result = scale_action.restore(
            cluster, target, wait=wait, wait_timeout=wait_timeout, dry_run=dry_run,
            changes=rec.changes,
        )  # fmt: skip
        rec.result = "ok" if result.changed else "unchanged"
        rec.outputs = result.to_json()
    return result


def collect(
    cluster: Cluster,
    target: Target,
    journals: Journals,
    *,
    incident: str,
    out_dir: Path,
    inputs: Mapping[str, Any],
    concurrency: int = 8,
    audit_sources: Sequence[AuditSource] = (),
    audit_scope: AuditScope | None = None,
    stores: Sequence[EvidenceStore] = (),
    progress: collect_action.Progress | None = None,
    collector: collect_action.Collector | None = None,
    state_only: bool = False,
    argv: Sequence[str] = (),
) -> collect_action.CollectResult:
    """``inputs``: the options as the front end took them, journaled as the step's ``with``;
    a failed upload journals the local bundle kept (its hash on record)."""
    spec = CommandSpec("collect", incident, cluster.identity.user, str(target), argv, inputs)
    with one_step_run(spec, journals(incident)) as rec, names_suggested(cluster, target):
        try:
            result = collect_action.collect(
                cluster,
                target,
                out_dir=out_dir,
                incident=incident,
                concurrency=concurrency,
                audit_sources=audit_sources,
                audit_scope=audit_scope,
                stores=stores,
                progress=progress,
                collector=collector,
                state_only=state_only,
            )
        except UploadError as e:  # the local bundle is kept: its hash goes on record
            rec.outputs = dict(e.kept)
            raise
        rec.result = "ok" if result.status == "complete" else "partial"
        rec.outputs = collect_summary(result)
    return result


def collect_summary(result: collect_action.CollectResult) -> dict[str, Any]:
    bundle = result.bundle
    return {
        "status": result.status,
        "bundle": str(bundle.folder),
        "tarball": str(bundle.tarball),
        "sha256": bundle.sha256,
        "pods": len(result.pods),
        "files": len(bundle.manifest.files),
        "bytes": bundle.manifest.total_bytes,
        "failures": [f.to_json() for f in result.failures],
        "s3": [s.uri for s in result.stored],
        "audit": result.audit,
        "warnings": result.warnings,
    }
