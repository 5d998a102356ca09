"""Watches through ``kubernetes.watch.Watch``: changes made elsewhere arrive as events."""

from __future__ import annotations

import threading
import time
from typing import Any

from kubernetes import client, watch

from irkit.sim import SimCluster

NS = "default"


def _writer(k8s: Any, start: threading.Event, errors: list[BaseException]) -> threading.Thread:
    """Once ``start`` is set: create, change twice and delete config map ``w1``."""

    def run() -> None:
        try:
            start.wait(5)
            core = client.CoreV1Api(k8s)
            core.create_namespaced_config_map(NS, {"metadata": {"name": "w1"}, "data": {"n": "0"}})
            core.patch_namespaced_config_map("w1", NS, {"data": {"n": "1"}})
            cm = core.read_namespaced_config_map("w1", NS)
            cm.data = {"n": "2"}
            core.replace_namespaced_config_map("w1", NS, cm)
            core.delete_namespaced_config_map("w1", NS)
        except BaseException as e:  # reported by the test thread
            errors.append(e)

    return threading.Thread(target=run, daemon=True)


def test_watch_sees_added_modified_deleted(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "w0"}})
    start, errors = threading.Event(), []
    writer = _writer(k8s, start, errors)
    writer.start()
    seen: list[tuple[str, str, dict[str, str] | None, int]] = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, NS, timeout_seconds=2):
        obj = event["object"]
        assert isinstance(obj, client.V1ConfigMap)
        seen.append(
            (event["type"], obj.metadata.name, obj.data, int(obj.metadata.resource_version))
        )
        start.set()  # the watch is open: the initial ADDED for w0 has arrived
        if (event["type"], obj.metadata.name) == ("DELETED", "w1"):
            w.stop()
    writer.join(5)
    assert errors == []
    assert [(t, n, d) for t, n, d, _ in seen] == [
        ("ADDED", "w0", None),
        ("ADDED", "w1", {"n": "0"}),
        ("MODIFIED", "w1", {"n": "1"}),
        ("MODIFIED", "w1", {"n": "2"}),
        ("DELETED", "w1", {"n": "2"}),
    ]
    versions = [rv for *_, rv in seen[1:]]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)


def test_watch_is_filtered_by_namespace_and_labels(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "first"}})
    start = threading.Event()

    def write() -> None:
        start.wait(5)
        api = client.CoreV1Api(k8s)
        api.create_namespaced_config_map("production", {"metadata": {"name": "elsewhere"}})
        api.create_namespaced_config_map(NS, {"metadata": {"name": "unlabelled"}})
        labelled = {"metadata": {"name": "labelled", "labels": {"watch": "me"}}}
        api.create_namespaced_config_map(NS, labelled)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    names = []
    w = watch.Watch()
    # Writes may land before the watch opens or after: either way "labelled" arrives as ADDED
    # (initial state or live event), and the other two never do.
    stream = w.stream(
        core.list_namespaced_config_map, NS, label_selector="watch=me", timeout_seconds=2
    )
    start.set()
    for event in stream:
        names.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "labelled":
            w.stop()
    writer.join(5)
    assert names == [("ADDED", "labelled")]


def test_watch_pods_while_scaling(sim: SimCluster, k8s: Any) -> None:
    core, apps = client.CoreV1Api(k8s), client.AppsV1Api(k8s)
    start = threading.Event()

    def scale() -> None:
        start.wait(5)
        apps.patch_namespaced_deployment_scale("frontend", "production", {"spec": {"replicas": 3}})

    writer = threading.Thread(target=scale, daemon=True)
    writer.start()
    initial, added = [], []
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_pod, "production", label_selector="app=frontend", timeout_seconds=2
    ):
        pod = event["object"]
        if len(initial) < 2:
            initial.append(pod.metadata.name)
            if len(initial) == 2:
                start.set()
            continue
        if event["type"] == "ADDED":
            added.append(pod)
            w.stop()
    writer.join(5)
    assert len(added) == 1
    assert added[0].metadata.name not in initial
    assert added[0].metadata.labels["app"] == "frontend"


def test_watch_ends_after_timeout_seconds(k8s: Any) -> None:
    core = client.CoreV1Api(k8s)
    start = time.monotonic()
    events = list(watch.Watch().stream(core.list_namespaced_secret, NS, timeout_seconds=1))
    elapsed = time.monotonic() - start
    assert events == []
    assert 0.9 <= elapsed < 3
