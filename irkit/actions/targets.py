"""Resolve a ``Target`` to its workload, its pods and the selector that picks them.

Pods are found through the owner's selector (matchLabels and matchExpressions) and then kept
only when their owner references lead back to the workload: a stray pod that happens to carry
the same labels is not the workload's and is not touched.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from irkit.cluster.port import Cluster, Obj
from irkit.errors import ClusterError, Forbidden, NotFound
from irkit.model.kinds import by_name
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
    """The namespace is looked up only when something is not found, to say which: a GET per
    resolve that almost always finds it would be a round trip on every action."""
    if target.selector is not None:
        pods = cluster.list("pods", target.namespace, labels=target.selector)
        if not pods:
            _missing_namespace(cluster, target.namespace)
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


def _missing_namespace(cluster: Cluster, namespace: str) -> None:
    """Raise NotFound naming the namespace when it is the namespace that is missing. Someone who
    may not read namespaces gets the error about what they asked for instead."""
    with contextlib.suppress(Forbidden):
        ensure_namespace(cluster, namespace)


MAX_OWNER_DEPTH = 5  # owner graphs are shallow; a loop in hostile data must not hang us

# The only owner kinds irkit follows. Owner references are written by whoever creates the pod:
# followed blindly, ``kind: Secret`` would read a Secret into the evidence.
CONTROLLER_KINDS = frozenset({"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet"})
_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # DNS subdomain: no "/", no ".."


def controller_ref(obj: Obj) -> tuple[str, str] | None:
    """``(plural, name)`` of the controller to follow upwards, or None.

    None too when the reference names a kind that is not a workload controller, or a name no
    Kubernetes object can have (``../../secrets/x`` would otherwise walk the API path)."""
    ref = _controller_ref(obj)
    if ref is None or ref.get("kind") not in CONTROLLER_KINDS:
        return None
    name, rt = ref.get("name"), by_name(str(ref.get("kind")))
    if rt is None or not isinstance(name, str) or not _OBJECT_NAME.fullmatch(name):
        return None
    return rt.plural, name


def owner_chain(cluster: Cluster, obj: Obj) -> list[Obj]:
    """The controllers above an object, nearest first (Pod -> ReplicaSet -> Deployment)."""
    chain: list[Obj] = []
    current = obj
    for _ in range(MAX_OWNER_DEPTH):
        ref = controller_ref(current)
        if ref is None:
            break
        try:
            current = cluster.get(ref[0], obj["metadata"]["namespace"], ref[1])
        except ClusterError:  # gone, or unreadable: stop there
            break
        chain.append(current)
    return chain


def _controller_ref(obj: Obj) -> dict[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def _leads_to(cluster: Cluster, pod: Obj, uid: str, replicasets: dict[str, Obj | None]) -> bool:
    ref = _controller_ref(pod)
    if ref is None:
        return False
    if ref.get("uid") == uid:
        return True
    followed = controller_ref(pod)
    if followed is None or followed[0] != "replicasets":
        return False
    name = followed[1]
    if name not in replicasets:  # 200 pods share a few ReplicaSets: look each up once
        try:
            replicasets[name] = cluster.get("replicasets", pod["metadata"]["namespace"], name)
        except NotFound:
            replicasets[name] = None
    rs = replicasets[name]
    if rs is None:
        return False
    rs_ref = _controller_ref(rs)
    return rs_ref is not None and rs_ref.get("uid") == uid


def _get(cluster: Cluster, target: Target) -> Obj:
    assert target.kind is not None and target.name is not None
    try:
        return cluster.get(target.kind, target.namespace, target.name)
    except NotFound:
        _missing_namespace(cluster, target.namespace)
        kind = WORKLOAD_KINDS[target.kind]
        raise NotFound(
            f'{kind} "{target.name}" not found in namespace "{target.namespace}"'
        ) from None
