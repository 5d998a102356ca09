"""The resourceVersion preconditions isolate relies on, as a real API server applies them.

A patch that carries ``metadata.resourceVersion`` (merge patch) or sets it (JSON patch) is
conditional: a stale one is answered 409 Conflict and changes nothing, also in a dry run. A
JSON patch whose ``test`` op fails is 422 and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
NS = "production"
POLICY = "allow-frontend-to-api"


def _a_pod(core: Any) -> Any:
    return core.list_namespaced_pod(NS, label_selector="app=api-server").items[0]


def test_a_stale_merge_patch_of_pod_labels_is_refused(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _a_pod(core)
    name, stale = pod.metadata.name, pod.metadata.resource_version
    core.patch_namespaced_pod(name, NS, {"metadata": {"labels": {"q": "inc-a"}}})
    claim = {"metadata": {"resourceVersion": stale, "labels": {"q": "inc-b"}}}
    for dry_run in ("All", None):
        with pytest.raises(ApiException) as e:
            core.patch_namespaced_pod(name, NS, claim, _content_type=MERGE, dry_run=dry_run)
        assert (e.value.status, body(e.value)["reason"]) == (409, "Conflict")
    assert core.read_namespaced_pod(name, NS).metadata.labels["q"] == "inc-a"


def test_a_json_patch_setting_a_stale_resource_version_is_refused(k8s: Any) -> None:
    net = client.NetworkingV1Api(k8s)
    before = net.read_namespaced_network_policy(POLICY, NS)
    rv = before.metadata.resource_version
    net.patch_namespaced_network_policy(POLICY, NS, {"metadata": {"labels": {"x": "1"}}})
    ops = [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/spec/podSelector", "value": {}},
    ]
    with pytest.raises(ApiException) as e:
        net.patch_namespaced_network_policy(POLICY, NS, ops, _content_type=JSON_PATCH)
    assert (e.value.status, body(e.value)["reason"]) == (409, "Conflict")
    after = net.read_namespaced_network_policy(POLICY, NS)
    assert after.spec.pod_selector == before.spec.pod_selector

    ops[0]["value"] = after.metadata.resource_version
    done = net.patch_namespaced_network_policy(POLICY, NS, ops, _content_type=JSON_PATCH)
    assert done.spec.pod_selector.match_labels is None
    assert int(done.metadata.resource_version) > int(after.metadata.resource_version)


def test_a_failed_json_patch_test_of_a_label_changes_nothing(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pod = _a_pod(core)
    ops = [
        {"op": "test", "path": "/metadata/labels/app", "value": "someone-else"},
        {"op": "add", "path": "/metadata/labels/q", "value": "inc-b"},
    ]
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_pod(pod.metadata.name, NS, ops, _content_type=JSON_PATCH)
    assert e.value.status == 422
    after = core.read_namespaced_pod(pod.metadata.name, NS)
    assert "q" not in after.metadata.labels
    assert after.metadata.resource_version == pod.metadata.resource_version
