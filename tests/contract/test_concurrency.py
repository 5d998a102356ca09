"""Many clients at once: every request is served, every write gets its own resourceVersion."""

from __future__ import annotations

import threading
from typing import Any

from conftest import api_client
from kubernetes import client

from irkit.sim import SimCluster

THREADS = 8
PER_THREAD = 50  # half creates, half reads


def test_parallel_creates_and_gets(empty_sim: SimCluster) -> None:
    barrier = threading.Barrier(THREADS)
    versions: dict[str, str] = {}
    reads: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            core = client.CoreV1Api(api_client(empty_sim.kubeconfig_path))
            barrier.wait(10)
            for j in range(PER_THREAD // 2):
                name = f"t{i}-{j}"
                made = core.create_namespaced_config_map(
                    "default", {"metadata": {"name": name}, "data": {"by": str(i)}}
                )
                got = core.read_namespaced_config_map(name, "default")
                assert got.metadata.uid == made.metadata.uid
                with lock:
                    versions[name] = made.metadata.resource_version
                    reads.append(1)
        except BaseException as e:  # reported by the test thread
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(versions) == THREADS * PER_THREAD // 2
    assert len(reads) == THREADS * PER_THREAD // 2
    assert len(set(versions.values())) == len(versions)
    assert all(v.isdigit() for v in versions.values())
    listed = client.CoreV1Api(api_client(empty_sim.kubeconfig_path)).list_namespaced_config_map(
        "default"
    )
    assert {c.metadata.name: c.metadata.resource_version for c in listed.items} == versions


def test_parallel_updates_of_one_object_conflict_or_win(k8s: Any) -> None:
    """Optimistic concurrency: of many replaces from one read, exactly one succeeds."""
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", {"metadata": {"name": "hot"}, "data": {}})
    base = core.read_namespaced_config_map("hot", "default")
    barrier = threading.Barrier(THREADS)
    outcomes: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        mine = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name="hot", resource_version=base.metadata.resource_version
            ),
            data={"writer": str(i)},
        )
        api = client.CoreV1Api(k8s)
        barrier.wait(10)
        try:
            api.replace_namespaced_config_map("hot", "default", mine)
            code = 200
        except client.ApiException as e:
            code = e.status
        with lock:
            outcomes.append(code)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == [200] + [409] * (THREADS - 1)
    final = core.read_namespaced_config_map("hot", "default")
    assert final.data["writer"] in {str(i) for i in range(THREADS)}
