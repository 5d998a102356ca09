"""The quarantine label on a target's pods: planned, then patched conditionally and in parallel.

Each patch carries the resourceVersion of the pod it was planned from, so a change made
meanwhile (another incident's quarantine label, say) is answered 409 and never overwritten: the
pod is read again and the patch planned again, which may then refuse. A few pods are patched at
once (``PATCH_WORKERS``); the Cluster adapter is safe to share between threads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Literal

from irkit.actions.netpol import QUARANTINE_LABEL
from irkit.actions.targets import Resolved
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, IrkitError, NotFound, Remedy
from irkit.model.journal import Change
from irkit.model.selectors import label_selector_from_object

DETACHED_ANNOTATION = "irkit.io/detached-labels"
MAX_ATTEMPTS = 5  # reads and decisions again after a 409, before giving up
PATCH_WORKERS = 8  # pods patched at once: a few, not 200 connections to the API server
Scope = Literal["workload", "pod"]


@dataclass(frozen=True)
class Labelling:
    """What the pods are labelled for."""

    incident: str
    scope: Scope
    detach: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class PodPlan:
    pod: Obj  # as last read
    patch: dict[str, Any] | None  # None: nothing to change
    removed: dict[str, str]  # labels --detach takes off


def plan_pod(cluster: Cluster, pod: Obj, how: Labelling, resolved: Resolved) -> PodPlan:
    patch, removed = _pod_patch(cluster, pod, how, resolved)
    return PodPlan(pod, patch, removed)


def labels_after(plan: PodPlan) -> dict[str, str]:
    labels = dict(plan.pod["metadata"].get("labels") or {})
    for key, value in ((plan.patch or {}).get("metadata", {}).get("labels") or {}).items():
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    return labels


@dataclass(frozen=True)
class _Labelled:
    before: Obj
    after: Obj
    removed: dict[str, str]


_Outcome = _Labelled | str | None  # labelled, the name of a pod that is gone, or nothing to do


def label_pods(
    cluster: Cluster,
    plans: list[PodPlan],
    how: Labelling,
    resolved: Resolved,
    changes: list[Change],
) -> tuple[list[str], dict[str, dict[str, str]], list[str]]:
    """Patch the pods that need it, a few at a time. Each change is appended (journaled, in a
    run) as its patch returns; the first error is raised once every patch has finished."""
    work = [plan for plan in plans if plan.patch is not None]
    outcomes: dict[str, _Outcome] = {}
    errors: dict[str, IrkitError] = {}

    def label(plan: PodPlan) -> _Outcome:
        return _label_pod(cluster, plan, how, resolved)

    def done(plan: PodPlan, run: Callable[[], _Outcome]) -> None:
        pod_name = plan.pod["metadata"]["name"]
        try:
            outcome = run()
        except IrkitError as e:
            errors[pod_name] = e
            return
        outcomes[pod_name] = outcome
        if isinstance(outcome, _Labelled):
            changes.append(_pod_change(outcome))

    if len(work) == 1:
        done(work[0], lambda: label(work[0]))
    elif work:
        with ThreadPoolExecutor(min(PATCH_WORKERS, len(work)), "irkit-isolate") as pool:
            futures: dict[Future[_Outcome], PodPlan] = {pool.submit(label, p): p for p in work}
            for future in as_completed(futures):
                done(futures[future], future.result)
    order = [plan.pod["metadata"]["name"] for plan in work]
    if errors:
        raise next(errors[n] for n in order if n in errors)
    labelled = [n for n in order if isinstance(outcomes.get(n), _Labelled)]
    detached = {
        n: o.removed for n in order if isinstance(o := outcomes.get(n), _Labelled) and o.removed
    }
    gone = [n for n in order if isinstance(outcomes.get(n), str)]
    return labelled, detached, gone


def _label_pod(cluster: Cluster, plan: PodPlan, how: Labelling, resolved: Resolved) -> _Outcome:
    """One pod's patch, conditional on the resourceVersion it was planned from: a concurrent
    change (another incident's quarantine label, say) is never overwritten but read and
    decided on again."""
    pod, patch, removed = plan.pod, plan.patch, plan.removed
    namespace, name = str(pod["metadata"]["namespace"]), str(pod["metadata"]["name"])
    for _ in range(MAX_ATTEMPTS):
        if patch is None:
            return None
        guarded = {"metadata": {**patch["metadata"], "resourceVersion": resource_version(pod)}}
        try:
            after = cluster.patch("pods", namespace, name, guarded, dry_run=how.dry_run)
        except NotFound:
            return name
        except Conflict:
            fresh = read(cluster, "pods", namespace, name)
            if fresh is None:
                return name
            if not how.dry_run and _patched(fresh, patch):  # went through; answer was lost
                return _Labelled(pod, fresh, removed)
            pod = fresh
            patch, removed = _pod_patch(cluster, pod, how, resolved)
            continue
        return _Labelled(pod, after, removed)
    raise Conflict(
        f"pod {name} in {namespace} kept changing while irkit labelled it "
        f"({MAX_ATTEMPTS} attempts)",
        hint="run the same command again: it carries on where it stopped",
    )


def _patched(pod: Obj, patch: dict[str, Any]) -> bool:
    labels = pod["metadata"].get("labels") or {}
    wanted = patch["metadata"].get("labels") or {}
    return all(labels.get(k) == v if v is not None else k not in labels for k, v in wanted.items())


def _pod_change(outcome: _Labelled) -> Change:
    meta = outcome.before["metadata"]
    return Change(
        "patch",
        "Pod",
        meta["namespace"],
        meta["name"],
        {"labels": meta.get("labels") or {}},
        {"labels": outcome.after["metadata"].get("labels") or {}},
    )


def _pod_patch(
    cluster: Cluster, pod: Obj, how: Labelling, resolved: Resolved
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    meta = pod["metadata"]
    labels: dict[str, str] = meta.get("labels") or {}
    removed: dict[str, str] = {}
    if how.detach and DETACHED_ANNOTATION not in (meta.get("annotations") or {}):
        keys = _selected_keys(cluster, pod, resolved)
        removed = {k: v for k, v in labels.items() if k in keys}
    held_by = labels.get(QUARANTINE_LABEL)
    if held_by not in (None, how.incident):
        if how.scope == "pod":
            raise Conflict(
                f"pod {meta['name']} is already quarantined by incident {held_by!r}",
                remedy=Remedy("quarantined-by-incident", {"incident": held_by}),
            )
        # A workload policy selects by the owner's selector: the pod stays in its own
        # pod-scope quarantine, whose policy selects that label value.
        if not removed:
            return None, {}
    if held_by == how.incident and not removed:
        return None, {}
    new_labels: dict[str, Any] = {QUARANTINE_LABEL: held_by or how.incident}
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


def read(cluster: Cluster, kind: str, namespace: str, name: str) -> Obj | None:
    try:
        return cluster.get(kind, namespace, name)
    except NotFound:
        return None


def resource_version(obj: Obj) -> str:
    return str(obj["metadata"].get("resourceVersion") or "")
