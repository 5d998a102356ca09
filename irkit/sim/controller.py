"""A small controller manager, so the simulated cluster behaves like one.

Deployments get a ReplicaSet per pod template, ReplicaSets/StatefulSets/DaemonSets get that many
Running pods (owner references, template labels, a node), and Events record each change. It runs
synchronously after every write, so a client sees the effect of a scale in its very next read: no
sleeps in tests or drills. There is no scheduler and no kubelet: ``irkit.sim.kubelet`` stands in
for both, and pods are Running as soon as they exist.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

from irkit.model.kinds import BY_KIND, ResourceType
from irkit.model.selectors import label_selector_from_object
from irkit.sim.kubelet import DEFAULT_NODE, NODES, Kubelet
from irkit.sim.store import Obj, Store, rfc3339

PODS = BY_KIND[("", "Pod")]
SERVICES = BY_KIND[("", "Service")]
DEPLOYMENTS = BY_KIND[("apps", "Deployment")]
REPLICASETS = BY_KIND[("apps", "ReplicaSet")]
STATEFULSETS = BY_KIND[("apps", "StatefulSet")]
DAEMONSETS = BY_KIND[("apps", "DaemonSet")]
NAMESPACES = BY_KIND[("", "Namespace")]
SERVICE_ACCOUNTS = BY_KIND[("", "ServiceAccount")]
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def stable_suffix(seed: str, n: int) -> str:
    """Deterministic kube-style name suffix, so scenarios can name the pods a controller makes."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def template_hash(template: Any) -> str:
    return stable_suffix(json.dumps(template, sort_keys=True), 10)


