"""``irkit serve`` as a real process: it refuses to start unsafe or with a broken route, and a
``kill -9`` after the 202 (or mid-run) loses nothing: on restart the run resumes from its
journal and each change happens once. Also ``irkit approve`` against it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from helpers import IrkitProcess, cluster_for, irkit_argv
from serving import APPROVER_TOKEN, AUTH, POD, RUNBOOKS, TOKEN, am

from irkit.sim import SimCluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``irkit serve`` on loopback; ``start`` again after ``kill`` reuses its state folder."""

    def __init__(
        self,
        tmp_path: Path,
        sim: SimCluster,
        *extra: str,
        token: bool = True,
        client: httpx.Client | None = None,
    ) -> None:
        self.tmp, self.sim, self.extra, self.token = tmp_path, sim, extra, token
        self.port = free_port()
        scheme = "https" if "--tls-cert" in extra else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.client = client or httpx.Client()
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[str] = []

    def start(self) -> None:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.tmp),
            "IRKIT_HOME": str(self.tmp),
            "IRKIT_SERVE_APPROVER_TOKEN": APPROVER_TOKEN,
        } | ({"IRKIT_SERVE_TOKEN": TOKEN} if self.token else {})
        argv = irkit_argv(
            "serve", "--runbooks", str(RUNBOOKS), "--listen", f"127.0.0.1:{self.port}",
            "--state", str(self.tmp / "state"), "--kubeconfig", self.sim.kubeconfig_path,
            "--lease", "1", "--workers", "1", *self.extra,
        )  # fmt: skip
        log = self.tmp / f"serve-{len(self.logs)}.log"
        self.logs.append(str(log))
        with log.open("w") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if self.client.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("irkit serve did not become ready")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        self.client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def post(self, body: Any) -> httpx.Response:
        return self.client.post(f"{self.url}/v1/alerts/alertmanager", json=body, headers=AUTH)

    def job(self, incident: str) -> dict[str, Any]:
        reply = self.client.get(f"{self.url}/v1/incidents/{incident}", headers=AUTH)
        return dict(reply.json())

    def wait(self, incident: str, states: tuple[str, ...], timeout: float = 40) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(incident)
            if job.get("state") in states:
                return job
            time.sleep(0.1)
        raise AssertionError(f"{incident} not in {states}: {job}")

    def journal(self, incident: str) -> list[dict[str, Any]]:
        path = self.tmp / "state" / "incidents" / incident / "journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def server(tmp_path: Path, sim: SimCluster) -> Iterator[Server]:
    s = Server(tmp_path, sim)
    yield s
    s.stop()


@pytest.mark.parametrize("when", ["after-202", "mid-run"])
def test_kill_9_then_restart_completes_the_run_with_each_change_once(
    server: Server, sim: SimCluster, when: str
) -> None:
    server.start()
    reply = server.post(am("SlowResponse"))
    assert reply.status_code == 202, reply.text
    incident = reply.json()["accepted"][0]["incident"]
    if when == "mid-run":  # after the first change, during the pause
        deadline = time.monotonic() + 20
        while not any(e.get("step") == "mark" and e["event"] == "step-end"
                      for e in server.journal(incident)):  # fmt: skip
            assert time.monotonic() < deadline, server.journal(incident)
            time.sleep(0.05)
    server.kill()
    server.start()
    job = server.wait(incident, ("done",))
    assert job["attempt"] >= 1
    events = server.journal(incident)
    ends = [(e["step"], e["status"]) for e in events if e["event"] == "step-end"]
    assert ends.count(("mark", "ok")) == 1 and ends.count(("note", "ok")) == 1, ends
    mark_changes = [c for e in events if e.get("step") == "mark" for c in e.get("changes") or []]
    note_changes = [c for e in events if e.get("step") == "note" for c in e.get("changes") or []]
    assert len(mark_changes) == 1 and len(note_changes) == 1, events
    pod = cluster_for(sim).get("pods", "production", POD)
    assert pod["metadata"]["labels"]["example.com/suspect"] == "true"
    assert pod["metadata"]["annotations"]["example.com/incident"] == incident
    logs = Path(server.logs[-1]).read_text().splitlines()
    lines = [json.loads(line) for line in logs if line.startswith("{")]
    assert any(
        line.get("incident") == incident
        and line["msg"] == "run done"
        and line["run"].startswith("run-")
        for line in lines
    )


