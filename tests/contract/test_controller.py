"""The controllers: Deployments, ReplicaSets, StatefulSets and DaemonSets make Running pods.

They run synchronously after each write, so every effect is visible in the very next read.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException

NS = "default"
NODES = {"sim-node-1", "sim-node-2"}


def _template(app: str, image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app, "tier": "web"}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name),
        },
    }


def _pods(core: Any, app: str) -> list[Any]:
    return core.list_namespaced_pod(NS, label_selector=f"app={app}").items


def _events(core: Any, name: str, reason: str) -> list[str]:
    items = core.list_namespaced_event(
        NS, field_selector=f"involvedObject.name={name},reason={reason}"
    ).items
    return [e.message for e in items]


def test_deployment_makes_a_replicaset_and_running_pods(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    dep = apps.create_namespaced_deployment(NS, _deployment("web", 3))
    (rs,) = apps.list_namespaced_replica_set(NS).items
    assert rs.metadata.name.startswith("web-")
    (owner,) = rs.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Deployment",
        "web",
        dep.metadata.uid,
        True,
    )
    assert rs.spec.replicas == 3
    template_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{template_hash}"

    pods = _pods(core, "web")
    assert len(pods) == 3
    assert len({p.metadata.name for p in pods}) == 3
    for pod in pods:
        assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
        assert pod.metadata.labels == {
            "app": "web",
            "tier": "web",
            "pod-template-hash": template_hash,
        }
        (ref,) = pod.metadata.owner_references
        assert (ref.kind, ref.name, ref.uid, ref.controller) == (
            "ReplicaSet",
            rs.metadata.name,
            rs.metadata.uid,
            True,
        )
        assert pod.spec.node_name in NODES
        assert pod.status.phase == "Running"
        assert [c.image for c in pod.spec.containers] == ["nginx:1.27"]
        assert [(s.name, s.ready) for s in pod.status.container_statuses] == [("main", True)]
    status = apps.read_namespaced_deployment("web", NS).status
    assert (status.replicas, status.ready_replicas, status.available_replicas) == (3, 3, 3)


def test_scale_subresource_reads_the_deployment(k8s: Any) -> None:
    scale = client.AppsV1Api(k8s).read_namespaced_deployment_scale("api-server", "production")
    assert (scale.kind, scale.api_version) == ("Scale", "autoscaling/v1")
    assert (scale.metadata.name, scale.spec.replicas, scale.status.replicas) == (
        "api-server",
        3,
        3,
    )
    assert scale.status.selector == "app=api-server"


@pytest.mark.parametrize("how", ["patch", "replace"])
def test_scale_up_and_down(k8s: Any, how: str) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    apps.create_namespaced_deployment(NS, _deployment("web", 2))
    first = {p.metadata.name for p in _pods(core, "web")}

    def scale_to(n: int) -> Any:
        if how == "patch":
            return apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": n}})
        current = apps.read_namespaced_deployment_scale("web", NS)
        current.spec.replicas = n
        return apps.replace_namespaced_deployment_scale("web", NS, current)

    assert scale_to(5).spec.replicas == 5
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 5
    up = {p.metadata.name for p in _pods(core, "web")}
    assert len(up) == 5
    assert first <= up  # scaling up keeps the pods that were there
    (rs,) = apps.list_namespaced_replica_set(NS).items
    assert rs.spec.replicas == 5

    assert scale_to(1).spec.replicas == 1
    down = {p.metadata.name for p in _pods(core, "web")}
    assert len(down) == 1
    assert down <= up
    assert apps.read_namespaced_deployment_scale("web", NS).status.replicas == 1

    scale_to(0)
    assert _pods(core, "web") == []
    assert apps.read_namespaced_deployment("web", NS).status.replicas == 0


def test_replace_scale_with_a_stale_resource_version_is_conflict(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    stale = apps.read_namespaced_deployment_scale("api-server", "production")
    apps.patch_namespaced_deployment_scale("api-server", "production", {"spec": {"replicas": 4}})
    stale.spec.replicas = 1
    with pytest.raises(ApiException) as e:
        apps.replace_namespaced_deployment_scale("api-server", "production", stale)
    assert (e.value.status, body(e.value)["reason"]) == (409, "Conflict")
    assert apps.read_namespaced_deployment("api-server", "production").spec.replicas == 4


def test_negative_replicas_is_invalid(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.AppsV1Api(k8s).patch_namespaced_deployment_scale(
            "api-server", "production", {"spec": {"replicas": -1}}
        )
    assert (e.value.status, body(e.value)["reason"]) == (422, "Invalid")


def test_scaling_records_events(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    apps.create_namespaced_deployment(NS, _deployment("web", 2))
    (rs,) = apps.list_namespaced_replica_set(NS).items
    rs_name = rs.metadata.name
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}})
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 1}})

    # Event names end in a random suffix, so a list is in no particular order.
    assert sorted(_events(core, "web", "ScalingReplicaSet")) == [
        f"Scaled down replica set {rs_name} from 3 to 1",
        f"Scaled up replica set {rs_name} from 0 to 2",
        f"Scaled up replica set {rs_name} from 2 to 3",
    ]
    created = _events(core, rs_name, "SuccessfulCreate")
    deleted = _events(core, rs_name, "SuccessfulDelete")
    assert len(created) == 3
    assert len(deleted) == 2
    assert all(m.startswith(f"Created pod: {rs_name}-") for m in created)
    assert all(m.startswith(f"Deleted pod: {rs_name}-") for m in deleted)
    survivor = _pods(core, "web")[0].metadata.name
    assert f"Created pod: {survivor}" in created
    assert f"Deleted pod: {survivor}" not in deleted
    event = core.list_namespaced_event(
        NS, field_selector=f"involvedObject.name={rs_name},reason=SuccessfulCreate"
    ).items[0]
    assert (event.type, event.involved_object.kind, event.involved_object.uid) == (
        "Normal",
        "ReplicaSet",
        rs.metadata.uid,
    )
    assert event.source.component == "replicaset-controller"


def test_template_change_rolls_out_a_new_replicaset(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    apps.create_namespaced_deployment(NS, _deployment("web", 2))
    (old,) = apps.list_namespaced_replica_set(NS).items
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "v2"}]}}}}
    apps.patch_namespaced_deployment("web", NS, patch)
    sets = {rs.metadata.name: rs for rs in apps.list_namespaced_replica_set(NS).items}
    assert len(sets) == 2
    assert sets[old.metadata.name].spec.replicas == 0
    (new_name,) = set(sets) - {old.metadata.name}
    assert sets[new_name].spec.replicas == 2
    pods = _pods(core, "web")
    assert len(pods) == 2
    assert {p.spec.containers[0].image for p in pods} == {"v2"}
    assert {p.metadata.owner_references[0].name for p in pods} == {new_name}


def test_statefulset_pods_have_ordinal_names(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    sts = {
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": _template("db", "postgres:16"),
        },
    }
    made = apps.create_namespaced_stateful_set(NS, sts)
    pods = _pods(core, "db")
    assert sorted(p.metadata.name for p in pods) == ["db-0", "db-1", "db-2"]
    for pod in pods:
        (ref,) = pod.metadata.owner_references
        assert (ref.kind, ref.uid) == ("StatefulSet", made.metadata.uid)
        assert pod.status.phase == "Running"
        assert pod.spec.node_name in NODES
    apps.patch_namespaced_stateful_set_scale("db", NS, {"spec": {"replicas": 5}})
    assert sorted(p.metadata.name for p in _pods(core, "db")) == [f"db-{i}" for i in range(5)]
    apps.patch_namespaced_stateful_set_scale("db", NS, {"spec": {"replicas": 2}})
    assert sorted(p.metadata.name for p in _pods(core, "db")) == ["db-0", "db-1"]
    status = apps.read_namespaced_stateful_set("db", NS).status
    assert (status.replicas, status.ready_replicas) == (2, 2)


def test_daemonset_runs_one_pod_per_node(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    ds = {
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": _template("agent", "falco:0.39"),
        },
    }
    made = apps.create_namespaced_daemon_set(NS, ds)
    pods = _pods(core, "agent")
    assert sorted(p.spec.node_name for p in pods) == sorted(NODES)
    assert {p.metadata.owner_references[0].uid for p in pods} == {made.metadata.uid}
    assert {p.status.phase for p in pods} == {"Running"}
    status = apps.read_namespaced_daemon_set("agent", NS).status
    assert (status.desired_number_scheduled, status.number_ready) == (2, 2)


def test_a_deleted_pod_is_replaced(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pods = core.list_namespaced_pod("production", label_selector="app=frontend").items
    victim = pods[0].metadata.name
    core.delete_namespaced_pod(victim, "production")
    now = core.list_namespaced_pod("production", label_selector="app=frontend").items
    assert len(now) == 2
    assert victim not in {p.metadata.name for p in now}


def test_pods_of_the_scenario_are_spread_over_the_nodes(k8s: Any) -> None:
    pods = client.CoreV1Api(k8s).list_namespaced_pod("production").items
    assert {p.spec.node_name for p in pods} == NODES
    for pod in pods:
        assert pod.status.pod_ip
        assert pod.status.host_ip
        assert {c.type for c in pod.status.conditions} >= {"Ready", "PodScheduled"}
