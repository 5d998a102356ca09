"""``dryRun=All``: every write answers as if it happened and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException

CM = "api-server-config"


def _snapshot(k8s: Any) -> dict[str, list[tuple[str, str, str]]]:
    """Every object the scenario and controllers made, with its resourceVersion."""
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    lists = {
        "configmaps": core.list_config_map_for_all_namespaces,
        "pods": core.list_pod_for_all_namespaces,
        "events": core.list_event_for_all_namespaces,
        "deployments": apps.list_deployment_for_all_namespaces,
        "replicasets": apps.list_replica_set_for_all_namespaces,
    }
    return {
        kind: [
            (i.metadata.namespace, i.metadata.name, i.metadata.resource_version)
            for i in call().items
        ]
        for kind, call in lists.items()
    }


def test_dry_run_create(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    before = _snapshot(k8s)
    made = core.create_namespaced_config_map(
        "production", {"metadata": {"name": "trial"}, "data": {"a": "1"}}, dry_run="All"
    )
    assert (made.metadata.name, made.metadata.namespace, made.data) == (
        "trial",
        "production",
        {"a": "1"},
    )
    assert made.metadata.uid
    assert made.metadata.creation_timestamp is not None
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("trial", "production")
    assert e.value.status == 404
    assert _snapshot(k8s) == before


def test_dry_run_create_of_a_deployment_starts_no_pods(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    before = _snapshot(k8s)
    dep = {
        "metadata": {"name": "trial"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "trial"}},
            "template": {
                "metadata": {"labels": {"app": "trial"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    made = apps.create_namespaced_deployment("production", dep, dry_run="All")
    assert (made.metadata.name, made.spec.replicas) == ("trial", 2)
    assert _snapshot(k8s) == before


def test_dry_run_create_still_checks_for_conflicts(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).create_namespaced_config_map(
            "production", {"metadata": {"name": CM}}, dry_run="All"
        )
    assert (e.value.status, body(e.value)["reason"]) == (409, "AlreadyExists")


def test_dry_run_replace(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    before = _snapshot(k8s)
    cm = core.read_namespaced_config_map(CM, "production")
    cm.data = {"LOG_LEVEL": "trace"}
    answer = core.replace_namespaced_config_map(CM, "production", cm, dry_run="All")
    assert answer.data == {"LOG_LEVEL": "trace"}
    stored = core.read_namespaced_config_map(CM, "production")
    assert stored.data["LOG_LEVEL"] == "info"
    assert stored.metadata.resource_version == cm.metadata.resource_version
    assert _snapshot(k8s) == before


def test_dry_run_patch(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    before = _snapshot(k8s)
    answer = apps.patch_namespaced_deployment(
        "api-server", "production", {"spec": {"replicas": 0}}, dry_run="All"
    )
    assert answer.spec.replicas == 0
    assert apps.read_namespaced_deployment("api-server", "production").spec.replicas == 3
    assert _snapshot(k8s) == before


def test_dry_run_scale(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    before = _snapshot(k8s)
    answer = apps.patch_namespaced_deployment_scale(
        "api-server", "production", {"spec": {"replicas": 0}}, dry_run="All"
    )
    assert answer.spec.replicas == 0
    assert apps.read_namespaced_deployment_scale("api-server", "production").spec.replicas == 3
    assert _snapshot(k8s) == before


def test_dry_run_delete(k8s: Any) -> None:
    apps, core = client.AppsV1Api(k8s), client.CoreV1Api(k8s)
    before = _snapshot(k8s)
    answer = apps.delete_namespaced_deployment("api-server", "production", dry_run="All")
    assert (answer["status"], answer["details"]["name"]) == ("Success", "api-server")
    pod = core.list_namespaced_pod("production").items[0]
    gone = core.delete_namespaced_pod(pod.metadata.name, "production", dry_run="All")
    assert gone.metadata.uid == pod.metadata.uid
    core.delete_namespace("production", dry_run="All")
    assert _snapshot(k8s) == before


def test_dry_run_delete_of_a_missing_object_is_not_found(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).delete_namespaced_config_map("nope", "production", dry_run="All")
    assert e.value.status == 404
