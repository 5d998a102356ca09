"""The runbook engine against irkit.sim: every step's effect on the server, when/on_failure,
retries on injected faults, approvals and resume, the lock, hostile alerts, dry-run plans."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import LEAKY_POLICY, no_logs_kubeconfig, seal

from irkit.cluster.kube import KubeCluster, connect
from irkit.engine import Adapters, RunResult, run
from irkit.errors import Forbidden, IrkitError, Locked, NotFound, UsageError
from irkit.incident.lock import incident_lock
from irkit.incident.paths import IncidentPaths
from irkit.runbook.loader import load_runbook
from irkit.runbook.templating import TemplateFailure
from irkit.settings import ClusterSettings, RetrySettings, RunSettings
from irkit.sim import SimCluster

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "tests" / "fixtures" / "runbooks" / "engine"
ALERTS = ROOT / "tests" / "fixtures" / "alerts"
NS = "production"
POLICY = "irkit-quarantine-deployment-api-server"


def cluster(sim: SimCluster) -> KubeCluster:
    """No retries in the adapter: every injected fault reaches the engine's own retries."""
    return connect(ClusterSettings(kubeconfig=sim.kubeconfig_path, retry=RetrySettings(attempts=1)))


def alert(name: str = "alertmanager-miner.json") -> dict[str, Any]:
    return dict(json.loads((ALERTS / name).read_text()))


class Harness:
    def __init__(self, sim: SimCluster, tmp_path: Path) -> None:
        self.sim, self.tmp = sim, tmp_path
        self.lines: list[str] = []
        self.sleeps: list[float] = []
        self.settings = RunSettings(incidents_dir=str(tmp_path / "incidents"), retry_initial=0.01)
        self.kubeconfig = sim.kubeconfig_path

    def run(self, runbook: str | Path, incident: str = "inc-1", **kw: Any) -> RunResult:
        approve = kw.pop("approve", None)
        adapters = Adapters(
            cluster=connect(
                ClusterSettings(kubeconfig=self.kubeconfig, retry=RetrySettings(attempts=1))
            ),
            approve=approve,
            output=self.lines.append,
            sleep=self.sleeps.append,
        )
        path = runbook if isinstance(runbook, Path) else RUNBOOKS / runbook
        return run(
            load_runbook(path), incident=incident, adapters=adapters, settings=self.settings, **kw
        )

    def paths(self, incident: str = "inc-1") -> IncidentPaths:
        return IncidentPaths.of(incident, self.tmp / "incidents")

    def journal(self, incident: str = "inc-1") -> list[dict[str, Any]]:
        path = self.paths(incident).journal
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def events(self, kind: str, step: str = "", incident: str = "inc-1") -> list[dict[str, Any]]:
        return [
            e
            for e in self.journal(incident)
            if e["event"] == kind and (not step or e["step"] == step)
        ]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return cluster(self.sim).get(kind, NS, name)

    def writes(self) -> list[dict[str, Any]]:
        """Audit events of successful writes that were not dry runs."""
        out = []
        for line in self.sim.audit_log_path.read_text().splitlines():
            event = json.loads(line)
            code = (event.get("responseStatus") or {}).get("code", 0)
            write = event["verb"] in ("create", "update", "patch", "delete")
            if (event.get("objectRef") or {}).get("name") == LEAKY_POLICY:
                continue  # seal(): the test's own set-up
            if write and 200 <= code < 300 and "dryRun" not in event.get("requestURI", ""):
                out.append(event)
        return out


@pytest.fixture
def h(sim: SimCluster, tmp_path: Path) -> Harness:
    """On a cluster where isolating api-server is complete (see ``leaky`` for the other)."""
    seal(sim)
    return Harness(sim, tmp_path)


@pytest.fixture
def leaky(sim: SimCluster, tmp_path: Path) -> Harness:
    """The scenario as shipped: another NetworkPolicy still lets frontend reach api-server."""
    return Harness(sim, tmp_path)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()
    thread.join()


def statuses(result: RunResult) -> dict[str, str]:
    return {s.id: s.status for s in result.steps}


