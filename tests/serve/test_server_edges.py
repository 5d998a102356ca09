"""On a real uvicorn in this process: a body that trickles in is cut off with 503 (retried); the
JSON log lines (the loud warning of --insecure-no-auth, one object per line with the ids)."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from serving import APPROVER_TOKEN, RUNBOOKS, TOKEN, am

from irkit.engine.routing import routes
from irkit.queue.sqlite import SqliteQueue
from irkit.server import logs
from irkit.server.app import create_app
from irkit.server.config import ServeSettings
from irkit.settings import RunSettings


def start(tmp_path: Path, **overrides: Any) -> Iterator[tuple[int, io.StringIO]]:
    stream = io.StringIO()
    logs.setup(stream)
    run = RunSettings(incidents_dir=str(tmp_path / "incidents"))
    settings = ServeSettings(**({"token": TOKEN, "run": run} | overrides))
    queue = SqliteQueue(tmp_path / "serve.sqlite3")
    app = create_app(settings, queue, routes(RUNBOOKS))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield port, stream
    finally:
        server.should_exit = True
        thread.join(10)
        queue.close()
        logs.setup()  # back to stderr: the StringIO goes away with this test


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[int, io.StringIO]]:
    yield from start(tmp_path, read_timeout=0.5, approver_token=APPROVER_TOKEN)


@pytest.fixture
def insecure(tmp_path: Path) -> Iterator[tuple[int, io.StringIO]]:
    yield from start(tmp_path, token=None, insecure_no_auth=True)


def request(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def test_a_body_that_trickles_in_is_cut_off_with_503_and_retry_after(
    slow: tuple[int, io.StringIO],
) -> None:
    port, _ = slow
    head = (
        b"POST /v1/alerts/falco HTTP/1.1\r\nHost: irkit\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    )
    began = time.monotonic()
    reply = request(port, head, b'{"rule": ')  # and nothing more
    assert reply.startswith(b"HTTP/1.1 503"), reply[:200]  # Alertmanager retries 5xx, not 408
    assert b"\r\nretry-after: 10\r\n" in reply.lower()
    assert time.monotonic() - began < 5
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'irkit_alerts_rejected_total{reason="slow"} 1.0' in text


def test_an_approval_body_that_trickles_in_is_cut_off_too(slow: tuple[int, io.StringIO]) -> None:
    port, _ = slow
    head = (
        b"POST /v1/incidents/inc-1/approve HTTP/1.1\r\nHost: irkit\r\n"
        + f"Authorization: Bearer {APPROVER_TOKEN}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    began = time.monotonic()
    reply = request(port, head, b'{"step": ')
    assert reply.startswith(b"HTTP/1.1 503"), reply[:200]
    assert time.monotonic() - began < 5


def test_json_logs_with_ids_and_a_loud_insecure_warning(
    insecure: tuple[int, io.StringIO],
) -> None:
    port, stream = insecure
    body = json.dumps(am()).encode()
    head = (
        b"POST /v1/alerts/alertmanager HTTP/1.1\r\nHost: irkit\r\n"
        + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    assert request(port, head, body).startswith(b"HTTP/1.1 202")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all({"time", "level", "msg"} <= set(line) for line in lines)
    assert any(line["level"] == "warning" and "INSECURE" in line["msg"] for line in lines)
    [accepted] = [line for line in lines if line["msg"] == "alert accepted"]
    assert accepted["incident"].startswith("serve-isolate-pod-") and accepted["job"] == "1"
    assert accepted["source"] == "alertmanager"
