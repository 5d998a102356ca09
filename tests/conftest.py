"""Shared fixtures: a simulated cluster on loopback and official-client handles to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import IrkitProcess

from irkit.sim import SimCluster
from irkit.sim.scenario import BUNDLED

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = BUNDLED  # the packaged scenario; examples/scenarios/ links to it (test_scenario_file)
CANARY = "IRKIT-CANARY-7f3a9c2e-DO-NOT-LEAK"
# The scenario's own NetworkPolicy that lets frontend pods reach api-server: it makes any
# isolation of api-server partial (policies add up).
LEAKY_POLICY = "allow-frontend-to-api"


@pytest.fixture(autouse=True)
def irkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test writes to the real state directory: IRKIT_HOME is the test's tmp_path, so an
    incident's folder is ``tmp_path / "incidents" / ID``."""
    monkeypatch.setenv("IRKIT_HOME", str(tmp_path))
    for name in ("IRKIT_JOURNAL", "IRKIT_RUN_INCIDENTS_DIR", "IRKIT_INCIDENT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def irkit_cli(tmp_path: Path) -> IrkitProcess:
    """Run ``python -m irkit`` as a subprocess in ``tmp_path`` (also its HOME and IRKIT_HOME)."""
    return IrkitProcess(tmp_path)


def seal(sim: SimCluster) -> None:
    """Delete the scenario's ``LEAKY_POLICY``, so that isolating api-server is complete."""
    from kubernetes import client

    api = client.NetworkingV1Api(api_client(sim.kubeconfig_path))
    api.delete_namespaced_network_policy(LEAKY_POLICY, "production")


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


def no_logs_kubeconfig(sim: SimCluster, path: Path) -> str:
    """A kubeconfig (written at ``path``) for user ``intern``, whom RBAC lets read pods,
    workloads, events and services but not pods/log: a collect by them is partial."""
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(api_client(sim.kubeconfig_path))
    read = ["get", "list"]
    rbac.create_cluster_role(
        {
            "metadata": {"name": "no-logs"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "namespaces", "events", "services"],
                    "verbs": read,
                },
                {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": read},
            ],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "no-logs"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "no-logs",
            },
            "subjects": [
                {"kind": "User", "name": "intern", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        }
    )
    sim.add_user("intern")
    return sim.write_kubeconfig(path, user="intern")


def command_records(path: Path) -> list[dict[str, Any]]:
    """The commands run by hand that a journal holds, one record each (command, actor, target,
    result, incident, argv, changes, outputs, error, time): ``irkit.incident.commands``."""
    from irkit.incident.commands import split_runs
    from irkit.incident.reader import run_events

    return [record.to_json() for record in split_runs(run_events(path, []))[1]]