# ---- a full run ----------------------------------------------------------------------------------
def test_full_run_does_each_step_on_the_server(
    h: Harness, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    result = h.run("contain.yaml", alert=alert(), params={"webhook": url}, yes=True)

    assert result.status == "completed" and result.exit_code == 0, h.lines
    assert statuses(result) == dict.fromkeys(["isolate", "collect", "tell", "contain", "rca"], "ok")
    policy = h.get("networkpolicies", POLICY)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "api-server"}}
    assert policy["metadata"]["annotations"]["irkit.io/reason"] == "CryptoMinerDetected"
    isolated = next(s for s in result.steps if s.id == "isolate")
    assert len(isolated.outputs["pods"]) == 3  # scaled away since: their labels are journaled
    labelled = [c.after for c in isolated.changes if c.kind == "Pod"]
    assert [a["labels"]["irkit.io/quarantine"] for a in labelled if a] == ["inc-1"] * 3
    collected = next(s for s in result.steps if s.id == "collect").outputs
    tarball = Path(collected["tarball"])
    assert tarball.is_file() and h.paths().evidence in tarball.parents
    assert collected["nodes"] == ["sim-node-1", "sim-node-2"] and collected["failures"] == 0
    assert len(received) == 1 and collected["sha256"] in received[0]["message"]
    deployment = h.get("deployments", "api-server")
    assert deployment["spec"]["replicas"] == 0
    assert deployment["metadata"]["annotations"]["irkit.io/original-replicas"] == "3"
    rca = h.paths().rca.read_text()
    assert collected["sha256"] in rca and "inc-1" in rca

    kinds = [(e["event"], e["step"]) for e in h.journal()]
    assert kinds[0] == ("run-start", "") and kinds[-1] == ("run-end", "")
    for step in ("isolate", "collect", "tell", "contain", "rca"):
        assert kinds.count(("step-start", step)) == 1 and kinds.count(("step-end", step)) == 1
    start = h.journal()[0]["data"]
    assert start["actor"] == "sim-admin" and start["params"]["webhook"] == "<redacted>"
    assert "/hook" not in h.paths().journal.read_text() and "/hook" not in rca  # a secret
    assert start["alert"]["commonLabels"]["pod"] == "api-server-c7cpph9p5s-d4jql"
    assert len(start["runbook"]["sha256"]) == 64
    contain = h.events("step-start", "contain")[0]["data"]
    assert contain["approval"] == {"by": "sim-admin", "how": "--yes"}
    tell = h.events("step-start", "tell")[0]["data"]["with"]
    assert tell["url"].endswith("/…") and "/hook" not in tell["url"]  # the secret part is not kept


def test_when_false_skips_the_step(h: Harness) -> None:
    result = h.run("contain.yaml", alert=alert(), yes=True)
    assert statuses(result)["tell"] == "skipped" and result.exit_code == 0
    assert h.events("step-start", "tell") == []
    assert [e["status"] for e in h.events("step-end", "tell")] == ["skipped"]


def test_on_failure_continue_goes_on_and_abort_stops(h: Harness) -> None:
    result = h.run("failures.yaml")
    assert result.status == "failed" and isinstance(result.error, NotFound)
    assert result.exit_code == 4
    assert statuses(result) == {
        "scale_ghost": "failed",
        "mark": "ok",
        "scale_ghost_again": "failed",
    }
    pods = cluster(h.sim).list("pods", NS, labels="app=api-server")
    assert all(p["metadata"]["labels"].get("suspect") == "true" for p in pods)
    assert not any("example.com/never" in (p["metadata"].get("annotations") or {}) for p in pods)
    assert h.events("step-start", "never") == []
    end = h.events("run-end")[0]
    assert end["status"] == "failed" and "ghost" in end["error"]


def test_a_falco_event_drives_isolate_annotate_and_cordon(h: Harness) -> None:
    result = h.run("falco.yaml", alert=alert("falco-shell.json"))
    assert result.status == "completed", h.lines
    pod = "api-server-c7cpph9p5s-d4jql"
    policy = h.get("networkpolicies", f"irkit-quarantine-pod-{pod}")
    assert policy["metadata"]["annotations"]["irkit.io/reason"] == (
        "Terminal shell in container (Notice)"
    )
    annotations = h.get("pods", pod)["metadata"]["annotations"]
    assert annotations["example.com/falco-rule"] == "Terminal shell in container"
    assert annotations["example.com/falco-event"] == "5b0a1f3e-7c2d-4e8a-9f61-2d4c8b7a9e10"
    node = cluster(h.sim).get("nodes", "", "sim-node-1")
    assert node["spec"]["unschedulable"] is True
    assert next(s for s in result.steps if s.id == "cordon").outputs == {"node": "sim-node-1"}


