"""Shared fixtures: a simulated cluster on loopback and official-client handles to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"
CANARY = "IRKIT-CANARY-7f3a9c2e-DO-NOT-LEAK"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimCluster]:
    """A fresh simulated cluster with the example scenario, per test (start-up is ~50 ms)."""
    with SimCluster(SCENARIO, audit_log=tmp_path / "audit.log") as cluster:
        yield cluster


@pytest.fixture
def empty_sim(tmp_path: Path) -> Iterator[SimCluster]:
    with SimCluster(None, audit_log=tmp_path / "audit.log") as cluster:
        yield cluster


def api_client(kubeconfig: str) -> Any:
    """An official ``kubernetes`` ApiClient built from a kubeconfig, as any user would."""
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig)


@pytest.fixture
def k8s(sim: SimCluster) -> Any:
    return api_client(sim.kubeconfig_path)


def body(exc: Any) -> dict[str, Any]:
    """The Status object of a kubernetes ApiException."""
    return dict(json.loads(exc.body))
