"""Lists: per namespace, across namespaces, and paged with ``limit`` and ``continue``."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.model.kinds import BY_KIND
from irkit.sim.store import Store

API_PODS = 3
FRONTEND_PODS = 2
COREDNS_PODS = 2


def _names(items: list[Any]) -> list[str]:
    return [i.metadata.name for i in items]


def test_list_in_one_namespace(k8s: Any) -> None:
    pods = client.CoreV1Api(k8s).list_namespaced_pod("production")
    assert len(pods.items) == API_PODS + FRONTEND_PODS
    assert {p.metadata.namespace for p in pods.items} == {"production"}
    assert (pods.kind, pods.api_version) == ("PodList", "v1")
    assert pods.metadata.resource_version.isdigit()
    assert pods.metadata._continue is None


def test_list_across_all_namespaces(k8s: Any) -> None:
    pods = client.CoreV1Api(k8s).list_pod_for_all_namespaces()
    by_ns: dict[str, int] = {}
    for p in pods.items:
        by_ns[p.metadata.namespace] = by_ns.get(p.metadata.namespace, 0) + 1
    assert by_ns == {"kube-system": COREDNS_PODS, "production": API_PODS + FRONTEND_PODS}


def test_list_of_an_empty_namespace_is_empty(k8s: Any) -> None:
    assert client.CoreV1Api(k8s).list_namespaced_pod("kube-public").items == []


def test_cluster_scoped_list(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    namespaces = _names(core.list_namespace().items)
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "production"} <= set(
        namespaces
    )
    assert _names(core.list_node().items) == ["sim-node-1", "sim-node-2"]


def test_list_items_are_ordered_by_namespace_then_name(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    for name in ("zeta", "alpha", "mid"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    core.create_namespaced_config_map("production", {"metadata": {"name": "aaa"}})
    items = core.list_config_map_for_all_namespaces().items
    keys = [(i.metadata.namespace, i.metadata.name) for i in items]
    assert keys == sorted(keys)
    assert ("default", "alpha") in keys
    assert ("production", "aaa") in keys


def test_paging_returns_every_item_once_in_order(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    everything = _names(core.list_namespaced_pod("production").items)
    pages: list[list[str]] = []
    token = None
    while True:
        page = core.list_namespaced_pod("production", limit=2, _continue=token)
        pages.append(_names(page.items))
        token = page.metadata._continue
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [n for p in pages for n in p] == everything


def test_paging_across_all_namespaces(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    everything = [
        (p.metadata.namespace, p.metadata.name) for p in core.list_pod_for_all_namespaces().items
    ]
    seen: list[tuple[str, str]] = []
    token = None
    calls = 0
    while True:
        page = core.list_pod_for_all_namespaces(limit=3, _continue=token)
        calls += 1
        seen += [(p.metadata.namespace, p.metadata.name) for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert calls == 3  # 7 pods in pages of 3
    assert seen == everything


def test_limit_larger_than_the_list_has_no_continue(k8s: Any) -> None:
    page = client.CoreV1Api(k8s).list_namespaced_pod("production", limit=50)
    assert len(page.items) == API_PODS + FRONTEND_PODS
    assert page.metadata._continue is None


def test_paging_with_a_selector(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    first = core.list_namespaced_pod("production", label_selector="app=api-server", limit=2)
    assert len(first.items) == 2
    rest = core.list_namespaced_pod(
        "production", label_selector="app=api-server", limit=2, _continue=first.metadata._continue
    )
    assert len(rest.items) == 1
    assert rest.metadata._continue is None
    labels = {p.metadata.labels["app"] for p in [*first.items, *rest.items]}
    assert labels == {"api-server"}


def test_paging_is_not_shifted_by_an_insert_before_the_cursor(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    for name in ("b", "d", "f", "h"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    first = core.list_namespaced_config_map("default", limit=2)
    assert _names(first.items) == ["b", "d"]
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    rest = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert _names(rest.items) == ["f", "h"]


def test_garbage_continue_token_is_bad_request(k8s: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(k8s).list_namespaced_pod("production", limit=2, _continue="%%%not-a-token")
    assert (e.value.status, body(e.value)["reason"]) == (400, "BadRequest")


def test_paging_while_objects_come_and_go_returns_each_survivor_exactly_once(k8s: Any) -> None:
    """Writers add and delete ConfigMaps between (and during) pages: nothing repeats, and every
    object that lived through the whole listing is returned exactly once."""
    core = client.CoreV1Api(k8s)
    stable = {f"s-{i:03d}" for i in range(0, 240, 2)}
    doomed = [f"s-{i:03d}" for i in range(1, 240, 2)]
    for name in sorted(stable) + doomed:
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    stop = threading.Event()

    def churn() -> None:
        writer = client.CoreV1Api(k8s)
        for n, victim in enumerate(doomed):
            if stop.is_set():
                return
            writer.create_namespaced_config_map("default", {"metadata": {"name": f"n-{n:03d}"}})
            writer.delete_namespaced_config_map(victim, "default")

    thread = threading.Thread(target=churn)
    thread.start()
    seen: list[str] = []
    token = None
    try:
        while True:
            page = core.list_namespaced_config_map("default", limit=7, _continue=token)
            seen += _names(page.items)
            token = page.metadata._continue
            if not token:
                break
    finally:
        stop.set()
        thread.join()
    assert len(seen) == len(set(seen)), "an object was returned twice"
    assert stable <= set(seen)
    assert seen == sorted(seen)


def test_a_page_reads_only_as_far_as_it_needs() -> None:
    """A page costs the page, not the bucket: the old store filtered (and sorted) every object
    of the type for every page, so listing n objects in pages was quadratic."""
    store = Store()
    namespaces = BY_KIND[("", "Namespace")]
    configmaps = BY_KIND[("", "ConfigMap")]
    store.create(namespaces, "", {"metadata": {"name": "big"}})
    for i in range(2000):
        store.create(configmaps, "big", {"metadata": {"name": f"cm-{i:05d}"}})

    class CountingSelector:  # a fake selector: matches everything, counts what it looked at
        looked = 0

        def matches(self, labels: Any) -> bool:
            CountingSelector.looked += 1
            return True

    selector: Any = CountingSelector()
    token, pages, names = None, 0, []
    while True:
        items, _, token = store.list_page(configmaps, "big", selector, None, 100, token)
        names += [o["metadata"]["name"] for o in items]
        pages += 1
        if not token:
            break
    assert names == [f"cm-{i:05d}" for i in range(2000)] and pages == 20
    assert CountingSelector.looked <= 2000 + pages  # each object once, plus one look-ahead a page