# ---- retries -------------------------------------------------------------------------------------
def test_transient_errors_are_retried(h: Harness) -> None:
    throttled = h.sim.inject(method="POST", resource="networkpolicies", status=429, count=1)
    failing = h.sim.inject(method="PATCH", path="/pods/frontend-", status=503, count=1)
    result = h.run("retries.yaml")

    assert result.status == "completed", h.lines
    assert h.sim.faults.fired_count(throttled) == 1 and h.sim.faults.fired_count(failing) == 1
    for step in ("isolate", "mark"):
        attempts = [e["data"]["attempt"] for e in h.events("step-start", step)]
        assert attempts == [1, 2]
    assert max(h.sleeps) >= 1.0  # the 429's Retry-After: 1 was honoured
    creates = [e for e in h.writes() if e["objectRef"]["resource"] == "networkpolicies"]
    assert len(creates) == 1


def test_a_non_transient_error_is_not_retried(h: Harness) -> None:
    denied = h.sim.inject(method="PATCH", path="/pods/frontend-", status=403, count=1)
    result = h.run("retries.yaml")
    assert result.status == "failed" and isinstance(result.error, Forbidden)
    assert result.exit_code == 5
    assert h.sim.faults.fired_count(denied) == 1
    assert [e["data"]["attempt"] for e in h.events("step-start", "mark")] == [1]
    assert h.sleeps == []


# ---- approvals and resume ------------------------------------------------------------------------
def test_approval_without_an_approver_stops_and_resume_yes_finishes(h: Harness) -> None:
    first = h.run("contain.yaml", alert=alert())
    assert first.status == "stopped" and first.awaiting == "contain" and first.exit_code == 3
    assert "irkit run --resume inc-1 --yes" in "\n".join(h.lines)
    assert h.get("deployments", "api-server")["spec"]["replicas"] == 3
    assert h.events("step-start", "contain") == []
    assert h.events("run-end")[-1]["status"] == "stopped"

    second = h.run("contain.yaml", resume=True, yes=True)
    assert second.status == "completed" and second.exit_code == 0, h.lines
    assert h.get("deployments", "api-server")["spec"]["replicas"] == 0
    assert len(h.events("step-start", "isolate")) == 1  # not repeated
    assert len(h.events("step-start", "collect")) == 1
    assert [e["status"] for e in h.events("run-end")] == ["stopped", "completed"]
    resumed = h.events("run-start")[-1]["data"]
    assert resumed["resumed"] is True and resumed["params"]["namespace"] == NS


def test_the_prompt_approves_or_declines(h: Harness) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    def no(step: Any, rendered: Any) -> bool:
        asked.append((step.id, dict(rendered)))
        return False

    declined = h.run("contain.yaml", alert=alert(), approve=no)
    assert declined.status == "stopped" and "declined" in declined.steps[-1].error
    assert asked == [
        ("contain", {"namespace": NS, "target": "deployment/api-server", "replicas": "0"})
    ]
    approved = h.run("contain.yaml", resume=True, approve=lambda step, rendered: True)
    assert approved.status == "completed"
    assert h.events("step-start", "contain")[0]["data"]["approval"]["how"] == "prompt"


def test_resume_refuses_a_changed_runbook_unless_allowed(h: Harness, tmp_path: Path) -> None:
    copy = tmp_path / "contain.yaml"
    copy.write_text((RUNBOOKS / "contain.yaml").read_text())
    assert h.run(copy, alert=alert()).status == "stopped"
    copy.write_text(
        copy.read_text().replace(
            "replicas:\n    type: integer\n    default: 0",
            "replicas:\n    type: integer\n    default: 1",
        )
    )
    with pytest.raises(UsageError, match="refusing to resume"):
        h.run(copy, resume=True, yes=True)
    result = h.run(copy, resume=True, yes=True, allow_changed=True)
    assert result.status == "completed"
    assert (
        h.get("deployments", "api-server")["spec"]["replicas"] == 0
    )  # params come from the journal


