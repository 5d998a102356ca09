"""``collect`` as a runbook step: evidence into a hashed bundle, stored where the step says."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

from pydantic import Field

from irkit.actions.collect import Collector, collect
from irkit.actions.inputs import Targeted
from irkit.actions.needs import OWNER_KINDS, SELECTOR, Need, on, perm, resolving
from irkit.actions.spec import ActionSpec, StepCall, StepOutcome, brief
from irkit.actions.targets import resolve


class CollectInput(Targeted):
    """Collect logs, state, RBAC exposure and audit events into a hashed bundle
    (``irkit collect``)."""

    s3: str | None = None
    """Also store the tarball at ``s3://BUCKET/PREFIX``; empty: keep it local only."""
    s3_endpoint: str | None = None
    """S3 endpoint URL (MinIO, tests)."""
    sse: Literal["AES256", "aws:kms"] | None = None
    """Server-side encryption of the upload: AES256 or aws:kms."""
    kms_key_id: str | None = None
    """KMS key for sse aws:kms."""
    object_lock_days: int | None = Field(default=None, ge=1)
    """S3 Object Lock retention in days."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """GOVERNANCE or COMPLIANCE."""
    tags: dict[str, str] = {}
    """S3 object tags."""
    audit_log: list[str] = []
    """kube-apiserver audit log files to read events from."""
    eks_cluster: str | None = None
    """Read audit events from this EKS cluster's CloudWatch log group."""
    region: str | None = None
    """AWS region (S3, CloudWatch)."""
    since: str | None = None
    """Audit window start: RFC 3339 time or a duration before now (``2h``)."""
    until: str | None = None
    """Audit window end, as since."""
    actors: list[str] = []
    """ServiceAccounts (NAMESPACE:NAME) whose audit events are collected wherever they acted."""
    concurrency: int = Field(default=8, ge=1, le=64)
    """Pods read in parallel, 1 to 64."""


def run(call: StepCall) -> StepOutcome:
    inp = cast(CollectInput, call.inputs)
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
        warnings = brief([f"not collected: {f.artifact} ({f.reason})" for f in result.failures])
    status = "partial" if result.failures else "ok"  # collect changes nothing, yet does work
    return StepOutcome(status, outputs, note, warnings=warnings)


COLLECT = ActionSpec(
    name="collect",
    inputs=CollectInput,
    outputs=frozenset({"bundle", "tarball", "sha256", "uri", "files", "failures", "nodes"}),
    needs=(
        *resolving(),
        Need(perm("get", "pods", "log"), note="every container's log, and the previous one"),
        # The owners above the pods: which kinds depends on what owns them.
        *on("get", ["replicasets", "deployments"], ["deployments", "replicasets"]),
        *on("get", ["statefulsets"], ["statefulsets"]),
        *on("get", ["daemonsets"], ["daemonsets"]),
        *on("get", OWNER_KINDS, [SELECTOR, "pods"], note="the pods' owners, upwards"),
        *on("list", ["services", "networkpolicies", "events", "horizontalpodautoscalers"]),
        Need(perm("get", "nodes"), note="the nodes the pods run on"),
        Need(perm("get", "serviceaccounts"), note="the pods' ServiceAccounts"),
        # Secrets: collect reads each referenced Secret only to record its KEY NAMES (never a
        # value is written). RBAC cannot grant key names without values: this grants reading
        # the values of every Secret in the namespace. ConfigMaps are named from the pod spec
        # and never read.
        Need(perm("get", "secrets"), note="key names only are recorded; RBAC grants the values"),
        Need(perm("list", "clusterrolebindings"), note="the ServiceAccounts' RBAC exposure"),
        Need(
            perm("list", "rolebindings", everywhere=True),
            note="a RoleBinding in any namespace may grant the ServiceAccounts rights; "
            "when refused, collect falls back to the target's namespace",
        ),
        Need(perm("get", "roles", everywhere=True), note="the Roles those RoleBindings name"),
        Need(perm("get", "clusterroles"), note="the ClusterRoles the bindings name"),
    ),
    runner=run,
    bundles=True,
)