def test_irkit_approve_lets_a_waiting_run_go_on(
    server: Server, sim: SimCluster, irkit_cli: IrkitProcess, tmp_path: Path
) -> None:
    server.start()
    body = am("WorkloadCompromised", workload="deployment/api-server")
    incident = server.post(body).json()["accepted"][0]["incident"]
    server.wait(incident, ("awaiting-approval",))
    alert_token = tmp_path / "alert-token"
    alert_token.write_text(TOKEN + "\n")
    alert_token.chmod(0o600)
    refused = irkit_cli(
        "approve", incident, "scale_down", "--server", server.url, "--token-file", str(alert_token)
    )
    assert refused.returncode != 0 and "approver token" in refused.stderr
    token = tmp_path / "token"
    token.write_text(APPROVER_TOKEN + "\n")
    token.chmod(0o600)
    done = irkit_cli(
        "approve", incident, "scale_down", "--server", server.url, "--token-file", str(token)
    )
    assert done.returncode == 0, done.stderr
    server.wait(incident, ("done", "partial"))
    assert cluster_for(sim).get("deployments", "production", "api-server")["spec"]["replicas"] == 0
    again = irkit_cli(
        "approve", incident, "scale_down", "--server", server.url, "--token-file", str(token)
    )
    assert again.returncode == 4 and "awaits approval" in again.stderr


def test_serve_refuses_to_start_without_a_token(irkit_cli: IrkitProcess) -> None:
    result = irkit_cli("serve", "--runbooks", str(RUNBOOKS), "--listen", "127.0.0.1:1")
    assert result.returncode == 2 and "no token" in result.stderr


def test_serve_refuses_a_token_file_others_can_read(
    irkit_cli: IrkitProcess, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o644)
    result = irkit_cli("serve", "--runbooks", str(RUNBOOKS), "--token-file", str(token))
    assert result.returncode == 2 and "chmod 600" in result.stderr


def test_serve_refuses_to_start_with_an_invalid_runbook(
    irkit_cli: IrkitProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for path in RUNBOOKS.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    (folder / "50-broken.yaml").write_text(
        "apiVersion: irkit.io/v1\nkind: Runbook\nmetadata: {name: broken}\nsteps:\n"
        "  - id: x\n    action: isolatee\n"
    )
    result = irkit_cli("serve", "--runbooks", str(folder), env={"IRKIT_SERVE_TOKEN": TOKEN})
    assert result.returncode == 2 and "50-broken.yaml:" in result.stderr, result.stderr


def test_database_without_the_postgres_adapter_is_a_clear_error(
    irkit_cli: IrkitProcess, tmp_path: Path
) -> None:
    # a machine without the driver (the `postgres` extra not installed): psycopg cannot import
    missing = tmp_path / "no-driver" / "psycopg"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text(
        "raise ModuleNotFoundError('No module named psycopg', name='psycopg')\n"
    )
    result = irkit_cli(
        "serve", "--runbooks", str(RUNBOOKS), "--database", "postgresql://127.0.0.1:1/x",
        env={"IRKIT_SERVE_TOKEN": TOKEN, "PYTHONPATH": str(missing.parent)},
    )  # fmt: skip
    assert result.returncode == 2 and "PostgreSQL adapter" in result.stderr, result.stderr


def test_serve_refuses_an_approver_token_equal_to_the_alert_token(
    irkit_cli: IrkitProcess,
) -> None:
    env = {"IRKIT_SERVE_TOKEN": TOKEN, "IRKIT_SERVE_APPROVER_TOKEN": TOKEN}
    result = irkit_cli("serve", "--runbooks", str(RUNBOOKS), "--listen", "127.0.0.1:1", env=env)
    assert result.returncode == 2 and "approver token is the alert token" in result.stderr
