"""Label and field selectors, sent by the official client as a real apiserver receives them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import api_client, body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.sim import SimCluster

# Four config maps with labels chosen so each operator selects a different set.
LABELS = {
    "red-big": {"color": "red", "size": "big"},
    "red-small": {"color": "red", "size": "small"},
    "blue": {"color": "blue"},
    "plain": {},
}


@pytest.fixture
def core(empty_sim: SimCluster) -> Iterator[Any]:
    api = client.CoreV1Api(api_client(empty_sim.kubeconfig_path))
    for name, labels in LABELS.items():
        api.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})
    yield api


def _cms(core: Any, selector: str) -> set[str]:
    items = core.list_namespaced_config_map("default", label_selector=selector).items
    return {i.metadata.name for i in items}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("color=red", {"red-big", "red-small"}),
        ("color==red", {"red-big", "red-small"}),
        ("color!=red", {"blue", "plain"}),  # != also matches objects without the key
        ("color in (red,blue)", {"red-big", "red-small", "blue"}),
        ("color notin (red)", {"blue", "plain"}),
        ("size", {"red-big", "red-small"}),
        ("!size", {"blue", "plain"}),
        ("color=red,size=small", {"red-small"}),
        ("color=red,!size", set()),
        ("color in (green)", set()),
        ("", {"red-big", "red-small", "blue", "plain"}),
    ],
)
def test_label_selector(core: Any, selector: str, expected: set[str]) -> None:
    assert _cms(core, selector) == expected


def test_label_selector_on_workload_pods(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    pods = core.list_namespaced_pod("production", label_selector="app=api-server,tier=backend")
    assert len(pods.items) == 3
    assert {p.metadata.labels["app"] for p in pods.items} == {"api-server"}
    assert all(p.metadata.name.startswith("api-server-") for p in pods.items)
    across = core.list_pod_for_all_namespaces(label_selector="k8s-app=kube-dns")
    assert {p.metadata.namespace for p in across.items} == {"kube-system"}
    assert len(across.items) == 2


def test_field_selector_metadata_name_and_namespace(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    by_name = core.list_namespaced_service("production", field_selector="metadata.name=frontend")
    assert [s.metadata.name for s in by_name.items] == ["frontend"]
    by_ns = core.list_service_for_all_namespaces(field_selector="metadata.namespace=kube-system")
    assert [s.metadata.name for s in by_ns.items] == ["kube-dns"]
    not_ns = core.list_service_for_all_namespaces(field_selector="metadata.namespace!=production")
    assert "production" not in {s.metadata.namespace for s in not_ns.items}
    assert [s.metadata.name for s in not_ns.items] == ["kube-dns"]


def test_field_selector_pod_node_and_phase(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    every = core.list_pod_for_all_namespaces().items
    nodes = {p.spec.node_name for p in every}
    assert nodes == {"sim-node-1", "sim-node-2"}
    for node in nodes:
        on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        assert on_node
        assert {p.spec.node_name for p in on_node} == {node}
        assert len(on_node) == sum(1 for p in every if p.spec.node_name == node)
    running = core.list_namespaced_pod("production", field_selector="status.phase=Running")
    assert len(running.items) == 5
    pending = core.list_namespaced_pod("production", field_selector="status.phase=Pending")
    assert pending.items == []
    both = core.list_pod_for_all_namespaces(
        field_selector="status.phase=Running,spec.nodeName=sim-node-1",
        label_selector="app=api-server",
    ).items
    assert {p.spec.node_name for p in both} == {"sim-node-1"}
    assert {p.metadata.labels["app"] for p in both} == {"api-server"}


def test_field_selector_on_events(k8s: Any) -> None:
    events = client.CoreV1Api(k8s).list_namespaced_event(
        "production", field_selector="involvedObject.kind=Deployment,reason=CPUThrottlingHigh"
    )
    assert [e.metadata.name for e in events.items] == ["api-server.cpu-throttling"]


@pytest.mark.parametrize(
    ("call", "kwargs", "message"),
    [
        ("list_namespaced_pod", {"field_selector": "spec.foo=bar"}, "spec.foo"),
        ("list_namespaced_config_map", {"field_selector": "spec.nodeName=x"}, "spec.nodeName"),
        ("list_namespaced_pod", {"label_selector": "app in (a"}, None),
        ("list_namespaced_pod", {"label_selector": "app=a=b"}, None),
        ("list_namespaced_pod", {"label_selector": "-bad-=x"}, None),
        ("list_namespaced_pod", {"field_selector": "metadata.name"}, None),
    ],
)
def test_bad_selector_is_bad_request(
    k8s: Any, call: str, kwargs: dict[str, str], message: str | None
) -> None:
    with pytest.raises(ApiException) as e:
        getattr(client.CoreV1Api(k8s), call)("production", **kwargs)
    status = body(e.value)
    assert (e.value.status, status["kind"], status["reason"]) == (400, "Status", "BadRequest")
    if message is not None:
        assert status["message"] == f"field label not supported: {message}"
