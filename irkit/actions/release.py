"""``release``: undo ``isolate``. Delete irkit's policy, take the quarantine label off the pods
and give detached pods their labels back.

A pod still held by another of irkit's quarantines (a pod-scope policy selecting its label)
keeps the label: removing it would lift that quarantine silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from irkit.actions.isolate import TARGET_ANNOTATION, check_same_target, incident_of, policy_name
from irkit.actions.netpol import QUARANTINE_LABEL, is_ours
from irkit.actions.quarantine_pods import DETACHED_ANNOTATION
from irkit.actions.targets import resolve
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, NotFound
from irkit.model.journal import Change
from irkit.model.selectors import LabelSelector, SelectorError, label_selector_from_object
from irkit.model.target import Target


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
    cluster: Cluster,
    target: Target,
    *,
    incident: str = "",
    dry_run: bool = False,
    changes: list[Change] | None = None,
) -> ReleaseResult:
    """Undo ``isolate``: delete its policy, remove quarantine labels, restore detached labels.
    ``incident``, when given, must be the quarantine's own: another incident never lifts it."""
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
        check_same_target(policy, target)
        owner = incident_of(policy)
        if incident and owner is not None and owner != incident:
            raise Conflict(
                f"{target} is quarantined by incident {owner!r}, not {incident!r}: another "
                "incident never lifts that quarantine",
                hint=f"release it under its own incident: --incident {owner}",
            )
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
        after = patch_pod(cluster, namespace, pod_name, patch, dry_run)
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


def patch_pod(
    cluster: Cluster, namespace: str, name: str, patch: dict[str, Any], dry_run: bool
) -> Obj | None:
    """The patched pod, or None when it was deleted (replaced, say) since it was listed."""
    try:
        return cluster.patch("pods", namespace, name, patch, dry_run=dry_run)
    except NotFound:
        return None
