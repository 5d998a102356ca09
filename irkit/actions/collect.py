"""``collect``: the evidence of a target, packed, hashed, recorded, and stored.

    result = collect(cluster, target, out_dir=Path("evidence"), incident="inc-42")

Order matters for evidence: logs first (they rotate and pods die), in parallel, while the main
thread reads the surrounding state; then audit events; then custody, the manifest, the tarball;
then uploads. What could not be read is listed in the manifest's failures and makes the result
``partial``; it never stops the rest. An upload that fails keeps the local bundle and says where.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from irkit import __version__
from irkit.actions.collect_audit import collect_audit
from irkit.actions.collect_logs import NoProgress, Progress, collect_logs
from irkit.actions.collect_state import collect_state
from irkit.actions.targets import resolve
from irkit.audit.filter import actor_for_service_account
from irkit.audit.source import AuditScope, AuditSource
from irkit.cluster.port import Cluster, Obj
from irkit.errors import EvidenceError, IrkitError, UploadError
from irkit.evidence.bundle import Bundle, BundleWriter, Clock, rfc3339, utc_now
from irkit.evidence.store import EvidenceStore, StoredObject
from irkit.model.evidence import Failure
from irkit.model.target import Target

__all__ = ["CollectResult", "Collector", "NoProgress", "Progress", "collect"]


@runtime_checkable
class _KnowsCaller(Protocol):
    def caller_identity(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class Collector:
    """Who collected, from where, with what: the custody record's human side."""

    hostname: str
    os_user: str
    command: str

    @classmethod
    def here(cls, command: str) -> Collector:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):  # no passwd entry, as in some containers
            user = "unknown"
        return cls(socket.gethostname(), user, command)


@dataclass(frozen=True)
class CollectResult:
    bundle: Bundle
    pods: list[str]
    stored: list[StoredObject] = field(default_factory=list)

    @property
    def failures(self) -> tuple[Failure, ...]:
        return self.bundle.manifest.failures

    @property
    def status(self) -> Literal["complete", "partial"]:
        return "partial" if self.failures else "complete"


def collect(
    cluster: Cluster,
    target: Target,
    *,
    out_dir: Path,
    incident: str,
    concurrency: int = 8,
    audit_sources: Sequence[AuditSource] = (),
    audit_scope: AuditScope | None = None,
    stores: Sequence[EvidenceStore] = (),
    progress: Progress | None = None,
    collector: Collector | None = None,
    runbook: str | None = None,
    clock: Clock = utc_now,
) -> CollectResult:
    progress = progress or NoProgress()
    collector = collector or Collector.here("")
    started = clock()
    resolved = resolve(cluster, target)
    writer = BundleWriter(out_dir, incident, label=_label(target), clock=clock)
    try:
        # Logs on their own pool while this thread reads the state around them.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="collect") as runner:
            logs = runner.submit(
                collect_logs,
                cluster,
                writer,
                target.namespace,
                resolved.pods,
                concurrency=concurrency,
                progress=progress,
            )
            owners = collect_state(cluster, writer, resolved)
            logs.result()
        pods = resolved.pod_names
        if audit_sources:
            scope = _scope(audit_scope, target, resolved.pods, owners)
            collect_audit(writer, audit_sources, scope)
        custody = _custody(
            cluster, target, incident, pods, collector, runbook, started, clock(), stores, writer
        )
    except BaseException:
        writer.abort()  # no half-packed tarball; what was read stays in the folder
        raise
    bundle = writer.finish(custody)
    return CollectResult(bundle, pods, _upload(bundle, stores, incident))


def _label(target: Target) -> str:
    """What the bundle's name says was collected: ``production deployments web``."""
    what = target.name or target.selector or ""
    return f"{target.namespace} {target.kind or 'pods'} {what}"


def _scope(
    base: AuditScope | None, target: Target, pods: list[Obj], owners: list[Obj]
) -> AuditScope:
    base = base or AuditScope(since=None, until=None, namespace=target.namespace)
    names = {p["metadata"]["name"] for p in pods} | {o["metadata"]["name"] for o in owners}
    if target.name:
        names.add(target.name)
    accounts = {
        actor_for_service_account(
            target.namespace, (p.get("spec") or {}).get("serviceAccountName") or "default"
        )
        for p in pods
    }
    return replace(
        base,
        namespace=target.namespace,
        names=base.names | frozenset(names),
        actors=base.actors | frozenset(accounts),
    )


def _custody(
    cluster: Cluster,
    target: Target,
    incident: str,
    pods: list[str],
    collector: Collector,
    runbook: str | None,
    started: Any,
    finished: Any,
    stores: Sequence[EvidenceStore],
    writer: BundleWriter,
) -> dict[str, Any]:
    callers: list[Any] = []
    for store in stores:
        if isinstance(store, _KnowsCaller):
            try:
                caller = store.caller_identity()
            except IrkitError as e:
                caller = {"error": str(e)}
            callers.append(dict(caller) if caller is not None else None)
    failures = writer.failures
    return {
        "format": "irkit-custody/v1",
        "incident": incident,
        "target": {
            "namespace": target.namespace,
            "kind": target.kind,
            "name": target.name,
            "selector": target.selector,
            "text": str(target),
        },
        "pods": sorted(pods),
        "collector": {
            "cluster_user": cluster.identity.user,
            "context": cluster.identity.context,
            "server": cluster.identity.server,
            "hostname": collector.hostname,
            "os_user": collector.os_user,
            "irkit_version": __version__,
            "command": collector.command,
        },
        "aws_caller_identity": callers[0] if len(callers) == 1 else (callers or None),
        "runbook": runbook,
        "started_at": rfc3339(started),
        "finished_at": rfc3339(finished),
        "status": "partial" if failures else "complete",
        "failures": len(failures),
    }


def _upload(bundle: Bundle, stores: Sequence[EvidenceStore], incident: str) -> list[StoredObject]:
    """Each store puts the tarball under its own prefix, as ``<bundle name>.tar.gz``."""
    stored = []
    for store in stores:
        try:
            stored.append(
                store.put(
                    bundle.tarball,
                    bundle.tarball.name,
                    sha256=bundle.sha256,
                    tags={"irkit-incident": incident},
                )
            )
        except EvidenceError as e:
            raise UploadError(
                f"{e}; the local bundle is kept: {bundle.tarball} (sha256 {bundle.sha256})",
                hint=e.hint or "fix the cause, then upload the tarball again, or rerun collect",
            ) from e
    return stored
