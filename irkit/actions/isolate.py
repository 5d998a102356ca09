"""``isolate`` and ``release``: cut a workload off the network, and put it back.

isolate creates one deny-all NetworkPolicy (Ingress and Egress, nothing allowed but the opt-in
allow-list) that selects exactly the target's pods, labels the pods, and optionally detaches a
single pod from its Services and owner. It is idempotent, never overwrites a policy it did not
create, and records everything release needs on the objects themselves.

Order matters for safety: the policy goes in first, labels after, so a failure half-way leaves
the pods more isolated, never less.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from irkit.actions.netpol import (
    MANAGED_BY,
    POLICY_PREFIX,
    QUARANTINE_LABEL,
    AllowList,
    is_ours,
    leaky_policies,
    quarantine_spec,
    same_spec,
)
from irkit.actions.targets import Resolved, resolve
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, NotFound, UsageError
from irkit.model.journal import Change, utc_now
from irkit.model.selectors import LabelSelector, SelectorError, label_selector_from_object
from irkit.model.target import Target

DETACHED_ANNOTATION = "irkit.io/detached-labels"
TARGET_ANNOTATION = "irkit.io/target"
Scope = Literal["workload", "pod"]


@dataclass(frozen=True)
class IsolateRequest:
    incident: str
    actor: str
    command: str
    reason: str = ""
    scope: Scope | None = None  # None: "pod" for pod/NAME targets, "workload" otherwise
    allow: AllowList = field(default_factory=AllowList)
    detach: bool = False
    strict: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class IsolateResult:
    target: Target
    policy_name: str
    namespace: str
    status: str  # created, updated, unchanged
    policy: Obj
    pods: list[str]
    labelled: list[str]
    detached: dict[str, dict[str, str]]
    warnings: list[str]
    changes: list[Change]
    dry_run: bool
    gone: list[str] = field(default_factory=list)  # pods deleted between listing and patching


def policy_name(target: Target) -> str:
    return f"{POLICY_PREFIX}{target.slug}"


def isolate(
    cluster: Cluster, target: Target, req: IsolateRequest, changes: list[Change] | None = None
) -> IsolateResult:
    """``changes`` (when given) is filled as the work is done, so a caller can journal what
    happened even when a later step fails."""
    scope = req.scope or ("pod" if target.kind == "pods" else "workload")
    if scope == "pod" and target.kind != "pods":
        raise UsageError("--scope pod quarantines one pod: give pod/NAME as the target")
    if req.detach and scope != "pod":
        raise UsageError("--detach works with --scope pod (a single pod) only")
    resolved = resolve(cluster, target)
    selector = _selector(cluster, resolved, scope, req.incident)
    name = policy_name(target)
    others = cluster.list("networkpolicies", target.namespace)
    warnings = leaky_policies(
        others, [p["metadata"].get("labels") or {} for p in resolved.pods], name
    )
    if warnings and req.strict:
        raise Conflict(
            "isolation would not be complete: " + "; ".join(warnings),
            hint="remove or narrow those policies, or run without --strict",
        )
    desired = _policy(name, target, selector, req)
    changes = [] if changes is None else changes
    status, policy, change = _apply_policy(cluster, target, desired, req.dry_run)
    if change:
        changes.append(change)
    labelled, detached, gone = [], {}, []
    for pod in resolved.pods:
        patch, removed = _pod_patch(cluster, pod, req, scope, resolved)
        if patch is None:
            continue
        pod_name = pod["metadata"]["name"]
        after = _patch_pod(cluster, target.namespace, pod_name, patch, req.dry_run)
        if after is None:
            gone.append(pod_name)
            continue
        labelled.append(pod_name)
        if removed:
            detached[pod_name] = removed
        changes.append(
            Change(
                "patch",
                "Pod",
                target.namespace,
                pod_name,
                {"labels": pod["metadata"].get("labels") or {}},
                {"labels": after["metadata"].get("labels") or {}},
            )
        )
    return IsolateResult(
        target,
        name,
        target.namespace,
        status,
        policy,
        resolved.pod_names,
        labelled,
        detached,
        warnings,
        changes,
        req.dry_run,
        gone,
    )


def _patch_pod(
    cluster: Cluster, namespace: str, name: str, patch: dict[str, Any], dry_run: bool
) -> Obj | None:
    """The patched pod, or None when it was deleted (replaced, say) since it was listed."""
    try:
        return cluster.patch("pods", namespace, name, patch, dry_run=dry_run)
    except NotFound:
        return None


def _check_same_target(policy: Obj, target: Target) -> None:
    """Two targets can share a policy name (``a.b`` and ``a-b`` have the same slug): never
    take over, or delete, the policy that quarantines the other one."""
    owner = (policy["metadata"].get("annotations") or {}).get(TARGET_ANNOTATION)
    if owner is not None and owner != str(target):
        name = policy["metadata"]["name"]
        raise Conflict(
            f"NetworkPolicy {name!r} belongs to {owner}, not to {target}: the two targets "
            "share a policy name; leaving it alone",
            hint=f"release {owner} first, or rename one of the workloads",
        )


def _selector(cluster: Cluster, resolved: Resolved, scope: Scope, incident: str) -> dict[str, Any]:
    if scope == "pod":
        return {"matchLabels": {QUARANTINE_LABEL: incident}}
    if resolved.target.kind == "pods":  # a pod's workload scope: its top owner's selector
        top = resolved.owner_chain[-1] if resolved.owner_chain else None
        if top is None:
            raise UsageError(f"pod {resolved.target.name} has no owner: use --scope pod")
        return dict((top.get("spec") or {}).get("selector") or {})
    return resolved.pod_selector


def _policy(name: str, target: Target, selector: dict[str, Any], req: IsolateRequest) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": target.namespace,
            "labels": {MANAGED_BY: "irkit", "irkit.io/incident": req.incident},
            "annotations": {
                "irkit.io/incident": req.incident,
                "irkit.io/reason": req.reason,
                "irkit.io/isolated-at": utc_now(),
                "irkit.io/actor": req.actor,
                "irkit.io/command": req.command,
                TARGET_ANNOTATION: str(target),
            },
        },
        "spec": quarantine_spec(selector, req.allow),
    }


def _apply_policy(
    cluster: Cluster, target: Target, desired: Obj, dry_run: bool
) -> tuple[str, Obj, Change | None]:
    name, namespace = desired["metadata"]["name"], target.namespace
    try:
        current = cluster.get("networkpolicies", namespace, name)
    except NotFound:
        created = _create_policy(cluster, target, desired, dry_run)
        return (
            "created",
            created,
            Change("create", "NetworkPolicy", namespace, name, None, {"spec": desired["spec"]}),
        )
    if not is_ours(current):
        raise Conflict(
            f"NetworkPolicy {name!r} in {namespace} exists and was not created by "
            "irkit; refusing to overwrite it",
            hint="rename or delete it, then re-run",
        )
    _check_same_target(current, target)
    if same_spec(current.get("spec"), desired["spec"]):
        return "unchanged", current, None
    ops = [{"op": "replace", "path": "/spec", "value": desired["spec"]}]
    updated = cluster.patch(
        "networkpolicies", namespace, name, ops, patch_type="json", dry_run=dry_run
    )
    return (
        "updated",
        updated,
        Change(
            "patch",
            "NetworkPolicy",
            namespace,
            name,
            {"spec": current.get("spec")},
            {"spec": desired["spec"]},
        ),
    )


def _create_policy(cluster: Cluster, target: Target, desired: Obj, dry_run: bool) -> Obj:
    """Create; when the answer to a create was lost and the retry found the policy there, it is
    ours if it carries this target and spec: that is success, not a conflict."""
    name, namespace = desired["metadata"]["name"], target.namespace
    try:
        return cluster.create("networkpolicies", namespace, desired, dry_run=dry_run)
    except Conflict:
        if dry_run:
            raise
        current = cluster.get("networkpolicies", namespace, name)
        annotations = current["metadata"].get("annotations") or {}
        if (
            is_ours(current)
            and annotations.get("irkit.io/target") == str(target)
            and annotations.get("irkit.io/incident")
            == desired["metadata"]["annotations"]["irkit.io/incident"]
            and same_spec(current.get("spec"), desired["spec"])
        ):
            return current
        raise


def _pod_patch(
    cluster: Cluster, pod: Obj, req: IsolateRequest, scope: Scope, resolved: Resolved
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    meta = pod["metadata"]
    labels: dict[str, str] = meta.get("labels") or {}
    removed: dict[str, str] = {}
    if req.detach and DETACHED_ANNOTATION not in (meta.get("annotations") or {}):
        keys = _selected_keys(cluster, pod, resolved)
        removed = {k: v for k, v in labels.items() if k in keys}
    held_by = labels.get(QUARANTINE_LABEL)
    if held_by not in (None, req.incident):
        if scope == "pod":
            raise Conflict(
                f"pod {meta['name']} is already quarantined by incident {held_by!r}",
                hint=f"use --incident {held_by}, or release that quarantine first",
            )
        # A workload policy selects by the owner's selector: the pod stays in its own
        # pod-scope quarantine, whose policy selects that label value.
        if not removed:
            return None, {}
    if held_by == req.incident and not removed:
        return None, {}
    new_labels: dict[str, Any] = {QUARANTINE_LABEL: held_by or req.incident}
    new_labels |= {k: None for k in removed}
    patch: dict[str, Any] = {"metadata": {"labels": new_labels}}
    if removed:
        patch["metadata"]["annotations"] = {
            DETACHED_ANNOTATION: json.dumps(removed, sort_keys=True)
        }
    return patch, removed


def _selected_keys(cluster: Cluster, pod: Obj, resolved: Resolved) -> set[str]:
    """Label keys that Services and the owner select this pod by: removing them drains traffic
    and makes the owner let go of the pod (and start a replacement)."""
    labels = pod["metadata"].get("labels") or {}
    keys: set[str] = set()
    for svc in cluster.list("services", pod["metadata"]["namespace"]):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(labels.get(k) == v for k, v in sel.items()):
            keys |= set(sel)
    for owner in resolved.owner_chain[:1]:
        sel = (owner.get("spec") or {}).get("selector") or {}
        if label_selector_from_object(sel).matches(labels):
            keys |= set(sel.get("matchLabels") or {})
            keys |= {e["key"] for e in sel.get("matchExpressions") or []}
    keys.discard(QUARANTINE_LABEL)
    return keys


# ---- release -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseResult:
    policy_name: str
    namespace: str
    policy_deleted: bool
    unlabelled: list[str]
    restored: dict[str, dict[str, str]]
    changes: list[Change]
    dry_run: bool
    gone: list[str] = field(default_factory=list)  # pods deleted between listing and patching
    kept: list[str] = field(default_factory=list)  # still quarantined by another irkit policy

    @property
    def status(self) -> str:
        return "released" if self.changes else "unchanged"


def release(
    cluster: Cluster, target: Target, *, dry_run: bool = False, changes: list[Change] | None = None
) -> ReleaseResult:
    """Undo ``isolate``: delete its policy, remove quarantine labels, restore detached labels."""
    name = policy_name(target)
    namespace = target.namespace
    changes = [] if changes is None else changes
    deleted = False
    try:
        policy = cluster.get("networkpolicies", namespace, name)
    except NotFound:
        policy = None
    if policy is not None:
        if not is_ours(policy):
            raise Conflict(
                f"NetworkPolicy {name!r} in {namespace} was not created by irkit; leaving it alone"
            )
        _check_same_target(policy, target)
        cluster.delete("networkpolicies", namespace, name, dry_run=dry_run)
        deleted = True
        changes.append(
            Change("delete", "NetworkPolicy", namespace, name, {"spec": policy.get("spec")}, None)
        )
    try:
        pods = resolve(cluster, target).pods
    except NotFound:
        pods = []  # the workload is gone; the policy (if any) was all there was to undo
    unlabelled, restored, gone, kept = [], {}, [], []
    holding = _other_quarantines(cluster, namespace, name) if pods else []
    for pod in pods:
        patch, back = _release_patch(pod)
        if patch is None:
            continue
        pod_name = pod["metadata"]["name"]
        if _held(pod, holding):
            kept.append(pod_name)  # removing the label would un-isolate it silently
            continue
        after = _patch_pod(cluster, namespace, pod_name, patch, dry_run)
        if after is None:
            gone.append(pod_name)
            continue
        unlabelled.append(pod_name)
        if back:
            restored[pod_name] = back
        changes.append(
            Change(
                "patch",
                "Pod",
                namespace,
                pod_name,
                {"labels": pod["metadata"].get("labels") or {}},
                {"labels": after["metadata"].get("labels") or {}},
            )
        )
    return ReleaseResult(
        name, namespace, deleted, unlabelled, restored, changes, dry_run, gone, kept
    )


def _other_quarantines(
    cluster: Cluster, namespace: str, released: str
) -> list[tuple[LabelSelector, str | None]]:
    """What irkit's other policies in the namespace hold: their pod selector and, for a
    pod-scope quarantine (which selects by the quarantine label), the one pod it is for."""
    out: list[tuple[LabelSelector, str | None]] = []
    for policy in cluster.list("networkpolicies", namespace):
        if policy["metadata"]["name"] == released or not is_ours(policy):
            continue
        spec_selector = (policy.get("spec") or {}).get("podSelector")
        try:
            selector = label_selector_from_object(spec_selector)
        except SelectorError:
            continue
        owner = str((policy["metadata"].get("annotations") or {}).get(TARGET_ANNOTATION, ""))
        what = owner.split(" ", 1)[0]
        by_label = set((spec_selector or {}).get("matchLabels") or {}) == {QUARANTINE_LABEL}
        pod = what.removeprefix("pod/") if by_label and what.startswith("pod/") else None
        out.append((selector, pod))
    return out


def _held(pod: Obj, holding: list[tuple[LabelSelector, str | None]]) -> bool:
    labels = pod["metadata"].get("labels") or {}
    name = pod["metadata"]["name"]
    return any(sel.matches(labels) and only in (None, name) for sel, only in holding)


def _release_patch(pod: Obj) -> tuple[dict[str, Any] | None, dict[str, str]]:
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    raw = (meta.get("annotations") or {}).get(DETACHED_ANNOTATION)
    if QUARANTINE_LABEL not in labels and raw is None:
        return None, {}
    back: dict[str, str] = {}
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {}
        # The annotation is cluster data: take only string pairs from it.
        back = (
            {k: v for k, v in parsed.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(parsed, dict)
            else {}
        )
    new_labels: dict[str, Any] = {QUARANTINE_LABEL: None} | back
    patch: dict[str, Any] = {"metadata": {"labels": new_labels}}
    if raw is not None:
        patch["metadata"]["annotations"] = {DETACHED_ANNOTATION: None}
    return patch, back
