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


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials for moto, and nothing of the developer's own AWS set-up."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_ENDPOINT_URL_LOGS",
    ):
        monkeypatch.delenv(name, raising=False)
