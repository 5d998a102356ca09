"""Helpers for irkit serve's tests: its runbooks, Alertmanager/Falco payloads, apps on a SQLite
queue (with workers on the sim when asked), a way to wait for a job's end.

A module, not a conftest.py: a second conftest would shadow tests/conftest.py for the
``from conftest import ...`` of other test modules. Test modules wrap ``apps`` in a fixture."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from helpers import cluster_for

from irkit.engine.ports import Adapters
from irkit.engine.routing import routes
from irkit.queue.port import FINAL, Job
from irkit.queue.sqlite import SqliteQueue
from irkit.server.app import create_app
from irkit.server.config import ServeSettings
from irkit.settings import RunSettings
from irkit.sim import SimCluster

HERE = Path(__file__).resolve().parent
RUNBOOKS = HERE / "runbooks"
ALERTS = HERE.parent / "fixtures" / "alerts"
TOKEN = "serve-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POD = "api-server-c7cpph9p5s-d4jql"


def am(
    alertname: str = "PodCompromised",
    *,
    status: str = "firing",
    fingerprint: str = "fp-1",
    **labels: str,
) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) carrying one alert."""
    labels = {"alertname": alertname, "namespace": "production", "pod": POD} | labels
    return {
        "version": "4",
        "status": status,
        "receiver": "irkit",
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "test"},
                "startsAt": "2026-11-26T03:05:36.123Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }


def falco(**fields: Any) -> dict[str, Any]:
    event = json.loads((ALERTS / "falco-shell.json").read_text())
    event["output_fields"] |= fields
    return copy.deepcopy(event)


class Served:
    """An app (FastAPI TestClient) and its queue."""

    def __init__(self, client: TestClient, queue: SqliteQueue, settings: ServeSettings) -> None:
        self.client, self.queue, self.settings = client, queue, settings

    def post(self, source: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            f"/v1/alerts/{source}", json=body, headers=AUTH if headers is None else headers
        )

    def wait(self, incident: str, states: tuple[str, ...] = FINAL, timeout: float = 30) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.queue.get(incident)
            if job is not None and job.state in states:
                return job
            time.sleep(0.05)
        raise AssertionError(f"{incident}: not in {states} after {timeout} s: {job}")

    def metric(self, line: str) -> float:
        """The value of one sample, e.g. 'irkit_alerts_accepted_total{source="falco"}'."""
        text = self.client.get("/metrics").text
        for row in text.splitlines():
            if row.startswith(line + " "):
                return float(row.split()[-1])
        return 0.0


def apps(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """For a fixture: ``start(sim=None, **settings)`` makes the app over a SQLite queue in
    tmp_path (with a sim, worker threads run the jobs on it); all are stopped at the end."""
    opened: list[tuple[TestClient, SqliteQueue]] = []

    def start(sim: SimCluster | None = None, **overrides: Any) -> Served:
        run = RunSettings(incidents_dir=str(tmp_path / "incidents"))
        fields: dict[str, Any] = {"token": TOKEN, "run": run, "poll": 0.02, "workers": 2}
        settings = ServeSettings(**(fields | overrides))
        queue = SqliteQueue(tmp_path / "serve.sqlite3")
        adapters = Adapters(cluster=cluster_for(sim)) if sim is not None else None
        app = create_app(settings, queue, routes(RUNBOOKS), adapters=adapters)
        client = TestClient(app)
        client.__enter__()
        opened.append((client, queue))
        return Served(client, queue, settings)

    yield start
    for client, queue in opened:
        client.__exit__(None, None, None)
        queue.close()


def journal(tmp_path: Path, incident: str) -> list[dict[str, Any]]:
    path = tmp_path / "incidents" / incident / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
