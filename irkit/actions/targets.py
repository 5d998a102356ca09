"""Resolve a ``Target`` to its workload, its pods and the selector that picks them.

Pods are found through the owner's selector (matchLabels and matchExpressions) and then kept
only when their owner references lead back to the workload: a stray pod that happens to carry
the same labels is not the workload's and is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from irkit.cluster.port import Cluster, Obj
from irkit.errors import ClusterError, NotFound
from irkit.model.target import WORKLOAD_KINDS, Target, selector_to_object, selector_to_string


@dataclass(frozen=True)
class Resolved:
    target: Target
    workload: Obj | None  # the Deployment/StatefulSet/...; None for -l and bare pods
    pods: list[Obj]
    pod_selector: dict[str, Any]  # metav1.LabelSelector that selects the workload's pods
    owner_chain: list[Obj] = field(default_factory=list)  # e.g. [ReplicaSet, Deployment]

    @property
    def pod_names(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods]


def resolve(cluster: Cluster, target: Target, *, require_pods: bool = False) -> Resolved:
    ensure_namespace(cluster, target.namespace)
    if target.selector is not None:
        pods = cluster.list("pods", target.namespace, labels=target.selector)
        if not pods:
            raise NotFound(f"no pods match -l {target.selector} in namespace {target.namespace}")
        return Resolved(target, None, pods, selector_to_object(target.selector))
    assert target.kind is not None and target.name is not None
    if target.kind == "pods":
        pod = _get(cluster, target)
        chain = owner_chain(cluster, pod)
        labels = pod["metadata"].get("labels") or {}
        return Resolved(target, None, [pod], {"matchLabels": labels}, chain)
    workload = _get(cluster, target)
    selector = (workload.get("spec") or {}).get("selector") or {}
    candidates = cluster.list("pods", target.namespace, labels=selector_to_string(selector) or None)
    replicasets: dict[str, Obj | None] = {}
    uid = workload["metadata"]["uid"]
    pods = [p for p in candidates if _leads_to(cluster, p, uid, replicasets)]
    if require_pods and not pods:
        raise NotFound(f"{WORKLOAD_KINDS[target.kind]}/{target.name} has no pods")
    return Resolved(target, workload, pods, selector, [workload])


def ensure_namespace(cluster: Cluster, namespace: str) -> None:
    try:
        cluster.get("namespaces", "", namespace)
    except NotFound:
        raise NotFound(f'namespace "{namespace}" not found') from None


def owner_chain(cluster: Cluster, obj: Obj) -> list[Obj]:
    """The controllers above an object, nearest first (Pod -> ReplicaSet -> Deployment)."""
    chain: list[Obj] = []
    current = obj
    for _ in range(5):  # owner graphs are shallow; a loop in hostile data must not hang us
        ref = _controller_ref(current)
        if ref is None:
            break
        try:
            current = cluster.get(ref["kind"], obj["metadata"]["namespace"], ref["name"])
        except ClusterError:  # gone, or an owner kind irkit does not know (a CRD): stop there
            break
        chain.append(current)
    return chain


def _controller_ref(obj: Obj) -> dict[str, Any] | None:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def _leads_to(cluster: Cluster, pod: Obj, uid: str, replicasets: dict[str, Obj | None]) -> bool:
    ref = _controller_ref(pod)
    if ref is None:
        return False
    if ref.get("uid") == uid:
        return True
    if ref.get("kind") != "ReplicaSet":
        return False
    if ref["name"] not in replicasets:  # 200 pods share a few ReplicaSets: look each up once
        try:
            replicasets[ref["name"]] = cluster.get(
                "replicasets", pod["metadata"]["namespace"], ref["name"]
            )
        except NotFound:
            replicasets[ref["name"]] = None
    rs = replicasets[ref["name"]]
    if rs is None:
        return False
    rs_ref = _controller_ref(rs)
    return rs_ref is not None and rs_ref.get("uid") == uid


def _get(cluster: Cluster, target: Target) -> Obj:
    assert target.kind is not None and target.name is not None
    try:
        return cluster.get(target.kind, target.namespace, target.name)
    except NotFound:
        kind = WORKLOAD_KINDS[target.kind]
        raise NotFound(
            f'{kind} "{target.name}" not found in namespace "{target.namespace}"'
        ) from None
