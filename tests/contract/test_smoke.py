"""The simulated cluster answers the official client over HTTPS with the scenario's objects."""

from __future__ import annotations

from typing import Any

from kubernetes import client


def test_lists_scenario_pods(k8s: Any) -> None:
    pods = client.CoreV1Api(k8s).list_namespaced_pod("production", label_selector="app=api-server")
    assert len(pods.items) == 3
    assert {p.status.phase for p in pods.items} == {"Running"}
