"""The receiving side of irkit serve (no workers): auth, size and shape limits, routing,
dedup, resolved alerts, protected namespaces, caps, overload, and the counters of each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serving import AUTH, TOKEN, Served, am, apps, falco

from irkit.queue.port import QUEUED

Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    yield from apps(tmp_path)


def test_a_request_without_the_token_or_with_a_wrong_one_is_401(serve: Serve) -> None:
    s = serve()
    assert s.post("alertmanager", am(), headers={}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token-at-all-123456"}
    assert s.post("alertmanager", am(), headers=wrong).status_code == 401
    assert s.post("alertmanager", am(), headers={"X-Irkit-Token": "nope"}).status_code == 401
    assert s.post("alertmanager", am(), headers={"Authorization": TOKEN}).status_code == 401
    assert s.queue.jobs() == []
    assert s.client.get("/v1/incidents").status_code == 401
    assert s.metric('irkit_alerts_rejected_total{reason="auth"}') == 5  # GET too


def test_both_token_headers_are_accepted(serve: Serve) -> None:
    s = serve()
    first = s.post("alertmanager", am(fingerprint="a"), headers=AUTH)
    assert first.status_code == 202, first.text
    second = s.post("alertmanager", am(fingerprint="b"), headers={"X-Irkit-Token": TOKEN})
    assert second.status_code == 202, second.text
    assert len(s.queue.jobs()) == 2
    assert s.client.get("/v1/incidents", headers={"X-Irkit-Token": TOKEN}).status_code == 200


def test_a_body_over_1_mib_is_413_declared_or_chunked(serve: Serve) -> None:
    s = serve()
    big = b'{"version": "4", "pad": "' + b"x" * (1 << 20) + b'"}'
    reply = s.client.post("/v1/alerts/alertmanager", content=big, headers=AUTH)
    assert reply.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: read and counted
        yield b'{"version": "4", "pad": "'
        for _ in range(40):
            yield b"y" * 32768
        yield b'"}'

    reply = s.client.post("/v1/alerts/alertmanager", content=chunks(), headers=AUTH)
    assert reply.status_code == 413
    lying = AUTH | {"Content-Length": "10"}  # says small, sends a lot: still counted
    reply = s.client.post("/v1/alerts/falco", content=big, headers=lying)
    assert reply.status_code in (400, 413)
    assert s.metric('irkit_alerts_rejected_total{reason="too-large"}') >= 2
    assert s.queue.jobs() == []


def test_bad_json_is_400_and_an_unknown_shape_is_422_without_the_body(serve: Serve) -> None:
    s = serve()
    reply = s.client.post(
        "/v1/alerts/alertmanager", content=b"{not json SECRET-IN-BODY", headers=AUTH
    )
    assert reply.status_code == 400 and "SECRET-IN-BODY" not in reply.text
    reply = s.post("alertmanager", {"version": "3", "alerts": ["SECRET-IN-BODY"]})
    assert reply.status_code == 422 and "version" in reply.json()["error"]
    assert "SECRET-IN-BODY" not in reply.text
    reply = s.post("falco", {"rule": "SECRET-IN-BODY", "time": "yesterday"})
    assert reply.status_code == 422 and "SECRET-IN-BODY" not in reply.text
    assert s.metric('irkit_alerts_rejected_total{reason="bad-json"}') == 1
    assert s.metric('irkit_alerts_rejected_total{reason="shape"}') == 2


def test_the_same_alert_twice_is_one_job(serve: Serve) -> None:
    s = serve()
    first = s.post("alertmanager", am()).json()
    again = s.post("alertmanager", am()).json()
    assert len(first["accepted"]) == 1 and first["duplicates"] == []
    assert again["accepted"] == [] and again["duplicates"] == first["accepted"]
    jobs = s.queue.jobs()
    assert len(jobs) == 1 and jobs[0].state == QUEUED
    assert jobs[0].workload == "production/pod/api-server-c7cpph9p5s-d4jql"
    assert jobs[0].incident.startswith("serve-isolate-pod-")
    assert s.metric('irkit_alerts_accepted_total{source="alertmanager"}') == 1
    assert s.metric('irkit_alerts_deduplicated_total{source="alertmanager"}') == 1
    assert s.metric('irkit_alerts_received_total{source="alertmanager"}') == 2
    assert s.metric("irkit_queue_depth") == 1


def test_falco_events_of_one_rule_and_pod_in_a_window_are_one_incident(serve: Serve) -> None:
    s = serve()
    first = s.post("falco", falco())
    assert first.status_code == 202, first.text
    assert s.post("falco", falco() | {"uuid": "another"}).json()["duplicates"]
    other = s.post("falco", falco(**{"k8s.pod.name": "frontend-x"})).json()
    assert len(other["accepted"]) == 1
    assert len(s.queue.jobs()) == 2


def test_resolved_and_unrouted_alerts_start_nothing(serve: Serve) -> None:
    s = serve()
    reply = s.post("alertmanager", am(status="resolved"))
    assert reply.status_code == 202
    assert reply.json()["ignored"] == [{"index": 0, "reason": "resolved"}]
    reply = s.post("alertmanager", am("SomethingElse"))
    assert reply.json()["ignored"] == [{"index": 0, "reason": "no-route"}]
    assert s.queue.jobs() == []
    assert s.metric('irkit_alerts_ignored_total{reason="resolved"}') == 1


def test_a_protected_namespace_is_refused(serve: Serve) -> None:
    s = serve(protect=frozenset({"kube-system", "payments"}))
    for ns in ("kube-system", "payments"):
        reply = s.post("alertmanager", am(namespace=ns, fingerprint=ns))
        assert reply.status_code == 422, reply.text
        assert reply.json()["reason"] == "protected" and ns in reply.json()["error"]
    assert s.queue.jobs() == []
    assert s.metric('irkit_alerts_rejected_total{reason="protected"}') == 2


def test_past_the_cap_a_namespace_gets_no_more_responses(serve: Serve) -> None:
    s = serve(cap=2)
    for n in range(2):
        assert s.post("alertmanager", am(fingerprint=f"f{n}", pod=f"p{n}")).status_code == 202
    reply = s.post("alertmanager", am(fingerprint="f9", pod="p9"))
    assert reply.status_code == 422 and reply.json()["reason"] == "cap"
    assert s.post("alertmanager", am(fingerprint="f0", pod="p0")).json()["duplicates"]
    assert len(s.queue.jobs()) == 2
    assert s.metric('irkit_alerts_rejected_total{reason="cap"}') == 1


def test_over_the_queue_depth_the_answer_is_503_with_retry_after(serve: Serve) -> None:
    s = serve(max_depth=1, retry_after=7)
    assert s.post("alertmanager", am(fingerprint="a", pod="a")).status_code == 202
    reply = s.post("alertmanager", am(fingerprint="b", pod="b"))
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "7"
    assert len(s.queue.jobs()) == 1
    assert s.metric('irkit_alerts_rejected_total{reason="overload"}') == 1


def test_an_alert_that_cannot_fill_a_required_param_is_422_naming_it(serve: Serve) -> None:
    s = serve()
    reply = s.post("alertmanager", am("WorkloadCompromised"))
    assert reply.status_code == 422 and reply.json()["reason"] == "params"
    assert "workload" in reply.json()["error"]
    reply = s.post("alertmanager", am("PodCompromised", pod="", fingerprint="nopod"))
    assert reply.status_code == 422 and "param pod" in reply.json()["error"]
    filled = s.post("alertmanager", am("WorkloadCompromised", workload="deployment/api-server"))
    assert filled.status_code == 202, filled.text
    job = s.queue.jobs()[0]
    assert job.workload == "production/deployment/api-server"
    assert job.params == {"namespace": "production", "workload": "deployment/api-server"}


def test_insecure_no_auth_counts_every_request(serve: Serve) -> None:
    s = serve(token=None, insecure_no_auth=True)
    assert s.post("alertmanager", am(), headers={}).status_code == 202
    assert s.metric("irkit_requests_unauthenticated_total") == 1


def test_health_and_readiness(serve: Serve) -> None:
    s = serve()
    assert s.client.get("/healthz").json() == {"status": "ok"}
    assert s.client.get("/readyz").json()["routes"] == 4
