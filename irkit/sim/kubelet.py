"""The simulated cluster's stand-in for the scheduler and the kubelet: a new pod gets a node, an
IP, Running status with every container ready, and the Events a real node would record.

Its own module because a pod's life on a node is a job apart from the workload controllers
(``irkit.sim.controller``) that decide which pods exist; they call ``Kubelet.start`` for every
pod without a phase and ``Kubelet.pick_node`` when they create one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from irkit.model.kinds import BY_KIND
from irkit.sim.store import Obj, Store

PODS = BY_KIND[("", "Pod")]
NODES = BY_KIND[("", "Node")]
DEFAULT_NODE = "sim-node-1"


class Kubelet:
    """Starts pods at once: no images to pull, no probes to wait for."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def pick_node(self, seed: str) -> str:
        """A node for a new pod: one of the Nodes, chosen by ``seed``, or the default one."""
        nodes: list[str] = [n["metadata"]["name"] for n in self.store.objects(NODES)]
        if not nodes:
            return DEFAULT_NODE
        return nodes[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(nodes)]

    def start(self, pod: Obj) -> None:
        """Stand in for scheduler and kubelet: the pod is Running with all containers ready."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        started = pod["metadata"]["creationTimestamp"]
        ip_seed = int(hashlib.sha256(f"{ns}/{name}".encode()).hexdigest(), 16)
        spec = pod.get("spec", {})
        statuses = [_container_status(c, started) for c in spec.get("containers", [])]
        init = [_container_status(c, started, init=True) for c in spec.get("initContainers", [])]
        conditions = [
            {"type": t, "status": "True", "lastTransitionTime": started}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        new_status: dict[str, Any] = {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": f"10.0.0.{ip_seed % 250 + 2}",
            "podIP": f"10.244.{ip_seed % 200}.{ip_seed // 200 % 250 + 2}",
            "startTime": started,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
        if init:
            new_status["initContainerStatuses"] = init

        def change(o: Obj) -> Obj:
            o.setdefault("spec", {}).setdefault("nodeName", self.pick_node(name))
            o["status"] = new_status
            return o

        self.store.update(PODS, ns, name, change)
        node = self.store.get(PODS, ns, name)["spec"]["nodeName"]
        self.store.record_event(
            pod,
            "Scheduled",
            f"Successfully assigned {ns}/{name} to {node}",
            component="default-scheduler",
        )
        for c in spec.get("containers", []):
            image = c.get("image", "")
            self.store.record_event(
                pod,
                "Pulled",
                f'Container image "{image}" already present on machine',
                component="kubelet",
            )
            self.store.record_event(
                pod, "Started", f"Started container {c.get('name', '')}", component="kubelet"
            )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _container_status(
    container: dict[str, Any], started: str, init: bool = False
) -> dict[str, Any]:
    image = container.get("image", "")
    state = (
        {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": started,
                "finishedAt": started,
            }
        }
        if init
        else {"running": {"startedAt": started}}
    )
    return {
        "name": container.get("name", ""),
        "image": image,
        "imageID": f"docker-pullable://{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
        "containerID": f"containerd://{_digest(container.get('name', '') + started)}",
        "ready": not init,
        "started": not init,
        "restartCount": 0,
        "state": state,
    }
