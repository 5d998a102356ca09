"""``irkit drill`` end to end on the simulator: the scorecard, its exit code, reports, trend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import invoke

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIO = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"
RUNBOOK = ROOT / "runbooks" / "compromised-pod.yaml"


def drill(*args: str) -> tuple[int, dict[str, Any], str]:
    result = invoke("drill", *args, "-o", "json")
    start = result.stdout.find("{\n")
    data = json.loads(result.stdout[start:]) if start >= 0 else {}
    return result.exit_code, data, result.output


def statuses(data: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in data["checks"]}


def failed(data: dict[str, Any]) -> set[str]:
    return {name for name, status in statuses(data).items() if status == "fail"}


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = RUNBOOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "runbooks" / "compromised-pod.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_the_compromised_pod_drill_passes_every_check(irkit_home: Path) -> None:
    code, data, output = drill("--scenario", str(SCENARIO))
    assert code == 0, output
    assert set(statuses(data).values()) == {"pass"}, data["checks"]
    assert data["passed"] is True and data["mode"] == "sim"
    assert data["facts"]["compromised"] and data["improvements"] == []
    assert "logs/api-server-c7cpph9p5s-d4jql/api.previous.log" in data["facts"]["evidence"]
    folder = Path(data["incident_dir"])
    assert folder.parent == irkit_home / "incidents" and folder.name == data["drill_id"]
    assert (folder / "drill-report.md").is_file() and (folder / "drill-report.json").is_file()
    journal = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    commands = [e["data"]["command"] for e in journal if e["data"].get("kind") == "command"]
    assert commands == ["restore", "release", "release"]  # the undo, journaled like the CLI's
    assert "inject throttle@collect" in output  # the scenario's inject arrived


def test_the_scorecard_table_trend_and_markdown(irkit_home: Path) -> None:
    first = invoke("drill", "--scenario", str(SCENARIO))
    assert first.exit_code == 0, first.output
    assert "trend: first drill of this runbook in this mode" in first.stdout
    for name in ("route", "contain_time", "evidence", "contained", "undo", "duplicates"):
        assert name in first.stdout
    assert "drill PASSED" in first.stdout
    second = invoke("drill", "--scenario", str(SCENARIO), "--report", str(irkit_home / "out"))
    assert second.exit_code == 0, second.output
    assert "1 earlier drill, 1 passed" in second.stdout
    assert "contain " in second.stdout and "(was " in second.stdout
    md = (irkit_home / "out" / "drill-report.md").read_text()
    assert "**PASSED**" in md and "| contained | PASS |" in md and "1 earlier drill" in md
    assert "None: every check passed" in md
    # the same file name elsewhere is another runbook: its drills do not join this trend
    other = irkit_home / "fork" / RUNBOOK.name
    other.parent.mkdir()
    other.write_text(RUNBOOK.read_text(encoding="utf-8"), encoding="utf-8")
    third = invoke("drill", str(other), "--scenario", str(SCENARIO))
    assert third.exit_code == 0, third.output
    assert "trend: first drill of this runbook in this mode" in third.stdout


def test_collect_missing_the_miners_logs_fails_exactly_evidence(tmp_path: Path) -> None:
    runbook = broken(
        tmp_path,
        '      target: "{{ params.workload }}"\n      s3: "{{ params.s3 }}"',
        '      target: deployment/frontend\n      s3: "{{ params.s3 }}"',
    )
    code, data, output = drill(str(runbook), "--scenario", str(SCENARIO))
    assert code == 1, output
    assert failed(data) == {"evidence"}
    evidence = next(c for c in data["checks"] if c["name"] == "evidence")
    assert "logs/*api*previous* ~ /xmrig/" in evidence["detail"]
    assert data["improvements"] and data["improvements"][0].startswith("evidence: missing")


def test_without_the_pod_quarantine_isolation_stays_partial_and_contain_time_fails(
    tmp_path: Path,
) -> None:
    runbook = broken(tmp_path, "    when: params.pod\n", "    when: 'false'\n")
    code, data, output = drill(str(runbook), "--scenario", str(SCENARIO))
    assert code == 1, output
    assert failed(data) == {"contain_time"}
    contain = next(c for c in data["checks"] if c["name"] == "contain_time")
    assert contain["detail"] == "no isolate step ended ok (isolate partial, quarantine_pod skipped)"


def test_a_second_compromised_pod_stays_reachable(irkit_home: Path) -> None:
    code, data, output = drill("--scenario", str(SCENARIO), "--inject", "second-pod@collect")
    assert code == 1, output
    assert failed(data) == {"contained"}
    contained = next(c for c in data["checks"] if c["name"] == "contained")
    assert "-drill2" in contained["detail"] and "allow-frontend-to-api" in contained["detail"]
    injects = next(c for c in data["checks"] if c["name"] == "injects")
    assert injects["status"] == "pass" and injects["value"] == "2/2 delivered"


def test_an_s3_denial_aborts_the_response_before_containment(irkit_home: Path) -> None:
    code, data, output = drill("--scenario", str(SCENARIO), "--inject", "s3-denied@collect")
    assert code == 1, output
    assert "inject s3-denied@collect: collect's S3 store now answers AccessDenied" in output
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["steps"]["detail"].startswith("the run failed: s3://drill-evidence/")
    assert "AccessDenied" in checks["steps"]["detail"]
    assert checks["injects"]["detail"] == "the run failed; failed: collect"
    # the bundle was sealed locally before the upload: its evidence is complete
    assert checks["evidence_time"]["status"] == "pass" and checks["evidence"]["status"] == "pass"
    assert {"contain_time", "contained", "scaled"} <= failed(data)
    assert checks["undo"]["status"] == "pass"


def test_a_fault_from_the_scenario_arrives_at_its_step(tmp_path: Path) -> None:
    text = SCENARIO.read_text(encoding="utf-8").replace(
        "    - {before: collect, kind: throttle}",
        "    - {before: isolate, kind: fault, fault: {resource: networkpolicies, method: POST,"
        " status: 503, count: 1}}",
    )
    scenario = tmp_path / "faulty.yaml"
    scenario.write_text(text.replace("../../runbooks/", str(ROOT / "runbooks") + "/"))
    runbook = str(ROOT / "runbooks" / "compromised-pod.yaml")  # outside tmp_path: named
    code, data, output = drill(runbook, "--scenario", str(scenario))
    assert code == 0, output  # the adapter retried the 503: the run survived it
    injects = next(c for c in data["checks"] if c["name"] == "injects")
    assert (injects["status"], injects["detail"]) == ("pass", "fault@isolate")
    assert "inject fault@isolate: fault rule added" in output


def test_an_alert_that_does_not_route_fails_the_route_check(tmp_path: Path) -> None:
    runbook = broken(tmp_path, "alertname: PodCompromised", "alertname: SomethingElse")
    code, data, output = drill(str(runbook), "--scenario", str(SCENARIO))
    assert code == 1, output
    route = next(c for c in data["checks"] if c["name"] == "route")
    assert route["status"] == "fail"
    assert route["detail"] == "its match.alertmanager does not match the alert PodCompromised"


def test_a_bad_scenario_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = SCENARIO.read_text(encoding="utf-8").replace("kind: throttle", "kind: throttel")
    bad.write_text(text.replace("../../runbooks/", str(ROOT / "runbooks") + "/"))
    result = invoke("drill", "--scenario", str(bad))
    assert result.exit_code == 2, result.output
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "throttel" in ln)
    assert f"{bad}:{line}:" in result.output and "injects.0.kind" in result.output
    no_drill = tmp_path / "plain.yaml"
    no_drill.write_text("apiVersion: irkit.io/v1\nkind: Scenario\nmetadata: {name: plain}\n")
    result = invoke("drill", "--scenario", str(no_drill))
    assert result.exit_code == 2 and "no 'drill:' section" in result.output
    result = invoke("drill", "--scenario", str(SCENARIO), "--inject", "throttle@nope")
    assert result.exit_code == 2 and "the runbook has no step 'nope'" in result.output
    assert invoke("drill").exit_code == 2


def test_compromised_pods_that_never_existed_fail_contained(tmp_path: Path) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    assert "    selector: app=api-server\n" in text
    scenario = tmp_path / "ghost.yaml"
    scenario.write_text(
        text.replace("    selector: app=api-server\n", "    pods: [api-server-ghost]\n").replace(
            "../../runbooks/", str(ROOT / "runbooks") + "/"
        )
    )
    code, data, output = drill(str(RUNBOOK), "--scenario", str(scenario))
    assert code == 1, output
    contained = next(c for c in data["checks"] if c["name"] == "contained")
    assert contained["status"] == "fail"
    assert contained["detail"] == (
        "pod api-server-ghost was not found when the alert fired: nothing to contain"
    )


def test_markup_and_escapes_in_the_alert_are_printed_as_text(tmp_path: Path) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    evil = 'alertname: "Evil[/] [bold]x\\e]0;pwned\\a"'
    scenario = tmp_path / "markup.yaml"
    scenario.write_text(
        text.replace("            alertname: PodCompromised", f"            {evil}").replace(
            "../../runbooks/", str(ROOT / "runbooks") + "/"
        )
    )
    result = invoke("drill", str(RUNBOOK), "--scenario", str(scenario))
    assert result.exit_code == 1, result.output  # it does not route: a failed check, no crash
    assert "Traceback" not in result.output and "MarkupError" not in result.output
    assert "not match the alert Evil[/]" in result.output  # the route check's cell, folded
    assert "[bold]x?]0;pwned?" in result.output
    assert "\x1b" not in result.output


def test_a_simulator_drill_records_notifications_instead_of_sending_them(tmp_path: Path) -> None:
    import http.server
    import threading

    received: list[str] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.path)
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook-secret-path"
        text = SCENARIO.read_text(encoding="utf-8")
        params = "  params: {namespace: production, workload: deployment/api-server}"
        assert params in text
        scenario = tmp_path / "hook.yaml"
        scenario.write_text(
            text.replace(params, params[:-1] + f', slack_webhook: "{url}"}}').replace(
                "../../runbooks/", str(ROOT / "runbooks") + "/"
            )
        )
        code, data, output = drill(str(RUNBOOK), "--scenario", str(scenario))
        assert code == 0, output
        assert received == []
        assert data["notifications"] == [
            "slack to 127.0.0.1: Incident " + data["drill_id"] + ": compromised pod"
        ]
        assert "hook-secret-path" not in json.dumps(data["notifications"])
        code, data, output = drill(str(RUNBOOK), "--scenario", str(scenario), "--notify-for-real")
        assert received == ["/hook-secret-path"] and data["notifications"] == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_cluster_read_failing_after_the_start_fails_a_check_not_the_command(
    tmp_path: Path,
) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    assert "  faults: []\n" in text
    scenario = tmp_path / "forbidden.yaml"
    scenario.write_text(
        text.replace(
            "  faults: []\n",
            '  faults: [{resource: deployments, method: GET, status: 403, message: "no"}]\n',
        ).replace("../../runbooks/", str(ROOT / "runbooks") + "/")
    )
    code, data, output = drill(str(RUNBOOK), "--scenario", str(scenario))
    assert code == 1, output  # not 5 (Forbidden): the drill ran and says what it could not read
    steps = next(c for c in data["checks"] if c["name"] == "steps")
    assert steps["status"] == "fail"
    assert steps["detail"].startswith(
        "the drill could not read the cluster: cannot read the workloads"
    )
