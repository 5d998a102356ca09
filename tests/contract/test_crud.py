"""Create, read, replace: error Status objects and server-owned metadata, as upstream has them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.sim import SimCluster

from . import rawhttp


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": dict(data)}


def _deployment(name: str, replicas: int = 1, image: str = "nginx:1.27") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": {"team": "a"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def test_create_twice_is_already_exists(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", _cm("x", a="1"))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("default", _cm("x", a="2"))
    assert e.value.status == 409
    assert body(e.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "x" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "x", "kind": "configmaps"},
        "code": 409,
    }
    # The first object is untouched.
    assert core.read_namespaced_config_map("x", "default").data == {"a": "1"}


def test_already_exists_names_the_group_outside_core(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment("production", _deployment("api-server"))
    status = body(e.value)
    assert (status["reason"], status["code"]) == ("AlreadyExists", 409)
    assert status["message"] == 'deployments.apps "api-server" already exists'
    assert status["details"] == {"name": "api-server", "group": "apps", "kind": "deployments"}


def test_get_missing_is_not_found_with_details(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).read_namespaced_secret("nope", "production")
    assert e.value.status == 404
    assert body(e.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "secrets"},
        "code": 404,
    }


def test_create_in_missing_namespace_is_not_found(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("nope", _cm("x"))
    status = body(e.value)
    assert (e.value.status, status["reason"]) == (404, "NotFound")
    assert status["message"] == 'namespaces "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "namespaces"}
    assert core.list_config_map_for_all_namespaces(field_selector="metadata.name=x").items == []


def test_get_returns_what_was_created_with_kind_and_api_version(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    apps.create_namespaced_deployment("default", _deployment("web", image="nginx:1.27"))
    got = apps.read_namespaced_deployment("web", "default")
    assert (got.api_version, got.kind) == ("apps/v1", "Deployment")
    assert got.metadata.namespace == "default"
    assert got.spec.template.spec.containers[0].image == "nginx:1.27"
    assert got.metadata.labels == {"team": "a"}


def test_server_sets_uid_creation_timestamp_and_resource_version(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    forged = {"name": "x", "uid": "client-chosen", "creationTimestamp": "2001-01-01T00:00:00Z"}
    sent = {"metadata": forged, "data": {}}
    before = datetime.now(UTC).replace(microsecond=0)
    created = core.create_namespaced_config_map("default", sent)
    meta = created.metadata
    assert meta.uid != "client-chosen"
    assert uuid.UUID(meta.uid).version == 4
    assert before - timedelta(seconds=1) <= meta.creation_timestamp <= datetime.now(UTC)
    assert meta.resource_version.isdigit()
    # A second object gets its own identity.
    other = core.create_namespaced_config_map("default", _cm("y")).metadata
    assert other.uid != meta.uid
    assert int(other.resource_version) > int(meta.resource_version)


def test_replace_with_current_resource_version_bumps_it(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    created = core.create_namespaced_config_map("default", _cm("x", a="1"))
    current = core.read_namespaced_config_map("x", "default")
    current.data = {"a": "2"}
    replaced = core.replace_namespaced_config_map("x", "default", current)
    assert replaced.data == {"a": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp
    again = core.read_namespaced_config_map("x", "default")
    assert again.metadata.resource_version == replaced.metadata.resource_version
    assert again.data == {"a": "2"}


def test_replace_with_stale_resource_version_is_conflict(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", _cm("x", a="1"))
    mine = core.read_namespaced_config_map("x", "default")
    theirs = core.read_namespaced_config_map("x", "default")
    theirs.data = {"a": "theirs"}
    core.replace_namespaced_config_map("x", "default", theirs)
    mine.data = {"a": "mine"}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("x", "default", mine)
    status = body(e.value)
    assert (e.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "x": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert status["details"] == {"name": "x", "kind": "configmaps"}
    assert core.read_namespaced_config_map("x", "default").data == {"a": "theirs"}


def test_replace_missing_is_not_found(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).replace_namespaced_config_map("gone", "default", _cm("gone"))
    assert (e.value.status, body(e.value)["message"]) == (404, 'configmaps "gone" not found')


def test_resource_versions_are_increasing_integer_strings(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    versions = []
    for i in range(5):
        cm = core.create_namespaced_config_map("default", _cm(f"cm-{i}"))
        assert isinstance(cm.metadata.resource_version, str)
        versions.append(int(cm.metadata.resource_version))
    cm.data = {"k": "v"}
    versions.append(
        int(core.replace_namespaced_config_map("cm-4", "default", cm).metadata.resource_version)
    )
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)


def test_generation_counts_spec_changes_only(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    created = apps.create_namespaced_deployment("default", _deployment("web", replicas=1))
    assert created.metadata.generation == 1

    dep = apps.read_namespaced_deployment("web", "default")
    dep.spec.replicas = 2
    assert apps.replace_namespaced_deployment("web", "default", dep).metadata.generation == 2

    dep = apps.read_namespaced_deployment("web", "default")
    dep.metadata.labels = {"team": "b"}
    dep.metadata.annotations = {"note": "metadata only"}
    relabelled = apps.replace_namespaced_deployment("web", "default", dep)
    assert relabelled.metadata.generation == 2
    assert int(relabelled.metadata.resource_version) > int(dep.metadata.resource_version)

    patched = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}
    )
    assert patched.metadata.generation == 2  # an empty change is no change
    patched = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert patched.metadata.generation == 3


def test_replace_keeps_status_owned_by_the_server(k8s: Any) -> None:
    apps = client.AppsV1Api(k8s)
    dep = apps.read_namespaced_deployment("api-server", "production")
    assert dep.status.replicas == 3
    dep.status.replicas = 99
    dep.status.ready_replicas = 99
    replaced = apps.replace_namespaced_deployment("api-server", "production", dep)
    assert replaced.status.replicas == 3
    assert apps.read_namespaced_deployment("api-server", "production").status.replicas == 3


def test_delete_answers_a_success_status(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    uid = core.create_namespaced_config_map("default", _cm("x")).metadata.uid
    answer = core.delete_namespaced_config_map("x", "default")  # this client returns a dict
    assert (answer["kind"], answer["status"]) == ("Status", "Success")
    assert answer["details"] == {"name": "x", "kind": "configmaps", "uid": uid}
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("x", "default")
    assert e.value.status == 404
    with pytest.raises(ApiException) as e:
        core.delete_namespaced_config_map("x", "default")
    assert (e.value.status, body(e.value)["reason"]) == (404, "NotFound")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/namespaces/default/configmaps"),
        ("PUT", "/api/v1/namespaces/production/configmaps/api-server-config"),
    ],
)
def test_malformed_json_is_bad_request(sim: SimCluster, method: str, path: str) -> None:
    before = rawhttp.request(sim, "GET", "/api/v1/namespaces/production/configmaps").json()
    answer = rawhttp.request(sim, method, path, b'{"metadata": {"name": "x"')
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    status = answer.json()
    assert (status["kind"], status["apiVersion"]) == ("Status", "v1")
    assert (status["status"], status["reason"], status["code"]) == ("Failure", "BadRequest", 400)
    assert status["message"]
    after = rawhttp.request(sim, "GET", "/api/v1/namespaces/production/configmaps").json()
    assert after["items"] == before["items"]


def test_non_object_json_body_is_bad_request(sim: SimCluster) -> None:
    answer = rawhttp.request(sim, "POST", "/api/v1/namespaces/default/configmaps", b"[1, 2]")
    assert answer.status == 400
    assert answer.json()["reason"] == "BadRequest"


def test_well_formed_raw_request_is_served(sim: SimCluster) -> None:
    # The raw helper itself: the same server answers a valid body with 201 and the object.
    payload = json.dumps({"metadata": {"name": "raw"}, "data": {"k": "v"}}).encode()
    answer = rawhttp.request(sim, "POST", "/api/v1/namespaces/default/configmaps", payload)
    assert answer.status == 201
    created = answer.json()
    assert (created["kind"], created["metadata"]["name"], created["data"]) == (
        "ConfigMap",
        "raw",
        {"k": "v"},
    )