def owner_ref(owner: Obj) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(store: Store, rt: ResourceType, owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [
        o
        for o in store.objects(rt, owner["metadata"]["namespace"])
        if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
    ]


class Controllers:
    """Reconciles workloads into pods. ``reconcile`` is the store's write hook."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.kubelet = Kubelet(store)
        self._serial: dict[str, int] = {}
        self._cluster_ips = 0
        self._reported: set[tuple[str, str]] = set()

    def reconcile(self) -> None:
        # Each pass may create objects that the next pass reacts to (Deployment -> RS -> Pods).
        for _ in range(5):
            before = self.store.resource_version
            steps: list[tuple[ResourceType, Callable[[Obj], None]]] = [
                (NAMESPACES, self._namespace),
                (DEPLOYMENTS, self._deployment),
                (REPLICASETS, lambda o: self._replicas(o, REPLICASETS, ordinal_names=False)),
                (STATEFULSETS, lambda o: self._replicas(o, STATEFULSETS, ordinal_names=True)),
                (DAEMONSETS, self._daemonset),
                (PODS, self._pod),
                (SERVICES, self._service),
            ]
            for rt, step in steps:
                for obj in self.store.objects(rt):
                    self._guarded(step, obj)
            if self.store.resource_version == before:
                return

    def _guarded(self, step: Callable[[Obj], None], obj: Obj) -> None:
        """One object the controllers cannot handle (a bad spec, a name already taken) must not
        fail every later write: skip it and say why in a Warning event, once per version."""
        try:
            step(obj)
        except Exception as e:  # any failure here is the object's, not the caller's
            meta = obj.get("metadata") or {}
            key = (str(meta.get("uid")), str(meta.get("resourceVersion")))
            if key in self._reported:
                return
            self._reported.add(key)
            with contextlib.suppress(Exception):
                self.store.record_event(
                    obj,
                    "ReconcileError",
                    f"the simulator cannot reconcile this object: "
                    f"{type(e).__name__}: {str(e)[:200]}",
                    kind_type="Warning",
                    component="irkit-sim-controller",
                )

    def _pod(self, pod: Obj) -> None:
        if "status" not in pod or not pod["status"].get("phase"):
            self.kubelet.start(pod)

    def _service(self, svc: Obj) -> None:
        if not svc.get("spec", {}).get("clusterIP"):
            self._assign_cluster_ip(svc)

    def _namespace(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        if not (ns.get("status") or {}).get("phase"):
            self.store.update(
                NAMESPACES, "", name, lambda o: o | {"status": {"phase": "Active"}}, part="status"
            )
        if self.store.find(SERVICE_ACCOUNTS, name, "default") is None:
            self.store.create(SERVICE_ACCOUNTS, name, {"metadata": {"name": "default"}})

    # ---- deployments -------------------------------------------------------------------------
    def _deployment(self, dep: Obj) -> None:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        spec = dep.get("spec", {})
        template = spec.get("template", {})
        replicas = int(spec.get("replicas", 1))
        phash = template_hash(template)
        rs_name = f"{name}-{phash}"
        current = self.store.find(REPLICASETS, ns, rs_name)
        if current is None:
            self.store.create(REPLICASETS, ns, self._new_rs(dep, rs_name, phash, replicas))
            self.store.record_event(
                dep,
                "ScalingReplicaSet",
                f"Scaled up replica set {rs_name} from 0 to {replicas}",
                component="deployment-controller",
            )
        elif current["spec"].get("replicas") != replicas:
            old = current["spec"].get("replicas", 0)
            self._set_replicas(REPLICASETS, current, replicas)
            verb = "up" if replicas > old else "down"
            self.store.record_event(
                dep,
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs_name} from {old} to {replicas}",
                component="deployment-controller",
            )
        for rs in owned_by(self.store, REPLICASETS, dep):
            if rs["metadata"]["name"] != rs_name and rs["spec"].get("replicas", 0) != 0:
                self._set_replicas(REPLICASETS, rs, 0)
        self._update_status(DEPLOYMENTS, dep, replicas, self._ready_count(dep, REPLICASETS))

    def _new_rs(self, dep: Obj, rs_name: str, phash: str, replicas: int) -> Obj:
        template = copy.deepcopy(dep["spec"].get("template", {}))
        labels = dict(template.get("metadata", {}).get("labels") or {}) | {
            "pod-template-hash": phash
        }
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(dep["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
        return {
            "metadata": {
                "name": rs_name,
                "labels": labels,
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [owner_ref(dep)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }

    def _ready_count(self, owner: Obj, child_rt: ResourceType) -> int:
        return sum(
            c.get("status", {}).get("readyReplicas", 0)
            for c in owned_by(self.store, child_rt, owner)
        )

    # ---- replica owners ----------------------------------------------------------------------
    def _replicas(self, owner: Obj, rt: ResourceType, ordinal_names: bool) -> None:
        want = int(owner.get("spec", {}).get("replicas", 1))
        pods = owned_by(self.store, PODS, owner)
        if not ordinal_names:
            pods = self._release_unmatched(owner, pods)
        name = owner["metadata"]["name"]
        if ordinal_names:
            pods.sort(key=lambda p: int(p["metadata"]["name"].rsplit("-", 1)[-1]))
        else:
            pods.sort(key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        for i in range(len(pods), want):
            pod_name = f"{name}-{i}" if ordinal_names else self._next_pod_name(name)
            self._create_pod(owner, rt, pod_name)
        for pod in reversed(pods[want:]):
            self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
            self.store.record_event(
                owner,
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                component=f"{rt.singular_name}-controller",
            )
        # Pods start Running at once (no kubelet), so every wanted pod is also ready.
        self._update_status(rt, owner, want, want)

    def _release_unmatched(self, owner: Obj, pods: list[Obj]) -> list[Obj]:
        """Pods relabelled out of the selector are let go (owner reference removed), as upstream:
        the ReplicaSet then makes a replacement, and the released pod lives on, unmanaged."""
        selector = label_selector_from_object(owner.get("spec", {}).get("selector"))
        kept = []
        for pod in pods:
            if selector.matches(pod["metadata"].get("labels") or {}):
                kept.append(pod)
                continue
            uid = owner["metadata"]["uid"]

            def release(o: Obj, uid: str = uid) -> Obj:
                refs = [r for r in o["metadata"].get("ownerReferences", []) if r.get("uid") != uid]
                if refs:
                    o["metadata"]["ownerReferences"] = refs
                else:
                    o["metadata"].pop("ownerReferences", None)
                return o

            self.store.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], release)
        return kept

    def _daemonset(self, ds: Obj) -> None:
        nodes = [n["metadata"]["name"] for n in self.store.objects(NODES)] or [DEFAULT_NODE]
        pods = owned_by(self.store, PODS, ds)
        placed = {p.get("spec", {}).get("nodeName") for p in pods}
        for node in nodes:
            if node not in placed:
                self._create_pod(ds, DAEMONSETS, self._next_pod_name(ds["metadata"]["name"]), node)
        status = ds.get("status", {})
        if status.get("desiredNumberScheduled") != len(nodes):
            new_status = {
                "currentNumberScheduled": len(nodes),
                "desiredNumberScheduled": len(nodes),
                "numberReady": len(nodes),
                "numberAvailable": len(nodes),
                "updatedNumberScheduled": len(nodes),
                "numberMisscheduled": 0,
                "observedGeneration": ds["metadata"].get("generation", 1),
            }
            self.store.update(
                DAEMONSETS,
                ds["metadata"]["namespace"],
                ds["metadata"]["name"],
                lambda o: o | {"status": new_status},
                part="status",
            )

    def _next_pod_name(self, owner_name: str) -> str:
        n = self._serial.get(owner_name, 0)
        self._serial[owner_name] = n + 1
        return f"{owner_name}-{stable_suffix(f'{owner_name}/{n}', 5)}"

    def _create_pod(
        self, owner: Obj, rt: ResourceType, pod_name: str, node: str | None = None
    ) -> None:
        template = copy.deepcopy(owner.get("spec", {}).get("template", {}))
        meta = template.get("metadata", {})
        spec = template.get("spec", {})
        spec.setdefault("nodeName", node or self.kubelet.pick_node(pod_name))
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("restartPolicy", "Always")
        if rt is STATEFULSETS:
            spec.setdefault("hostname", pod_name)
        pod = {
            "metadata": {
                "name": pod_name,
                "labels": meta.get("labels") or {},
                "annotations": meta.get("annotations") or {},
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": spec,
        }
        self.store.create(PODS, owner["metadata"]["namespace"], pod)
        self.store.record_event(
            owner,
            "SuccessfulCreate",
            f"Created pod: {pod_name}",
            component=f"{rt.singular_name}-controller",
        )

    def _assign_cluster_ip(self, svc: Obj) -> None:
        self._cluster_ips += 1
        ip = f"10.96.{self._cluster_ips // 250}.{self._cluster_ips % 250 + 1}"

        def change(o: Obj) -> Obj:
            spec = o.setdefault("spec", {})
            if spec.get("type") != "ExternalName":
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            spec.setdefault("type", "ClusterIP")
            return o

        self.store.update(SERVICES, svc["metadata"]["namespace"], svc["metadata"]["name"], change)

    # ---- shared ------------------------------------------------------------------------------
    def _set_replicas(self, rt: ResourceType, obj: Obj, replicas: int) -> None:
        def change(o: Obj) -> Obj:
            o["spec"]["replicas"] = replicas
            return o

        self.store.update(rt, obj["metadata"]["namespace"], obj["metadata"]["name"], change)

    def _update_status(self, rt: ResourceType, obj: Obj, want: int, ready: int) -> None:
        new_status: dict[str, Any] = {
            "replicas": want,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": obj["metadata"].get("generation", 1),
        }
        if rt is not REPLICASETS:
            new_status["updatedReplicas"] = want
        if rt is REPLICASETS:
            new_status["fullyLabeledReplicas"] = want
        if rt is STATEFULSETS:
            new_status["currentReplicas"] = want
        if rt is DEPLOYMENTS:
            new_status["conditions"] = [
                {
                    "type": "Available",
                    "status": "True" if ready >= want else "False",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": obj["metadata"]["creationTimestamp"],
                    "lastTransitionTime": obj["metadata"]["creationTimestamp"],
                }
            ]
        if not ready:
            for k in ("readyReplicas", "availableReplicas"):
                new_status.pop(k)
        if obj.get("status") != new_status:
            self.store.update(
                rt,
                obj["metadata"]["namespace"],
                obj["metadata"]["name"],
                lambda o: o | {"status": new_status},
                part="status",
            )


__all__ = ["Controllers", "rfc3339", "stable_suffix"]
