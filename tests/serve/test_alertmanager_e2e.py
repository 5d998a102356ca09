"""End to end with the real Alertmanager: an alert posted to Alertmanager's API ends with the pod
isolated on the simulated cluster, through ``irkit serve`` (a subprocess, as deployed) running
an isolate-only runbook routed by its ``match`` block. Alertmanager configured with a wrong
token gets a 401, which irkit counts in /metrics, and nothing is isolated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alertmanager import Alertmanager, free_port, needs_alertmanager
from kubernetes import client, config

from irkit.sim import SimCluster

pytestmark = needs_alertmanager
TOKEN = "e2e-token-0123456789abcdef"
WAIT = 30.0  # seconds: Alertmanager's send (~1 s) plus the run; bounded, never a hang
RUNBOOK = """\
apiVersion: irkit.io/v1
kind: Runbook
metadata:
  name: isolate-miner
  description: Isolate the pod the alert names; nothing else.
  severity: critical
match:
  alertmanager:
    labels:
      alertname: CryptoMinerDetected
params:
  namespace:
    default: "{{ alert.labels.namespace }}"
  pod:
    default: "{{ alert.labels.pod }}"
steps:
  - id: isolate
    action: isolate
    with:
      namespace: "{{ params.namespace }}"
      target: "pod/{{ params.pod }}"
"""


class Serve:
    """``python -m irkit serve`` on a free loopback port against ``kubeconfig``, stopped on exit;
    ready once /readyz answers 200."""

    def __init__(self, home: Path, runbooks: Path, token_file: Path, kubeconfig: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "serve.log"
        self.argv = [
            sys.executable, "-m", "irkit", "serve",
            "--runbooks", str(runbooks),
            "--listen", f"127.0.0.1:{self.port}",
            "--state", str(home / "state"),
            "--token-file", str(token_file),
            "--kubeconfig", kubeconfig,
        ]  # fmt: skip
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "IRKIT_HOME": str(home)}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Serve:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.env["HOME"]
            )
        try:
            until(lambda: self._ready(), timeout=WAIT, what=f"irkit serve ready\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"irkit serve exited ({self.proc.returncode}):\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def get(self, path: str) -> str:
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            return str(reply.read().decode())


def until(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


@pytest.fixture
def runbooks(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "isolate-miner.yaml").write_text(RUNBOOK)
    return folder


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def serve(tmp_path: Path, sim: SimCluster, runbooks: Path, token_file: Path) -> Iterator[Serve]:
    with Serve(tmp_path, runbooks, token_file, sim.kubeconfig_path) as server:
        yield server


def api_client(kubeconfig: str) -> Any:
    return config.new_client_from_config(config_file=kubeconfig)


def frontend_pod(sim: SimCluster) -> str:
    """A frontend pod of the scenario (no other policy lets traffic reach it)."""
    pods = client.CoreV1Api(api_client(sim.kubeconfig_path)).list_namespaced_pod(
        "production", label_selector="app=frontend"
    )
    return str(sorted(p.metadata.name for p in pods.items)[0])


def irkit_policies(sim: SimCluster) -> list[Any]:
    api = client.NetworkingV1Api(api_client(sim.kubeconfig_path))
    found = api.list_namespaced_network_policy(
        "production", label_selector="app.kubernetes.io/managed-by=irkit"
    )
    return list(found.items)


def isolated(sim: SimCluster, pod: str) -> bool:
    """An irkit NetworkPolicy exists that selects ``pod`` by its labels, denying both ways."""
    labels = (
        client.CoreV1Api(api_client(sim.kubeconfig_path))
        .read_namespaced_pod(pod, "production")
        .metadata.labels
        or {}
    )
    for policy in irkit_policies(sim):
        wanted = policy.spec.pod_selector.match_labels or {}
        if wanted and all(labels.get(k) == v for k, v in wanted.items()):
            return sorted(policy.spec.policy_types) == ["Egress", "Ingress"]
    return False


def miner(pod: str) -> dict[str, Any]:
    labels = {"alertname": "CryptoMinerDetected", "namespace": "production", "pod": pod}
    return {"labels": labels, "annotations": {"summary": f"{pod} connects to a mining pool"}}


def unauthorized(metrics: str) -> float:
    """Rejections for a missing or wrong token, summed over the rejection counter's samples."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("irkit_alerts_rejected_total{") and 'reason="auth"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_alert_through_alertmanager_isolates_the_pod(
    tmp_path: Path, sim: SimCluster, serve: Serve, token_file: Path
) -> None:
    pod = frontend_pod(sim)
    assert not isolated(sim, pod)
    webhook = f"{serve.url}/v1/alerts/alertmanager"
    with Alertmanager(tmp_path / "alertmanager", webhook, token_file) as am:
        am.post_alerts(miner(pod))
        until(
            lambda: isolated(sim, pod),
            timeout=WAIT,
            what=f"{pod} isolated\nirkit:\n{serve.log()}\nalertmanager:\n{am.log()}",
        )
    [policy] = irkit_policies(sim)  # one alert, one response
    incidents = json.loads(serve.get("/v1/incidents"))
    assert policy.metadata.labels["irkit.io/incident"] in json.dumps(incidents)
    assert unauthorized(serve.get("/metrics")) == 0


def test_wrong_token_is_refused_counted_and_isolates_nothing(
    tmp_path: Path, sim: SimCluster, serve: Serve
) -> None:
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token\n")
    pod = frontend_pod(sim)
    webhook = f"{serve.url}/v1/alerts/alertmanager"
    with Alertmanager(tmp_path / "alertmanager", webhook, wrong) as am:
        am.post_alerts(miner(pod))
        until(
            lambda: unauthorized(serve.get("/metrics")) >= 1,
            timeout=WAIT,
            what=f"a 401 counted\nirkit:\n{serve.log()}\nalertmanager:\n{am.log()}",
        )
        assert "401" in am.log()  # Alertmanager saw the refusal (and, a 4xx, does not retry)
    assert irkit_policies(sim) == []
    assert not isolated(sim, pod)
    assert "not-the-token" not in serve.log()
