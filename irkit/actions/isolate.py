"""``isolate`` and ``release``: cut a workload off the network, and put it back.

isolate creates one deny-all NetworkPolicy (Ingress and Egress, nothing allowed but the opt-in
allow-list) that selects exactly the target's pods, labels the pods, and optionally detaches a
single pod from its Services and owner. It is idempotent, never overwrites a policy it did not
create, and records everything release needs on the objects themselves.

Never weaken an existing quarantine:

- Ownership is checked before any write: a quarantine of this target held by another incident
  (its policy, or for ``--scope pod`` the pod's quarantine label) is refused, naming the incident.
- Every write is conditional. A policy update carries the resourceVersion it was decided on and
  a pod label patch the pod's, so a concurrent change makes the API server answer 409; irkit
  then reads the object again and decides again (and so refuses, if another incident won).
  Creating the policy is the race's tie-breaker: only one create of a name succeeds.
- The policy goes in first, labels after, so a failure half-way leaves the pods more isolated,
  never less.

Round trips: one list of the namespace's policies serves the ownership check (irkit's own policy
is in it) and the leak check; pods are patched in parallel on a small pool of threads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal

from irkit.actions.netpol import (
    MANAGED_BY,
    POLICY_PREFIX,
    QUARANTINE_LABEL,
    AllowList,
    Leak,
    find_leaks,
    is_ours,
    leak_warnings,
    quarantine_spec,
    same_spec,
)
from irkit.actions.targets import Resolved, resolve
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, IrkitError, NotFound, UsageError
from irkit.model.journal import Change, utc_now
from irkit.model.selectors import LabelSelector, SelectorError, label_selector_from_object
from irkit.model.target import Target

DETACHED_ANNOTATION = "irkit.io/detached-labels"
TARGET_ANNOTATION = "irkit.io/target"
INCIDENT_KEY = "irkit.io/incident"
MAX_ATTEMPTS = 5  # reads and decisions again after a 409, before giving up
PATCH_WORKERS = 8  # pods patched at once: a few, not 200 connections to the API server
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
    warnings: list[str]  # one sentence per leaking policy
    changes: list[Change]
    dry_run: bool
    gone: list[str] = field(default_factory=list)  # pods deleted between listing and patching
    leaks: list[Leak] = field(default_factory=list)  # other policies still letting traffic in/out

    @property
    def partial(self) -> bool:
        """Other NetworkPolicies still allow traffic to (or from) the quarantined pods."""
        return bool(self.leaks)


@dataclass(frozen=True)
class _PodPlan:
    pod: Obj  # as last read
    patch: dict[str, Any] | None  # None: nothing to change
    removed: dict[str, str]  # labels --detach takes off


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
    selector = _selector(resolved, scope, req.incident)
    name = policy_name(target)
    policies = cluster.list("networkpolicies", target.namespace)
    current = next((p for p in policies if p["metadata"]["name"] == name), None)
    # Everything that can refuse does so here, before the first write.
    if current is not None:
        _check_owner(current, target, req.incident)
    plans = [_plan_pod(cluster, pod, req, scope, resolved) for pod in resolved.pods]
    leaks = find_leaks(policies, [_labels_after(plan) for plan in plans], name)
    warnings = leak_warnings(leaks)
    if leaks and req.strict:
        raise Conflict(
            "isolation would not be complete: " + "; ".join(warnings),
            hint="remove or narrow those policies, or run without --strict",
        )
    desired = _policy(name, target, selector, req)
    changes = [] if changes is None else changes
    status, policy, change = _apply_policy(cluster, target, desired, current, req.dry_run)
    if change:
        changes.append(change)
    labelled, detached, gone = _label_pods(cluster, plans, req, scope, resolved, changes)
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
        leaks,
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


def _check_owner(policy: Obj, target: Target, incident: str) -> None:
    """Refuse to touch a policy irkit did not create, another target's, or another incident's."""
    name, namespace = policy["metadata"]["name"], target.namespace
    if not is_ours(policy):
        raise Conflict(
            f"NetworkPolicy {name!r} in {namespace} exists and was not created by "
            "irkit; refusing to overwrite it",
            hint="rename or delete it, then re-run",
        )
    _check_same_target(policy, target)
    owner = _incident_of(policy)
    if owner is not None and owner != incident:
        raise Conflict(
            f"{target} is already quarantined by incident {owner!r} (NetworkPolicy {name!r}); "
            "another incident never changes that quarantine",
            hint=f"use --incident {owner} to change it, or release it first",
        )


def _incident_of(policy: Obj) -> str | None:
    meta = policy["metadata"]
    owner = (meta.get("annotations") or {}).get(INCIDENT_KEY) or (meta.get("labels") or {}).get(
        INCIDENT_KEY
    )
    return None if owner is None else str(owner)


def _selector(resolved: Resolved, scope: Scope, incident: str) -> dict[str, Any]:
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
            "labels": {MANAGED_BY: "irkit", INCIDENT_KEY: req.incident},
            "annotations": {
                INCIDENT_KEY: req.incident,
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
    cluster: Cluster, target: Target, desired: Obj, current: Obj | None, dry_run: bool
) -> tuple[str, Obj, Change | None]:
    """Create the policy, or update irkit's own ``current`` one (as listed) when the options
    changed. A 409 (created or changed by someone else meanwhile) means: read it, decide again."""
    name, namespace = desired["metadata"]["name"], target.namespace
    incident = desired["metadata"]["annotations"][INCIDENT_KEY]
    sent_over: Any = None  # the spec an update replaced, when its answer may have been lost
    for _ in range(MAX_ATTEMPTS):
        if current is None:
            try:
                created = cluster.create("networkpolicies", namespace, desired, dry_run=dry_run)
            except Conflict:
                current = _read(cluster, "networkpolicies", namespace, name)
                if current is not None and not dry_run and _answer_lost(current, desired):
                    return "created", current, _created(desired)
                continue
            return "created", created, _created(desired)
        _check_owner(current, target, incident)
        if same_spec(current.get("spec"), desired["spec"]):
            if sent_over is not None:  # our update went through; its answer did not
                return "updated", current, _updated(desired, sent_over)
            return "unchanged", current, None
        ops = [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": _rv(current)},
            {"op": "replace", "path": "/spec", "value": desired["spec"]},
        ]
        try:
            updated = cluster.patch(
                "networkpolicies", namespace, name, ops, patch_type="json", dry_run=dry_run
            )
        except (Conflict, NotFound):
            sent_over = current.get("spec") if sent_over is None else sent_over
            current = _read(cluster, "networkpolicies", namespace, name)
            continue
        return "updated", updated, _updated(desired, current.get("spec"))
    raise Conflict(
        f"NetworkPolicy {name!r} in {namespace} kept changing while irkit wrote it "
        f"({MAX_ATTEMPTS} attempts)",
        hint="run the same command again",
    )


def _answer_lost(current: Obj, desired: Obj) -> bool:
    """A create whose answer was lost and whose retry found the policy: it is ours if it
    carries this target, incident and spec; that is success, not a conflict."""
    annotations = current["metadata"].get("annotations") or {}
    wanted = desired["metadata"]["annotations"]
    return (
        is_ours(current)
        and annotations.get(TARGET_ANNOTATION) == wanted[TARGET_ANNOTATION]
        and annotations.get(INCIDENT_KEY) == wanted[INCIDENT_KEY]
        and same_spec(current.get("spec"), desired["spec"])
    )


def _created(desired: Obj) -> Change:
    meta = desired["metadata"]
    return Change(
        "create", "NetworkPolicy", meta["namespace"], meta["name"], None, {"spec": desired["spec"]}
    )


def _updated(desired: Obj, before: Any) -> Change:
    meta = desired["metadata"]
    return Change(
        "patch",
        "NetworkPolicy",
        meta["namespace"],
        meta["name"],
        {"spec": before},
        {"spec": desired["spec"]},
    )


def _read(cluster: Cluster, kind: str, namespace: str, name: str) -> Obj | None:
    try:
        return cluster.get(kind, namespace, name)
    except NotFound:
        return None


def _rv(obj: Obj) -> str:
    return str(obj["metadata"].get("resourceVersion") or "")


# ---- pod labels ----------------------------------------------------------------------------------
def _plan_pod(
    cluster: Cluster, pod: Obj, req: IsolateRequest, scope: Scope, resolved: Resolved
) -> _PodPlan:
    patch, removed = _pod_patch(cluster, pod, req, scope, resolved)
    return _PodPlan(pod, patch, removed)


def _labels_after(plan: _PodPlan) -> dict[str, str]:
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


def _label_pods(
    cluster: Cluster,
    plans: list[_PodPlan],
    req: IsolateRequest,
    scope: Scope,
    resolved: Resolved,
    changes: list[Change],
) -> tuple[list[str], dict[str, dict[str, str]], list[str]]:
    """Patch the pods that need it, a few at a time. Each change is appended (journaled, in a
    run) as its patch returns; the first error is raised once every patch has finished."""
    work = [plan for plan in plans if plan.patch is not None]
    outcomes: dict[str, _Outcome] = {}
    errors: dict[str, IrkitError] = {}

    def label(plan: _PodPlan) -> _Outcome:
        return _label_pod(cluster, plan, req, scope, resolved)

    def done(plan: _PodPlan, run: Callable[[], _Outcome]) -> None:
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
            futures: dict[Future[_Outcome], _PodPlan] = {pool.submit(label, p): p for p in work}
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


def _label_pod(
    cluster: Cluster, plan: _PodPlan, req: IsolateRequest, scope: Scope, resolved: Resolved
) -> _Outcome:
    """One pod's patch, conditional on the resourceVersion it was planned from: a concurrent
    change (another incident's quarantine label, say) is never overwritten but read and
    decided on again."""
    pod, patch, removed = plan.pod, plan.patch, plan.removed
    namespace, name = str(pod["metadata"]["namespace"]), str(pod["metadata"]["name"])
    for _ in range(MAX_ATTEMPTS):
        if patch is None:
            return None
        guarded = {"metadata": {**patch["metadata"], "resourceVersion": _rv(pod)}}
        try:
            after = cluster.patch("pods", namespace, name, guarded, dry_run=req.dry_run)
        except NotFound:
            return name
        except Conflict:
            fresh = _read(cluster, "pods", namespace, name)
            if fresh is None:
                return name
            if not req.dry_run and _patched(fresh, patch):  # went through; answer was lost
                return _Labelled(pod, fresh, removed)
            pod = fresh
            patch, removed = _pod_patch(cluster, pod, req, scope, resolved)
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
