"""What every simulated cluster has before the scenario adds to it, as a fresh kubeadm one does.

System namespaces, nodes (when the scenario brings none), cluster DNS pods in kube-system (so
DNS allow-lists have something to select), and the cluster-admin role bound to system:masters.
"""

from __future__ import annotations

import uuid
from typing import Any

Manifest = dict[str, Any]


def _ns(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
    }


def _node(name: str, role: str | None) -> Manifest:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    if role:
        labels[f"node-role.kubernetes.io/{role}"] = ""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            # Every field the API marks required: typed clients refuse a Node without them.
            "nodeInfo": {
                "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.machine").hex,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.system")),
                "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.boot")),
                "kernelVersion": "6.8.0-irkit-sim",
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "osImage": "irkit-sim",
                "containerRuntimeVersion": "containerd://1.7.0",
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + len(name)}"},
                {"type": "Hostname", "address": name},
            ],
        },
    }


SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DEFAULT_NODES = ("sim-node-1", "sim-node-2")

CLUSTER_ADMIN: list[Manifest] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "cluster-admin",
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        },
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": "cluster-admin",
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
        ],
    },
]

COREDNS: Manifest = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "containers": [
                    {
                        "name": "coredns",
                        "image": "registry.k8s.io/coredns/coredns:v1.11.3",
                        "ports": [
                            {"containerPort": 53, "protocol": "UDP", "name": "dns"},
                            {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"},
                        ],
                    }
                ]
            },
        },
    },
}

KUBE_DNS_SERVICE: Manifest = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    "spec": {
        "selector": {"k8s-app": "kube-dns"},
        "clusterIP": "10.96.0.10",
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        ],
    },
}


def base_manifests(scenario_has_nodes: bool) -> list[Manifest]:
    out = [_ns(n) for n in SYSTEM_NAMESPACES]
    if not scenario_has_nodes:
        out += [_node(DEFAULT_NODES[0], "control-plane"), _node(DEFAULT_NODES[1], None)]
    return [*out, *CLUSTER_ADMIN, COREDNS, KUBE_DNS_SERVICE]
