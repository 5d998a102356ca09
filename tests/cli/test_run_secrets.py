"""Webhook URLs are secrets: `irkit run --set webhook=URL` keeps the URL's path out of the
incident folder (journal, RCA, evidence), the NetworkPolicy's annotations and the command
journal; a resumed run asks for such params again."""

from __future__ import annotations

import gzip
import json
import shlex
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import seal
from helpers import FAST_RETRIES, invoke
from typer.testing import Result

from irkit.cli.common import command_line
from irkit.cluster.kube import connect
from irkit.settings import ClusterSettings
from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
CONTAIN = str(ROOT / "tests" / "fixtures" / "runbooks" / "engine" / "contain.yaml")
MINER = str(ROOT / "tests" / "fixtures" / "alerts" / "alertmanager-miner.json")
SECRET = "T0SECRETxB1SECRETxSECRETVALUE"
POLICY = "irkit-quarantine-deployment-api-server"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hook() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            paths.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T/B/{SECRET}", paths
    server.shutdown()
    server.server_close()
    thread.join()


def irkit(sim: SimCluster, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    argv = ["irkit", *args, "--kubeconfig", sim.kubeconfig_path]
    monkeypatch.setattr(sys, "argv", argv)  # command_line() reads sys.argv, as in a real run
    return invoke(*args, kubeconfig=sim.kubeconfig_path, env=FAST_RETRIES)


def everything_in(folder: Path) -> str:
    """Every file's text under ``folder``, tarballs unpacked."""
    out = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    f = tar.extractfile(member)
                    out.append(f.read().decode("utf-8", "replace") if f else "")
            continue
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        out.append(data.decode("utf-8", "replace"))
    return "\n".join(out)


@pytest.mark.parametrize(
    ("arg", "shown"),
    [
        (
            "slack_webhook=https://hooks.slack.com/services/T/B/SECRET",
            "slack_webhook=https://hooks.slack.com/…",
        ),
        ("--set=w=https://u:p@example.com", "--set=w=https://example.com/…"),
        ("https://example.com/x?token=SECRET", "https://example.com/…"),
        ("https://example.com", "https://example.com"),
        ("deployment/api", "deployment/api"),
        # where the evidence went is not a secret: kept for the journal, custody and the RCA
        ("s3://ir-evidence/cases/2026", "s3://ir-evidence/cases/2026"),
        ("--s3=s3://ir-evidence/cases/inc-42/", "--s3=s3://ir-evidence/cases/inc-42/"),
        ("s3://AKIA:SECRET@bucket/x", "s3://bucket/…"),  # but credentials never are
    ],
)
def test_command_line_redacts_urls(monkeypatch: pytest.MonkeyPatch, arg: str, shown: str) -> None:
    monkeypatch.setattr(sys, "argv", ["irkit", "run", "--set", arg])
    assert command_line() == shlex.join(["irkit", "run", "--set", shown])


def test_a_webhook_secret_is_nowhere_in_the_incident_or_the_cluster(
    sim: SimCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hook: tuple[str, list[str]],
) -> None:
    url, posted = hook
    seal(sim)  # isolating api-server is complete
    args = ("run", CONTAIN, "--alert-file", MINER, "-i", "inc-s", "--set", f"webhook={url}")
    first = irkit(sim, monkeypatch, *args)
    assert first.exit_code == 3, first.output  # stopped before the approval step
    assert len(posted) == 1 and SECRET in posted[0]  # the webhook itself got the real URL

    again = irkit(sim, monkeypatch, "run", "--resume", "inc-s", "--yes")
    assert again.exit_code == 2, again.output
    assert "give them again: webhook" in again.stderr and "--set webhook=VALUE" in again.stderr
    other = irkit(sim, monkeypatch, "run", "--resume", "inc-s", "--yes", "--set", "replicas=1")
    assert other.exit_code == 2 and "--set replicas refused" in other.stderr

    done = irkit(sim, monkeypatch, "run", "--resume", "inc-s", "--yes", "--set", f"webhook={url}")
    assert done.exit_code == 0, done.output
    assert SECRET not in done.output and SECRET not in first.output

    incident = tmp_path / "incidents" / "inc-s"
    assert (incident / "rca.md").is_file()
    found = everything_in(incident)
    assert "<redacted>" in found and "127.0.0.1" in found
    assert SECRET not in found
    starts = [
        json.loads(line)
        for line in (incident / "journal.jsonl").read_text().splitlines()
        if '"run-start"' in line
    ]
    assert [s["data"]["params"]["webhook"] for s in starts] == ["<redacted>"] * 2
    assert "| Param webhook | &lt;redacted&gt; |" in (incident / "rca.md").read_text()
    policy = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path)).get(
        "networkpolicies", "production", POLICY
    )
    annotations = json.dumps(policy["metadata"]["annotations"])
    assert "irkit run" in annotations and SECRET not in annotations
    assert "webhook=http://127.0.0.1" in annotations
