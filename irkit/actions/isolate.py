"""``isolate``: cut a workload off the network (``release`` puts it back).

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
is in it) and the leak check; pods are patched in parallel (``quarantine_pods``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

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
from irkit.actions.quarantine_pods import (
    MAX_ATTEMPTS,
    Labelling,
    Scope,
    label_pods,
    labels_after,
    plan_pod,
    read,
    resource_version,
)
from irkit.actions.targets import Resolved, resolve
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, NotFound, Remedy, UsageError
from irkit.incident.ids import check_incident_id
from irkit.model.journal import Change, utc_now
from irkit.model.target import Target

TARGET_ANNOTATION = "irkit.io/target"
INCIDENT_KEY = "irkit.io/incident"


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
    # The incident id was generated, not chosen: when irkit already quarantines the target,
    # join that quarantine's incident instead of refusing (a responder re-running isolate).
    join_existing: bool = False


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
    incident: str = ""  # the quarantine's incident: the request's, or the one it joined

    @property
    def partial(self) -> bool:
        """Other NetworkPolicies still allow traffic to (or from) the quarantined pods."""
        return bool(self.leaks)


def policy_name(target: Target) -> str:
    return f"{POLICY_PREFIX}{target.slug}"


def isolate(
    cluster: Cluster, target: Target, req: IsolateRequest, changes: list[Change] | None = None
) -> IsolateResult:
    """``changes`` (when given) is filled as the work is done, so a caller can journal what
    happened even when a later step fails."""
    scope = req.scope or ("pod" if target.kind == "pods" else "workload")
    if scope == "pod" and target.kind != "pods":
        # neutral words; ``option`` and ``code`` let a front end say it (irkit.cli.wording)
        raise UsageError(
            "pod quarantines one pod: give pod/NAME as the target",
            option="scope",
            code="pod-scope-needs-pod",
        )
    if req.detach and scope != "pod":
        raise UsageError(
            "works with scope pod (a single pod) only",
            option="detach",
            code="detach-needs-pod-scope",
        )
    resolved = resolve(cluster, target)
    name = policy_name(target)
    policies = cluster.list("networkpolicies", target.namespace)
    current = next((p for p in policies if p["metadata"]["name"] == name), None)
    joined = False
    if req.join_existing and current is not None and is_ours(current):
        owner = _joinable(incident_of(current))
        joined = owner is not None  # not chosen by the user: never changes the spec
        req = replace(req, incident=owner or req.incident)
    selector = _selector(resolved, scope, req.incident)
    # Everything that can refuse does so here, before the first write.
    if current is not None:
        _check_owner(current, target, req.incident)
    how = Labelling(req.incident, scope, req.detach, req.dry_run)
    plans = [plan_pod(cluster, pod, how, resolved) for pod in resolved.pods]
    leaks = find_leaks(policies, [labels_after(plan) for plan in plans], name)
    warnings = leak_warnings(leaks)
    if leaks and req.strict:
        raise Conflict(
            "isolation would not be complete: " + "; ".join(warnings),
            remedy=Remedy("isolate-strict-conflict"),
        )
    desired = _policy(name, target, selector, req)
    if joined and current is not None and not same_spec(current.get("spec"), desired["spec"]):
        raise Conflict(
            f"{target} is already quarantined by incident {req.incident!r} with another policy "
            "spec; joining that incident never changes its quarantine",
            remedy=Remedy("joined-incident", {"incident": req.incident}),
        )
    changes = [] if changes is None else changes
    status, policy, change = _apply_policy(cluster, target, desired, current, req.dry_run)
    if change:
        changes.append(change)
    labelled, detached, gone = label_pods(cluster, plans, how, resolved, changes)
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
        req.incident,
    )


def check_same_target(policy: Obj, target: Target) -> None:
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
    check_same_target(policy, target)
    owner = incident_of(policy)
    if owner is not None and owner != incident:
        raise Conflict(
            f"{target} is already quarantined by incident {owner!r} (NetworkPolicy {name!r}); "
            "another incident never changes that quarantine",
            remedy=Remedy("owned-by-incident", {"incident": owner}),
        )


def _joinable(incident: str | None) -> str | None:
    """An incident id read off the cluster is data: joined only when it is a valid id."""
    try:
        return check_incident_id(incident) if incident else None
    except UsageError:
        return None


def incident_of(policy: Obj) -> str | None:
    """The incident recorded on one of irkit's policies (annotation, else label), if any."""
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
            pod = str(resolved.target.name)
            raise UsageError(
                f"pod {pod} has no owner: use scope pod",
                code="pod-without-owner",
                values={"pod": pod},
            )
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
                current = read(cluster, "networkpolicies", namespace, name)
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
            {
                "op": "replace",
                "path": "/metadata/resourceVersion",
                "value": resource_version(current),
            },
            {"op": "replace", "path": "/spec", "value": desired["spec"]},
        ]
        try:
            updated = cluster.patch(
                "networkpolicies", namespace, name, ops, patch_type="json", dry_run=dry_run
            )
        except (Conflict, NotFound):
            sent_over = current.get("spec") if sent_over is None else sent_over
            current = read(cluster, "networkpolicies", namespace, name)
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