def test_a_second_run_of_an_incident_must_resume(h: Harness) -> None:
    h.run("contain.yaml", alert=alert())
    with pytest.raises(UsageError, match="already has a run"):
        h.run("contain.yaml", alert=alert())


def test_resume_of_an_unknown_incident_creates_nothing(h: Harness) -> None:
    with pytest.raises(NotFound, match="incident inc-1 has no run to resume"):
        h.run("contain.yaml", resume=True, yes=True)
    assert not (h.tmp / "incidents").exists()
    with pytest.raises(UsageError, match="keeps the params and alert"):
        h.run("contain.yaml", resume=True, alert=alert())


def test_the_lock_refuses_a_concurrent_run(h: Harness) -> None:
    with incident_lock(h.paths()), pytest.raises(Locked, match="incident inc-1 is being run"):
        h.run("contain.yaml", alert=alert())
    assert h.journal() == []
    assert h.run("contain.yaml", alert=alert(), yes=True).status == "completed"  # released


# ---- hostile input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("runbook", "payload", "error", "message"),
    [
        ("injection.yaml", "injection-mro.json", UsageError, "invalid pod name"),
        ("injection.yaml", "injection-subclasses.json", UsageError, "invalid pod name"),
        ("injection.yaml", "injection-loop.json", UsageError, "invalid pod name"),
        ("injection.yaml", "10MB", UsageError, "alert payload is 10,"),
        ("injection.yaml", "bad-name", UsageError, "invalid pod name"),
        ("internals.yaml", "alertmanager-miner.json", TemplateFailure, "unsafe"),
    ],
)
def test_hostile_input_fails_before_any_step(
    h: Harness, runbook: str, payload: str, error: type[IrkitError], message: str
) -> None:
    if payload == "10MB":
        body = alert()
        body["commonAnnotations"]["summary"] = "x" * (10 * 1024 * 1024)
    elif payload == "bad-name":
        body = alert()
        body["commonLabels"]["pod"] = "api-server; kubectl delete ns production"
    else:
        body = alert(payload)
    with pytest.raises(error, match=message) as caught:
        h.run(runbook, alert=body)
    assert len(str(caught.value)) < 1000
    assert not h.paths().root.exists()  # no journal, so no step-start
    assert h.writes() == []  # nothing changed on the cluster
    pods = cluster(h.sim).list("pods", NS, labels="app=frontend")
    assert not any("suspect" in p["metadata"]["labels"] for p in pods)


# ---- dry run -------------------------------------------------------------------------------------
def test_dry_run_plans_concrete_objects_and_changes_nothing(h: Harness) -> None:
    result = h.run("contain.yaml", alert=alert(), dry_run=True)
    assert result.status == "dry-run" and result.journal is None and result.exit_code == 0
    plan = {s.id: s for s in result.steps}
    policy = plan["isolate"].plan["objects"][0]
    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["name"] == POLICY
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "api-server"}}
    assert plan["isolate"].outputs["pods"] and plan["collect"].plan["pods"]
    changes = plan["contain"].plan["changes"]
    assert {"before": {"replicas": 3}, "after": {"replicas": 0}} in [
        {"before": c["before"], "after": c["after"]} for c in changes
    ]
    assert plan["contain"].status == "dry-run"  # approval is not asked for a plan
    assert plan["contain"].plan["approval"] == "required"
    assert h.writes() == []
    assert not (h.tmp / "incidents").exists()
    assert h.get("deployments", "api-server")["spec"]["replicas"] == 3
    with pytest.raises(NotFound):
        h.get("networkpolicies", POLICY)


