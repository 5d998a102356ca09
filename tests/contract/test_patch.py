"""PATCH in its three content types, chosen the way the official client chooses them.

This client picks ``application/json-patch+json`` for a list body and
``application/strategic-merge-patch+json`` for an object body; ``_content_type=`` forces one.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.sim import SimCluster

from . import rawhttp

MERGE = "application/merge-patch+json"
CM = "api-server-config"
API_IMAGE = "registry.example.com/shop/api-server:2.4.1"
SHIPPER_IMAGE = "registry.example.com/ops/fluent-bit:3.1"


def _containers(dep: Any) -> dict[str, str]:
    return {c.name: c.image for c in dep.spec.template.spec.containers}


def test_json_merge_patch_merges_maps_and_null_deletes(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    before = core.read_namespaced_config_map(CM, "production")
    patched = core.patch_namespaced_config_map(
        CM,
        "production",
        {"data": {"LOG_LEVEL": "debug", "ORDERS_URL": None, "NEW": "1"}},
        _content_type=MERGE,
    )
    assert patched.data == {"LOG_LEVEL": "debug", "NEW": "1"}
    assert int(patched.metadata.resource_version) > int(before.metadata.resource_version)
    assert core.read_namespaced_config_map(CM, "production").data == patched.data


def test_json_merge_patch_replaces_lists_whole(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "x:1"}]}}}}
    patched = apps.patch_namespaced_deployment(
        "api-server", "production", patch, _content_type=MERGE
    )
    assert _containers(patched) == {"api": "x:1"}  # log-shipper gone, ports and env too
    assert patched.spec.template.spec.containers[0].ports is None


def test_json_patch_from_a_list_body(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    ops = [
        {"op": "test", "path": "/data/LOG_LEVEL", "value": "info"},
        {"op": "replace", "path": "/data/LOG_LEVEL", "value": "warn"},
        {"op": "remove", "path": "/data/ORDERS_URL"},
        {"op": "add", "path": "/metadata/labels", "value": {"quarantine": "true"}},
        {"op": "copy", "from": "/data/LOG_LEVEL", "path": "/data/COPY"},
    ]
    patched = core.patch_namespaced_config_map(CM, "production", ops)
    assert patched.data == {"LOG_LEVEL": "warn", "COPY": "warn"}
    assert patched.metadata.labels == {"quarantine": "true"}


def test_json_patch_that_fails_changes_nothing(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    before = core.read_namespaced_config_map(CM, "production")
    ops = [
        {"op": "replace", "path": "/data/LOG_LEVEL", "value": "warn"},
        {"op": "test", "path": "/data/ORDERS_URL", "value": "something else"},
    ]
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_config_map(CM, "production", ops)
    status = body(e.value)
    assert (e.value.status, status["kind"], status["reason"]) == (422, "Status", "Invalid")
    after = core.read_namespaced_config_map(CM, "production")
    assert after.data == before.data
    assert after.metadata.resource_version == before.metadata.resource_version


def test_json_patch_on_a_missing_path_is_unprocessable(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).patch_namespaced_config_map(
            CM, "production", [{"op": "remove", "path": "/data/NOPE"}]
        )
    assert e.value.status == 422


def test_strategic_merge_patch_changes_one_container_and_keeps_the_other(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    new_image = "registry.example.com/shop/api-server:2.4.2"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": new_image}]}}}}
    patched = apps.patch_namespaced_deployment("api-server", "production", patch)
    assert _containers(patched) == {"api": new_image, "log-shipper": SHIPPER_IMAGE}
    api = patched.spec.template.spec.containers[0]
    assert api.name == "api"  # order kept
    assert [p.container_port for p in api.ports] == [8080]  # untouched fields kept
    assert [e.name for e in api.env] == ["DB_PASSWORD"]
    stored = apps.read_namespaced_deployment("api-server", "production")
    assert _containers(stored) == {"api": new_image, "log-shipper": SHIPPER_IMAGE}


def test_strategic_merge_patch_delete_directive(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "log-shipper", "$patch": "delete"}]}}
        }
    }
    patched = apps.patch_namespaced_deployment("api-server", "production", patch)
    assert _containers(patched) == {"api": API_IMAGE}


def test_strategic_merge_patch_adds_a_label_to_pod_metadata(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = core.list_namespaced_pod("production", label_selector="app=frontend").items[0]
    patched = core.patch_namespaced_pod(
        pod.metadata.name, "production", {"metadata": {"labels": {"quarantine": "true"}}}
    )
    assert patched.metadata.labels == {
        **pod.metadata.labels,
        "quarantine": "true",
    }
    assert patched.metadata.uid == pod.metadata.uid
    assert patched.status.phase == "Running"


def test_patch_missing_object_is_not_found(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).patch_namespaced_config_map(
            "nope", "production", {"data": {"a": "b"}}
        )
    assert (e.value.status, body(e.value)["message"]) == (404, 'configmaps "nope" not found')


def test_patch_with_a_stale_resource_version_is_conflict(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    before = core.read_namespaced_config_map(CM, "production")
    core.patch_namespaced_config_map(CM, "production", {"data": {"A": "1"}})
    stale = {"metadata": {"resourceVersion": before.metadata.resource_version}, "data": {"B": "2"}}
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_config_map(CM, "production", stale, _content_type=MERGE)
    assert (e.value.status, body(e.value)["reason"]) == (409, "Conflict")
    assert "B" not in (core.read_namespaced_config_map(CM, "production").data or {})
    current = core.read_namespaced_config_map(CM, "production").metadata.resource_version
    fresh = {"metadata": {"resourceVersion": current}, "data": {"B": "2"}}
    patched = core.patch_namespaced_config_map(CM, "production", fresh, _content_type=MERGE)
    assert patched.data["B"] == "2"
    assert int(patched.metadata.resource_version) > int(current)


def test_patch_cannot_change_server_owned_fields(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    before = core.read_namespaced_config_map(CM, "production")
    patched = core.patch_namespaced_config_map(
        CM,
        "production",
        {"metadata": {"uid": "forged", "creationTimestamp": "2001-01-01T00:00:00Z"}},
        _content_type=MERGE,
    )
    assert patched.metadata.uid == before.metadata.uid
    assert patched.metadata.creation_timestamp == before.metadata.creation_timestamp


def test_malformed_patch_body_is_bad_request(sim: SimCluster) -> None:
    answer = rawhttp.request(
        sim,
        "PATCH",
        f"/api/v1/namespaces/production/configmaps/{CM}",
        b'{"data": ',
        content_type=MERGE,
    )
    assert answer.status == 400
    assert (answer.json()["kind"], answer.json()["reason"]) == ("Status", "BadRequest")


def test_unknown_patch_type_is_unsupported_media_type(sim: SimCluster) -> None:
    answer = rawhttp.request(
        sim,
        "PATCH",
        f"/api/v1/namespaces/production/configmaps/{CM}",
        b'{"data": {"a": "b"}}',
        content_type="application/json",
    )
    assert answer.status == 415
    assert answer.json()["reason"] == "UnsupportedMediaType"
