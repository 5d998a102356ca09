"""``irkit sim``, end to end: serve in a real subprocess (signals, kubeconfig), errors, demo."""

from __future__ import annotations

import os
import queue
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import IrkitProcess, invoke, irkit_argv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def _env() -> dict[str, str]:
    """The caller's environment, minus what would change the output under test."""
    env = {k: v for k, v in os.environ.items() if k not in ("IRKIT_DEBUG", "FORCE_COLOR")}
    return {**env, "NO_COLOR": "1", "COLUMNS": "200"}


class Served:
    """A running ``irkit sim serve``, its stdout read line by line on a helper thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}; stdout so far: {self.seen}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Served]:
    proc = subprocess.Popen(
        irkit_argv(
            "sim",
            "serve",
            "--port",
            "0",
            "--kubeconfig-out",
            str(tmp_path / "kc"),
            "--audit-log",
            str(tmp_path / "audit.log"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        # A shell without job control starts background jobs with SIGINT ignored, and Python
        # keeps an ignored SIGINT ignored: give the server the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        yield Served(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=STOP_TIMEOUT)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_writes_a_working_kubeconfig_and_stops_on_signal(
    serve: Served, tmp_path: Path, sig: signal.Signals
) -> None:
    from kubernetes import client, config

    kubeconfig = tmp_path / "kc"
    line = serve.wait_for("export KUBECONFIG=")
    assert line == f"export KUBECONFIG={kubeconfig}"
    serving = next(s for s in serve.seen if s.startswith("irkit sim serving "))
    assert serving.startswith("irkit sim serving https://127.0.0.1:")
    assert serving.endswith("(scenario: compromised-pod)")
    port = int(serving.split("https://127.0.0.1:")[1].split()[0])

    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    names = {ns.metadata.name for ns in api.list_namespace().items}
    assert {"default", "kube-system", "production"} <= names
    api.api_client.close()

    serve.proc.send_signal(sig)
    started = time.monotonic()
    _, err = serve.proc.communicate(timeout=STOP_TIMEOUT)
    assert serve.proc.returncode == 0, err
    assert time.monotonic() - started < STOP_TIMEOUT
    assert "Traceback" not in err
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_serve_with_a_bad_scenario_exits_2_with_file_line_column(irkit_cli: IrkitProcess) -> None:
    bad = FIXTURES / "invalid" / "unknown-spec-field.yaml"
    proc = irkit_cli(
        "sim", "serve", "--scenario", str(bad), "--port", "0", environ=_env(), timeout=START_TIMEOUT
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[0] == (
        f"ERROR {bad}:5:3: unknown field 'usres' (did you mean 'users'?)"
    )
    assert "Traceback" not in proc.stderr


def test_serve_with_a_missing_scenario_exits_2(irkit_cli: IrkitProcess, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc = irkit_cli(
        "sim", "serve", "--scenario", str(missing), environ=_env(), timeout=START_TIMEOUT
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"ERROR {missing}: cannot read file")


def test_help_lists_sim(irkit_cli: IrkitProcess) -> None:
    proc = irkit_cli("--help", environ=_env(), timeout=START_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    commands = [line.strip("│ ").split() for line in proc.stdout.splitlines()]
    sim = [words for words in commands if words[:1] == ["sim"]]
    assert sim, proc.stdout
    assert " ".join(sim[0][1:]).startswith("The simulated Kubernetes cluster")


def test_demo_shows_the_miner_and_a_403() -> None:
    result = invoke("sim", "demo")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "scenario compromised-pod" in out
    xmrig = [line for line in out.splitlines() if "[xmrig]" in line]
    assert len(xmrig) >= 4, out  # the current log tail and the log before the restart
    assert "killed by the kernel OOM killer" in out
    assert "an unprivileged user is refused: 403" in out
    assert 'User "demo-intern"' in out
    # the kubeconfig and audit log it names are deleted at the end: it says so
    assert "deleted when the demo ends" in " ".join(out.split()), out
    # ... then responds with the shipped runbook: the bundle and the RCA draft exist
    evidence = [line for line in out.splitlines() if line.startswith("evidence: ")]
    assert evidence and evidence[0].split()[-1].endswith(".tar.gz"), out
    rca = [line for line in out.splitlines() if line.startswith("RCA draft: ")]
    assert rca and Path(rca[0].split(": ", 1)[1].strip()).is_file(), out
