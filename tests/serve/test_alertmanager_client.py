"""The Alertmanager fixture itself, proved against a tiny stdlib receiver before irkit serve
takes its place: the webhook arrives at the configured path, with the bearer token read from
the credentials file, in webhook version 4, and resolved alerts are sent too."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alertmanager import Alertmanager, needs_alertmanager

pytestmark = needs_alertmanager
TOKEN = "s3cret-token-for-tests"
WAIT = 15.0  # seconds; Alertmanager sends within ~1 s with group_wait 0s


class Received:
    """One webhook request as the receiver saw it."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.json: dict[str, Any] = json.loads(body)


class Receiver:
    """An HTTP server on a free loopback port that answers 200 to every POST and queues it."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Received] = queue.Queue()
        inbox = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                inbox.put(Received(self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/alerts/alertmanager"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next(self, am: Alertmanager) -> Received:
        try:
            return self.requests.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no webhook in {WAIT:.0f}s; alertmanager:\n{am.log()}") from None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(timeout=5)


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[Alertmanager]:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with Alertmanager(tmp_path / "alertmanager", receiver.url, token_file) as am:
        yield am


def miner(**extra: Any) -> dict[str, Any]:
    labels = {
        "alertname": "CryptoMinerDetected",
        "namespace": "production",
        "pod": "api-server-c7cpph9p5s-d4jql",
    }
    return {"labels": labels, "annotations": {"summary": "stratum to a pool"}, **extra}


def test_webhook_v4_with_bearer_token(alertmanager: Alertmanager, receiver: Receiver) -> None:
    alertmanager.post_alerts(miner())
    got = receiver.next(alertmanager)
    assert got.path == "/v1/alerts/alertmanager"
    assert got.headers["Authorization"] == f"Bearer {TOKEN}"  # the file's trailing newline cut
    assert got.json["version"] == "4"
    assert got.json["receiver"] == "irkit"
    assert got.json["status"] == "firing"
    [alert] = got.json["alerts"]
    assert alert["labels"]["pod"] == "api-server-c7cpph9p5s-d4jql"
    assert alert["status"] == "firing"
    assert alert["fingerprint"]  # part of irkit's idempotency key, with startsAt
    assert alert["startsAt"]


def test_resolved_alerts_are_sent(alertmanager: Alertmanager, receiver: Receiver) -> None:
    alertmanager.post_alerts(miner())
    firing = receiver.next(alertmanager)
    now = datetime.now(UTC).isoformat()
    alertmanager.post_alerts(miner(startsAt=firing.json["alerts"][0]["startsAt"], endsAt=now))
    resolved = receiver.next(alertmanager)
    assert resolved.json["status"] == "resolved"
    [alert] = resolved.json["alerts"]
    assert alert["fingerprint"] == firing.json["alerts"][0]["fingerprint"]
    assert alert["startsAt"] == firing.json["alerts"][0]["startsAt"]


def test_only_routed_alerts_reach_irkit(alertmanager: Alertmanager, receiver: Receiver) -> None:
    other = miner()
    other["labels"] = {**other["labels"], "alertname": "KubePodCrashLooping"}
    alertmanager.post_alerts(other, miner())
    got = receiver.next(alertmanager)
    assert [a["labels"]["alertname"] for a in got.json["alerts"]] == ["CryptoMinerDetected"]
    with pytest.raises(queue.Empty):  # the other alert goes to the default receiver only
        receiver.requests.get(timeout=3)
