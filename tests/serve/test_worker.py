"""Alerts through irkit serve's workers to the sim: an alert becomes a quarantine once (however
often it is delivered), approvals pause and resume a run, and a fenced worker stops."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import cluster_for
from serving import APPROVER, AUTH, POD, RUNBOOKS, Served, am, apps, falco, journal

from irkit.engine.ports import Adapters
from irkit.engine.routing import routes
from irkit.queue.port import AWAITING, DONE, Claim, Queue
from irkit.queue.sqlite import SqliteQueue
from irkit.server.config import ServeSettings
from irkit.server.metrics import Metrics
from irkit.server.worker import Workers
from irkit.settings import RunSettings
from irkit.sim import SimCluster

Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    yield from apps(tmp_path)


NS = "production"


def changes(events: list[dict[str, Any]], step: str) -> list[Any]:
    return [c for e in events if e.get("step") == step for c in e.get("changes") or []]


def test_an_alert_delivered_twice_quarantines_its_pod_once(
    serve: Serve, sim: SimCluster, tmp_path: Path
) -> None:
    s = serve(sim)
    first = s.post("alertmanager", am()).json()
    s.post("alertmanager", am())  # Alertmanager's re-notification: same key
    incident = first["accepted"][0]["incident"]
    job = s.wait(incident)
    assert job.state in (DONE, "partial"), job  # the scenario's leaky policy makes it partial
    policy = cluster_for(sim).get("networkpolicies", NS, f"irkit-quarantine-pod-{POD}")
    assert policy["metadata"]["labels"]["irkit.io/incident"] == incident
    pod = cluster_for(sim).get("pods", NS, POD)
    assert pod["metadata"]["labels"]["irkit.io/quarantine"] == incident
    events = journal(tmp_path, incident)
    assert [e["step"] for e in events if e["event"] == "step-end"] == ["isolate"]
    assert len(s.queue.jobs()) == 1
    assert s.metric(f'irkit_runs_total{{result="{job.state}",runbook="serve-isolate-pod"}}') == 1
    assert s.metric('irkit_step_seconds_count{action="isolate"}') == 1
    detail = s.client.get(f"/v1/incidents/{incident}", headers=AUTH).json()
    assert detail["state"] == job.state and detail["workload"] == f"{NS}/deployment/api-server"


def test_an_accepted_alert_wakes_an_idle_worker_without_waiting_for_its_poll(
    serve: Serve, sim: SimCluster
) -> None:
    s = serve(sim, poll=60.0)  # idle workers would look again only in a minute
    time.sleep(0.3)  # both workers found nothing and wait
    began = time.monotonic()
    incident = s.post("alertmanager", am()).json()["accepted"][0]["incident"]
    s.wait(incident, timeout=20)
    assert time.monotonic() - began < 20


def test_a_falco_event_quarantines_its_pod(serve: Serve, sim: SimCluster) -> None:
    s = serve(sim)
    reply = s.post("falco", falco())
    assert reply.status_code == 202, reply.text
    job = s.wait(reply.json()["accepted"][0]["incident"])
    assert job.state in (DONE, "partial")
    assert cluster_for(sim).get("networkpolicies", NS, f"irkit-quarantine-pod-{POD}")


def test_an_approval_step_waits_and_an_approval_resumes_the_run(
    serve: Serve, sim: SimCluster, tmp_path: Path
) -> None:
    s = serve(sim)
    alert = am("WorkloadCompromised", workload="deployment/api-server")
    incident = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
    job = s.wait(incident, (AWAITING,))
    scale = cluster_for(sim).get("deployments", NS, "api-server")
    assert scale["spec"]["replicas"] == 3  # not scaled unattended
    events = journal(tmp_path, incident)
    ends = [(e["step"], e["status"]) for e in events if e["event"] == "step-end"]
    assert [step for step, _ in ends] == ["isolate", "scale_down"]
    assert ends[1][1] == "awaiting-approval"
    detail = s.client.get(f"/v1/incidents/{incident}", headers=AUTH).json()
    assert detail["state"] == AWAITING and detail["steps"]["scale_down"] == "awaiting-approval"
    typo = s.client.post(
        f"/v1/incidents/{incident}/approve", json={"step": "scale_dwn"}, headers=APPROVER
    )
    assert typo.status_code == 422 and "scale_down is" in typo.json()["error"]
    wrong = s.client.post(f"/v1/incidents/{incident}/approve", json={"step": "x"})
    assert wrong.status_code == 401
    reply = s.client.post(
        f"/v1/incidents/{incident}/approve",
        json={"step": "scale_down", "by": "alice"},
        headers=APPROVER,
    )
    assert reply.status_code == 202, reply.text
    job = s.wait(incident)
    assert job.approvals == ("scale_down",)
    assert cluster_for(sim).get("deployments", NS, "api-server")["spec"]["replicas"] == 0
    events = journal(tmp_path, incident)
    assert len(changes(events, "isolate")) >= 1
    isolate_ends = [e for e in events if e["event"] == "step-end" and e["step"] == "isolate"]
    assert len(isolate_ends) == 1  # the resumed run did not isolate again
    again = s.client.post(
        f"/v1/incidents/{incident}/approve", json={"step": "scale_down"}, headers=APPROVER
    )
    assert again.status_code == 404


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_run_waiting_for_approval_is_announced_on_the_notify_webhook(
    serve: Serve, sim: SimCluster
) -> None:
    hook = HTTPServer(("127.0.0.1", 0), Hook)
    Hook.received = []
    thread = threading.Thread(target=hook.serve_forever, daemon=True)
    thread.start()
    try:
        s = serve(sim, notify_url=f"http://127.0.0.1:{hook.server_address[1]}/hook")
        alert = am("WorkloadCompromised", workload="deployment/api-server")
        incident = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
        s.wait(incident, (AWAITING,))
        deadline = time.monotonic() + 10
        while not Hook.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hook.shutdown()
        hook.server_close()
    [message] = Hook.received
    assert message["incident"] == incident and message["fields"] == {"step": "scale_down"}
    assert f"irkit approve {incident} scale_down" in message["message"]


def test_approve_refuses_a_bad_body(serve: Serve) -> None:
    s = serve()
    for body in ({"step": "Bad Step"}, {"by": "x"}, {"step": "ok", "by": "a\nb"}):
        reply = s.client.post("/v1/incidents/inc-1/approve", json=body, headers=APPROVER)
        assert reply.status_code == 422, body
    big = {"step": "scale_down", "by": "x" * 5000}
    reply = s.client.post("/v1/incidents/inc-1/approve", json=big, headers=APPROVER)
    assert reply.status_code == 413, reply.text


class LosingQueue:
    """A queue whose heartbeats fail after the first claim: another worker took the job."""

    def __init__(self, inner: Queue) -> None:
        self.inner = inner
        self.lost = threading.Event()

    def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        self.lost.set()
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_fenced_worker_stops_before_its_next_step(sim: SimCluster, tmp_path: Path) -> None:
    inner = SqliteQueue(tmp_path / "q.sqlite3")
    queue = LosingQueue(inner)
    settings = ServeSettings(
        token="x" * 20,
        workers=1,
        lease=0.3,  # heartbeat every 0.1 s: lost while the pause step runs
        poll=0.02,
        run=RunSettings(incidents_dir=str(tmp_path / "incidents")),
    )
    from irkit.server.intake import Intake

    metrics = Metrics()
    loaded = routes(RUNBOOKS)
    intake = Intake(settings, queue, loaded, metrics)
    body = am("SlowResponse", pause="1")
    incident = intake.take("alertmanager", body).accepted[0]["incident"]
    workers = Workers(settings, queue, loaded, Adapters(cluster=cluster_for(sim)), metrics)
    job = inner.claim("w", 30)
    assert job is not None
    workers.handle(job)
    events = journal(tmp_path, incident)
    steps = [(e["step"], e["status"]) for e in events if e["event"] == "step-end"]
    assert steps[0] == ("mark", "ok") and ("note", "ok") not in steps  # stopped in between
    assert not any(e["step"] == "note" for e in events)
    assert not any(e["event"] == "run-end" for e in events)
    got = inner.get(incident)
    assert got is not None and got.state == "running"  # left for the worker that took it
    inner.close()


def test_metrics_are_prometheus_text(serve: Serve) -> None:
    s = serve()
    text = s.client.get("/metrics").text
    for name in ("irkit_alerts_received_total", "irkit_queue_depth", "irkit_step_seconds"):
        assert name in text or name.removesuffix("_total") in text


def test_an_approved_run_with_a_secret_param_completes(
    serve: Serve, sim: SimCluster, tmp_path: Path
) -> None:
    """label_key sounds secret: the journal holds <redacted>, the resume gets it from the job."""
    s = serve(sim)
    alert = am("WorkloadCompromised", workload="deployment/api-server")
    incident = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
    s.wait(incident, (AWAITING,))
    start = next(e for e in journal(tmp_path, incident) if e["event"] == "run-start")
    assert start["data"]["params"]["label_key"] == "<redacted>"
    detail = s.client.get(f"/v1/incidents/{incident}", headers=AUTH).json()
    assert detail["params"]["label_key"] == "<redacted>"  # as in the journal
    assert detail["params"]["workload"] == "deployment/api-server"
    reply = s.client.post(
        f"/v1/incidents/{incident}/approve", json={"step": "scale_down"}, headers=APPROVER
    )
    assert reply.status_code == 202, reply.text
    job = s.wait(incident)
    assert job.state in (DONE, "partial") and not job.error, job  # the leaky policy: partial
    assert cluster_for(sim).get("deployments", NS, "api-server")["spec"]["replicas"] == 0


def test_only_the_approver_token_approves_and_the_journal_names_the_approver(
    serve: Serve, sim: SimCluster, tmp_path: Path
) -> None:
    s = serve(sim)
    alert = am("WorkloadCompromised", workload="deployment/api-server")
    incident = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
    s.wait(incident, (AWAITING,))
    url, body = f"/v1/incidents/{incident}/approve", {"step": "scale_down", "by": "mallory"}
    assert s.client.post(url, json=body, headers=AUTH).status_code == 401  # the alert token
    assert s.client.post(url, json=body).status_code == 401
    reply = s.client.post(url, json={"step": "scale_down", "by": "alice"}, headers=APPROVER)
    assert reply.status_code == 202, reply.text
    s.wait(incident)
    ends = [e for e in journal(tmp_path, incident) if e["event"] == "step-end"]
    scaled = next(e for e in ends if e["step"] == "scale_down" and e["status"] == "ok")
    assert scaled["data"]["approval"] == {"by": "alice", "how": "irkit approve / API"}


def test_without_an_approver_token_approvals_are_403(serve: Serve, sim: SimCluster) -> None:
    s = serve(sim, approver_token=None)
    alert = am("WorkloadCompromised", workload="deployment/api-server")
    incident = s.post("alertmanager", alert).json()["accepted"][0]["incident"]
    s.wait(incident, (AWAITING,))
    url = f"/v1/incidents/{incident}/approve"
    reply = s.client.post(url, json={"step": "scale_down"}, headers=AUTH)
    assert reply.status_code == 403 and "approver token" in reply.json()["error"]
    assert s.queue.get(incident).state == AWAITING  # type: ignore[union-attr]
