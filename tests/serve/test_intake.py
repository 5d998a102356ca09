"""The receiving side of irkit serve (no workers): auth, size and shape limits, routing,
dedup, resolved alerts, protected namespaces, caps, overload, and the counters of each."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serving import AUTH, POD, TOKEN, Served, am, apps, falco

from irkit.queue.port import QUEUED
from irkit.sim import SimCluster

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


def test_a_lone_surrogate_in_a_label_or_fingerprint_is_422_naming_the_field(
    serve: Serve,
) -> None:
    """JSON may escape a lone UTF-16 surrogate; no database, hash or journal encodes it."""
    s = serve()
    cases = {
        "commonLabels": (  # checked first; alerts[0].labels holds it too
            '"production"',
            '"prod\\ud800"',
        ),
        "alerts[0].fingerprint": ('"fp-1"', '"fp\\ud800"'),
    }
    for field, (old, new) in cases.items():
        body = json.dumps(am()).replace(old, new)
        headers = AUTH | {"Content-Type": "application/json"}
        reply = s.client.post("/v1/alerts/alertmanager", content=body, headers=headers)
        assert reply.status_code == 422, (field, reply.text)
        assert field in reply.json()["error"]
    shell = json.dumps(falco()).replace('"production"', '"prod\\udc00"')
    headers = AUTH | {"Content-Type": "application/json"}
    reply = s.client.post("/v1/alerts/falco", content=shell, headers=headers)
    assert reply.status_code == 422 and "output_fields.k8s.ns.name" in reply.json()["error"]
    assert s.queue.jobs() == []
    assert s.post("alertmanager", am()).status_code == 202  # the queue is fine


def test_the_same_alert_twice_is_one_job(serve: Serve) -> None:
    s = serve()
    first = s.post("alertmanager", am()).json()
    again = s.post("alertmanager", am()).json()
    assert len(first["accepted"]) == 1 and first["duplicates"] == []
    assert again["accepted"] == [] and again["duplicates"] == first["accepted"]
    jobs = s.queue.jobs()
    assert len(jobs) == 1 and jobs[0].state == QUEUED
    assert jobs[0].workload == f"production/pod/{POD}"  # no cluster to ask: the pod's own lock
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
    assert "namespace production had 2 jobs" in reply.json()["error"]
    assert s.post("alertmanager", am(fingerprint="f0", pod="p0")).json()["duplicates"]
    assert len(s.queue.jobs()) == 2
    assert s.metric('irkit_alerts_rejected_total{reason="cap"}') == 1


def test_a_cap_refusal_names_no_namespace_that_is_not_a_valid_name(serve: Serve) -> None:
    s = serve(cap=1)
    junk = "Evil_" + "x" * 4000
    assert s.post("alertmanager", am(fingerprint="f0", pod="p0", namespace=junk)).status_code == 202
    reply = s.post("alertmanager", am(fingerprint="f1", pod="p1", namespace=junk))
    assert reply.status_code == 422 and reply.json()["reason"] == "cap"
    assert "the namespace had 1 jobs" in reply.json()["error"]
    assert "Evil_" not in reply.text and len(reply.text) < 1000


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
    assert job.params == {
        "namespace": "production",
        "workload": "deployment/api-server",
        "label_key": "app",
    }


def test_insecure_no_auth_counts_every_request(serve: Serve) -> None:
    s = serve(token=None, insecure_no_auth=True)
    assert s.post("alertmanager", am(), headers={}).status_code == 202
    assert s.metric("irkit_requests_unauthenticated_total") == 1


def test_health_and_readiness(serve: Serve) -> None:
    s = serve()
    assert s.client.get("/healthz").json() == {"status": "ok"}
    assert s.client.get("/readyz").json()["routes"] == 4


def test_one_deployment_in_three_spellings_and_a_pod_of_it_never_run_at_once(
    serve: Serve, sim: SimCluster
) -> None:
    """deployment/, Deployment/, deployments/ and a Falco event on one of its pods: one lock
    (the pod's owner asked of the cluster; no workers: the test claims)."""
    s = serve(sim, workers=0)
    for n, kind in enumerate(("deployment", "Deployment", "deployments")):
        alert = am("WorkloadCompromised", workload=f"{kind}/api-server", fingerprint=f"fp-{n}")
        assert s.post("alertmanager", alert).status_code == 202
    assert s.post("falco", falco()).status_code == 202
    assert len(s.queue.jobs()) == 4
    first = s.queue.claim("w1", 30)
    assert first is not None
    assert [s.queue.claim(f"w{n}", 30) for n in range(2, 6)] == [None] * 4
    assert s.queue.finish(first, "done")
    second = s.queue.claim("w2", 30)
    assert second is not None and second.job.incident != first.job.incident
    assert s.queue.claim("w3", 30) is None
