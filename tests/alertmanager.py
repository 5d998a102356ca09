"""The real Prometheus Alertmanager on loopback, for the tests that prove irkit serve takes its
webhooks as Alertmanager really sends them (issue 8, item 6).

``Alertmanager`` writes an alertmanager.yml, the shipped example's route and webhook receiver
(bearer token from a file, ``send_resolved``, no group wait; alerts named CryptoMinerDetected
go to irkit), starts Debian's ``prometheus-alertmanager`` on a free loopback port with gossip
off (``--cluster.listen-address=``) and its storage in the test's folder, waits for
``/-/ready`` and stops it on exit. ``make test`` installs the package when it
can; without it the tests skip, naming it (``needs_alertmanager``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import yaml

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
needs_alertmanager = pytest.mark.skipif(
    BINARY is None,
    reason="prometheus-alertmanager is not installed (make test installs Debian's package as root)",
)
START_TIMEOUT = 20.0


def free_port() -> int:
    """A loopback port free now (the OS's pick); the caller binds it at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "deploy" / "alertmanager.yml"


def config(webhook_url: str, credentials_file: Path) -> dict[str, Any]:
    """The shipped receiver (examples/deploy/alertmanager.yml), pointed at ``webhook_url`` with
    the token in ``credentials_file``, and its route's timers cut to a second so that a test
    does not wait: what the tests send through is what users deploy."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    [receiver] = [r for r in data["receivers"] if r["name"] == "irkit"]
    [webhook] = receiver["webhook_configs"]
    webhook["url"] = webhook_url
    webhook["http_config"]["authorization"]["credentials_file"] = str(credentials_file)
    [route] = [r for r in data["route"]["routes"] if r["receiver"] == "irkit"]
    route.update(group_wait="0s", group_interval="1s")
    return data


class Alertmanager:
    """``prometheus-alertmanager`` in ``folder`` sending every alert to ``webhook_url`` with the
    token in ``credentials_file``; a context manager (started on enter, stopped on exit)."""

    def __init__(self, folder: Path, webhook_url: str, credentials_file: Path) -> None:
        assert BINARY is not None, "needs_alertmanager skips tests without the binary"
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.config_path = folder / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config(webhook_url, credentials_file)))
        self.log_path = folder / "alertmanager.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Alertmanager:
        argv = [
            str(BINARY),
            f"--config.file={self.config_path}",
            f"--storage.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log(self) -> str:
        """What Alertmanager logged so far (for an assertion's message)."""
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise AssertionError(f"alertmanager exited at start:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"alertmanager not ready in {START_TIMEOUT:.0f}s:\n{self.log()}")

    def post_alerts(self, *alerts: dict[str, Any]) -> None:
        """``POST /api/v2/alerts``, as Prometheus does: each alert ``{labels, annotations,
        startsAt?, endsAt?}``."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 200, reply.read()
