"""TIPs work when pasted (issue 7, item 9): the resume TIP carries every --set a resume needs
(secret params as placeholders to fill in, said so) and a non-default --incidents-dir; the
`kubectl auth can-i` TIP carries the --kubeconfig and --context the command was given."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import seal
from helpers import FAST_RETRIES, invoke

from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
CONTAIN = str(ROOT / "tests" / "fixtures" / "runbooks" / "engine" / "contain.yaml")
MINER = str(ROOT / "tests" / "fixtures" / "alerts" / "alertmanager-miner.json")


@pytest.fixture
def hook() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/s3cr3t"
    server.shutdown()
    server.server_close()
    thread.join()


def tip(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("TIP ")]
    return line


def test_the_resume_tip_has_every_set_it_needs(
    sim: SimCluster, tmp_path: Path, hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seal(sim)
    monkeypatch.chdir(tmp_path)
    elsewhere = str(tmp_path / "cases")
    run = ["run", CONTAIN, "--alert-file", MINER, "-i", "inc-t", "--set", f"webhook={hook}"]
    first = invoke(
        *run, "--incidents-dir", elsewhere, kubeconfig=sim.kubeconfig_path, env=FAST_RETRIES
    )
    assert first.exit_code == 3, first.output  # stopped before the approval step
    line = tip(first.stderr)
    assert "--set webhook=..." in line and "replace each ... with the secret value" in line
    assert f"--incidents-dir {elsewhere}" in line and "s3cr3t" not in line
    assert line.count("--set") == 1  # only the secret: the other params are journaled
    shown = invoke("incidents", "show", "inc-t", "--incidents-dir", elsewhere, env=FAST_RETRIES)
    assert f"irkit run --resume inc-t --incidents-dir {elsewhere} --set webhook=..." in shown.stdout
    pasted = line.split("continue: ", 1)[1].split("  (replace", 1)[0]
    argv = shlex.split(pasted.replace("webhook=...", f"webhook={hook}"))[1:]
    done = invoke(*argv, kubeconfig=sim.kubeconfig_path, env=FAST_RETRIES)
    assert done.exit_code == 0, done.output
    assert "run completed" in done.stdout


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_the_can_i_tip_reaches_the_same_cluster_and_user(sim: SimCluster, tmp_path: Path) -> None:
    config = sim.write_kubeconfig(tmp_path / "sim.kubeconfig")
    argv = ["isolate", "deployment/api-server", "-n", "production", "--kubeconfig", config]
    forbidden = invoke(*argv, "--context", "irkit-sim-oncall-viewer", env=FAST_RETRIES)
    assert forbidden.exit_code == 5, forbidden.output
    line = tip(forbidden.stderr)
    assert f"--kubeconfig {config} --context irkit-sim-oncall-viewer" in line
    pasted = shlex.split(line.split("check with: ", 1)[1])
    # As the responder's shell would run it: no KUBECONFIG, no ~/.kube/config to fall back on.
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"HOME": str(tmp_path)}
    answer = subprocess.run(pasted, capture_output=True, text=True, env=env, check=False)
    assert answer.stdout.strip() == "no", answer.stderr  # asked the sim, as oncall-viewer
