"""Deletes: owner-reference cascade, orphaning, namespace teardown, delete collection."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException


def _rs_of(apps: Any, deployment: str) -> list[Any]:
    return [
        rs
        for rs in apps.list_namespaced_replica_set("production").items
        if any(o.name == deployment for o in rs.metadata.owner_references or [])
    ]


def _pods(core: Any, app: str) -> list[Any]:
    return core.list_namespaced_pod("production", label_selector=f"app={app}").items


def test_deleting_a_deployment_removes_its_replicasets_and_pods(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    assert len(_rs_of(apps, "api-server")) == 1
    assert len(_pods(core, "api-server")) == 3
    answer = apps.delete_namespaced_deployment("api-server", "production")
    assert (answer["status"], answer["details"]["name"]) == ("Success", "api-server")
    assert _rs_of(apps, "api-server") == []
    assert _pods(core, "api-server") == []
    # Nothing else went with it.
    assert len(_rs_of(apps, "frontend")) == 1
    assert len(_pods(core, "frontend")) == 2


def test_foreground_propagation_also_removes_dependents(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    apps.delete_namespaced_deployment("frontend", "production", propagation_policy="Foreground")
    assert _rs_of(apps, "frontend") == []
    assert _pods(core, "frontend") == []


def test_orphan_keeps_dependents_and_strips_the_owner_reference(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    (rs,) = _rs_of(apps, "api-server")
    pods_before = sorted(p.metadata.name for p in _pods(core, "api-server"))
    apps.delete_namespaced_deployment("api-server", "production", propagation_policy="Orphan")
    with pytest.raises(ApiException) as e:
        apps.read_namespaced_deployment("api-server", "production")
    assert e.value.status == 404
    kept = apps.read_namespaced_replica_set(rs.metadata.name, "production")
    assert kept.metadata.uid == rs.metadata.uid
    assert kept.metadata.owner_references is None  # an emptied list is left out, as upstream
    assert int(kept.metadata.resource_version) > int(rs.metadata.resource_version)
    # The pods belong to the ReplicaSet, which still exists: they keep their owner.
    pods = _pods(core, "api-server")
    assert sorted(p.metadata.name for p in pods) == pods_before
    assert {p.metadata.owner_references[0].uid for p in pods} == {rs.metadata.uid}


def test_deleting_a_replicaset_removes_its_pods_and_the_deployment_recreates_it(
    k8s: Any,
) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    (rs,) = _rs_of(apps, "frontend")
    old_pods = {p.metadata.uid for p in _pods(core, "frontend")}
    apps.delete_namespaced_replica_set(rs.metadata.name, "production")
    (again,) = _rs_of(apps, "frontend")
    assert again.metadata.uid != rs.metadata.uid
    new_pods = {p.metadata.uid for p in _pods(core, "frontend")}
    assert len(new_pods) == 2
    assert new_pods.isdisjoint(old_pods)


def test_deleting_a_pod_answers_the_pod(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _pods(core, "frontend")[0]
    answer = core.delete_namespaced_pod(pod.metadata.name, "production")
    assert answer.kind == "Pod"
    assert answer.metadata.uid == pod.metadata.uid
    assert pod.metadata.uid not in {p.metadata.uid for p in _pods(core, "frontend")}


def test_deleting_a_namespace_removes_its_objects(k8s: Any) -> None:
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    core.create_namespace({"metadata": {"name": "scratch"}})
    core.create_namespaced_config_map("scratch", {"metadata": {"name": "cm"}})
    core.create_namespaced_secret("scratch", {"metadata": {"name": "s"}, "data": {}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
    core.delete_namespace("production")
    core.delete_namespace("scratch")
    for ns in ("production", "scratch"):
        with pytest.raises(ApiException) as e:
            core.read_namespace(ns)
        assert body(e.value)["message"] == f'namespaces "{ns}" not found'
    remaining = {
        "pods": core.list_pod_for_all_namespaces().items,
        "configmaps": core.list_config_map_for_all_namespaces().items,
        "secrets": core.list_secret_for_all_namespaces().items,
        "deployments": apps.list_deployment_for_all_namespaces().items,
        "services": core.list_service_for_all_namespaces().items,
        "events": core.list_event_for_all_namespaces().items,
    }
    for kind, items in remaining.items():
        assert {i.metadata.namespace for i in items} & {"production", "scratch"} == set(), kind
    assert [c.metadata.name for c in remaining["configmaps"]] == ["cm"]
    assert remaining["configmaps"][0].metadata.namespace == "default"
    # Cluster-scoped objects are not in any namespace and stay.
    assert client.RbacAuthorizationV1Api(k8s).read_cluster_role("oncall-viewer").metadata.name


def test_delete_collection_with_a_label_selector(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": name, "labels": {"team": team}}}
        )
    core.delete_collection_namespaced_config_map("default", label_selector="team=x")
    left = core.list_namespaced_config_map("default").items
    assert [c.metadata.name for c in left] == ["c"]
