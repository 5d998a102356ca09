"""``collect``: the evidence of a target, packed, hashed, recorded, and stored.

    result = collect(cluster, target, out_dir=Path("evidence"), incident="inc-42")

Order matters for evidence: logs first (they rotate and pods die), in parallel, while the main
thread reads the surrounding state; then audit events; then custody, the manifest, the tarball;
then uploads. What could not be read is listed in the manifest's failures and makes the result
``partial``; it never stops the rest. An upload that fails keeps the local bundle and says where.

Custody also says what was NOT looked at, so a reader does not take silence for absence:
``audit`` is ``{"collected": false, "reason": ...}`` when no audit source was given, and
``warnings`` says when no pod was collected. ``cluster`` identifies the cluster the evidence
came from: the API server's host, its version (``GET /version``) and the uid of the
``kube-system`` namespace (the usual cluster id), or why either could not be read.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from irkit import __version__
from irkit.actions.collect_audit import collect_audit
from irkit.actions.collect_logs import NoProgress, Progress, collect_logs
from irkit.actions.collect_state import collect_state
from irkit.actions.snapshot import snapshot_state
from irkit.actions.targets import Resolved, resolve
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


@runtime_checkable
class _KnowsVersion(Protocol):
    def server_version(self) -> Obj: ...


SNAPSHOT = "a state-only snapshot: no logs, no audit events"
NO_AUDIT = "no audit source given (--audit-log, --eks-cluster, or audit_log/eks_cluster in a step)"


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
    warnings: list[str] = field(default_factory=list)  # not failures: e.g. 0 pods collected
    audit: dict[str, Any] = field(default_factory=dict)  # custody's "audit" record

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
    state_only: bool = False,
) -> CollectResult:
    """``state_only``: a snapshot (``irkit.actions.snapshot``), before containment changes it."""
    progress = progress or NoProgress()
    collector = collector or Collector.here("")
    started = clock()
    resolved = resolve(cluster, target)
    kind = "snapshot" if state_only else "evidence"
    writer = BundleWriter(out_dir, incident, label=_label(target), kind=kind, clock=clock)
    try:
        if state_only:
            owners = snapshot_state(cluster, writer, resolved)
        else:
            owners = _logs_and_state(cluster, writer, resolved, concurrency, progress)
        pods = resolved.pod_names
        audit: dict[str, Any] = {"collected": False, "reason": SNAPSHOT if state_only else NO_AUDIT}
        if audit_sources and not state_only:
            scope = _scope(audit_scope, target, resolved.pods, owners)
            events = collect_audit(writer, audit_sources, scope)
            audit = {"collected": True, "sources": [s.description for s in audit_sources]}
            audit["events"] = events
        warnings = no_pods_warning(target, pods)
        custody = _custody(
            cluster, target, incident, pods, collector, runbook, started, clock(), stores, writer
        )
        custody |= {"audit": audit, "warnings": warnings, "cluster": cluster_identity(cluster)}
        custody["kind"] = "snapshot" if state_only else "collect"
    except BaseException:
        writer.abort()  # no half-packed tarball; what was read stays in the folder
        raise
    bundle = writer.finish(custody)
    return CollectResult(bundle, pods, _upload(bundle, stores, incident), warnings, audit)


def _logs_and_state(
    cluster: Cluster,
    writer: BundleWriter,
    resolved: Resolved,
    concurrency: int,
    progress: Progress,
) -> list[Obj]:
    """Logs on their own pool while this thread reads the state around them; the owners."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="collect") as runner:
        logs = runner.submit(
            collect_logs,
            cluster,
            writer,
            resolved.target.namespace,
            resolved.pods,
            concurrency=concurrency,
            progress=progress,
        )
        owners = collect_state(cluster, writer, resolved)
        logs.result()
    return owners


def no_pods_warning(target: Target, pods: Sequence[str]) -> list[str]:
    if pods:
        return []
    return [
        f"0 pods collected: {target} has no pod in namespace {target.namespace} (scaled to "
        "zero, a selector that matches nothing, or pods already gone); the bundle holds "
        "the surrounding state only"
    ]


def cluster_identity(cluster: Cluster) -> dict[str, Any]:
    """Which cluster: API server host, version, kube-system uid; a refusal says why."""
    server = cluster.identity.server
    out: dict[str, Any] = {"server": server, "server_host": urlsplit(server).netloc or server}
    if isinstance(cluster, _KnowsVersion):
        try:
            version = cluster.server_version()
            out["version"] = {
                k: version[k] for k in ("gitVersion", "platform", "major", "minor") if k in version
            }
        except IrkitError as e:
            out["version_error"] = str(e)
    else:
        out["version_error"] = "the cluster adapter cannot read /version"
    try:
        namespace = cluster.get("namespaces", "", "kube-system")
        out["kube_system_uid"] = (namespace.get("metadata") or {}).get("uid")
    except IrkitError as e:
        out["kube_system_uid"] = None
        out["kube_system_uid_error"] = str(e)
    return out


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
                kept={
                    "bundle": bundle.name,
                    "tarball": str(bundle.tarball),
                    "sha256": bundle.sha256,
                },
            ) from e
    return stored