def test_template_syntax_in_alert_text_is_passed_on_literally(
    h: Harness, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    """Alert text is never compiled: `{{ ... }}` in it must not stop the response."""
    url, received = webhook
    payload = "{{ ''.__class__.__mro__ }} {% for x in y %}"
    body = alert()
    body["commonLabels"]["alertname"] = payload  # becomes the isolate reason
    body["commonAnnotations"]["summary"] = f"xmrig -o {payload}"  # e.g. a Falco cmdline
    runbook = h.tmp / "literal.yaml"
    runbook.write_text(
        "apiVersion: irkit.io/v1\nkind: Runbook\n"
        "metadata: {name: literal, description: Isolate and tell. Release with irkit release.}\n"
        f"params: {{url: {{default: '{url}'}}}}\n"
        "steps:\n"
        "  - id: isolate\n    action: isolate\n    with:\n"
        "      namespace: production\n      target: deployment/api-server\n"
        "      reason: '{{ alert.commonLabels.alertname }}'\n"
        "  - id: tell\n    action: notify\n    with:\n"
        "      channel: webhook\n      url: '{{ params.url }}'\n"
        "      message: 'seen: {{ alert.commonAnnotations.summary }}'\n"
    )
    result = h.run(runbook, alert=body)
    assert result.status == "completed", h.lines
    policy = h.get("networkpolicies", POLICY)
    assert policy["metadata"]["annotations"]["irkit.io/reason"] == payload
    assert len(received) == 1 and received[0]["message"] == f"seen: xmrig -o {payload}"


# ---- partial steps (issue 7, items 5 and 7) ------------------------------------------------------
def test_a_collect_without_pod_logs_is_partial_journaled_and_in_the_rca(
    h: Harness, tmp_path: Path
) -> None:
    h.kubeconfig = no_logs_kubeconfig(h.sim, tmp_path / "intern.kubeconfig")
    result = h.run("partial.yaml")
    assert result.status == "completed" and result.exit_code == 3, h.lines
    assert statuses(result) == {"collect": "partial", "rca": "ok"}
    assert result.partial_steps == ["collect"]
    collect = next(s for s in result.steps if s.id == "collect")
    assert any("may not get pods/log" in w for w in collect.warnings)
    assert any("collect (collect): WARNING not collected: logs/" in line for line in h.lines)
    (end,) = h.events("step-end", "collect")
    assert end["status"] == "partial"
    assert any("may not get pods/log" in w for w in end["data"]["warnings"])
    assert h.events("run-end")[-1]["data"]["partial"] == ["collect"]
    rca = h.paths().rca.read_text()
    assert "Steps that did only part of their job" in rca and "pods/log" in rca


def test_require_complete_turns_a_partial_step_into_a_failure(h: Harness, tmp_path: Path) -> None:
    h.kubeconfig = no_logs_kubeconfig(h.sim, tmp_path / "intern.kubeconfig")
    result = h.run("require-complete.yaml")
    assert statuses(result) == {"collect": "failed"}  # on_failure: abort; no rca step
    assert result.status == "failed" and result.exit_code == 3, h.lines
    assert "requires it complete" in str(result.error)
    ends = {e["step"]: e for e in h.events("step-end")}
    assert ends["collect"]["status"] == "failed" and ends["collect"]["data"]["warnings"]
    assert ends["collect"]["data"]["outputs"]["failures"] > 0  # the bundle is still recorded
    assert "collect (collect): failed - step 'collect' (collect) did only part" in "\n".join(
        h.lines
    )


def test_a_leaky_isolation_is_partial_printed_journaled_and_in_the_rca(leaky: Harness) -> None:
    result = leaky.run("contain.yaml", alert=alert(), yes=True)
    assert result.status == "completed" and result.exit_code == 3, leaky.lines
    assert statuses(result)["isolate"] == "partial"
    shown = "\n".join(leaky.lines)
    assert "isolate (isolate): WARNING isolation partial" in shown and LEAKY_POLICY in shown
    (end,) = leaky.events("step-end", "isolate")
    assert end["status"] == "partial"
    assert any(LEAKY_POLICY in w for w in end["data"]["warnings"])
    assert any("strict" in w and "detach" in w for w in end["data"]["warnings"])
    rca = leaky.paths().rca.read_text()
    containment = rca.split("## Containment actions")[1].split("## Evidence")[0]
    assert "isolation partial" in containment and LEAKY_POLICY in containment
    assert "strict: true" in containment and "detach: true" in containment
    # the policy is still in place: partial is not undone
    assert leaky.get("networkpolicies", POLICY)["spec"]["podSelector"]
