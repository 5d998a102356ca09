"""A drill's reports: JSON for scripts and trends, Markdown for the after-action review.

Both are written to the report folder (default: the drill's incident folder); the JSON is also
kept in the incident folder, where the next drill of the same scenario and runbook finds it
(``trend``): "contain 1.20 s (was 1.90 s, 3 earlier drills)". Markdown quotes cluster and
alert text inside code spans with backticks removed, so a pod name cannot become a link.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irkit.drill.runner import DrillOutcome
from irkit.drill.score import Check, passed

JSON_NAME = "drill-report.json"
MD_NAME = "drill-report.md"
TRENDED = {"contain_time": "contain", "evidence_time": "evidence"}
MAX_EARLIER = 200
"""Earlier matching reports used for a trend (the newest first)."""


@dataclass(frozen=True)
class Trend:
    earlier: int  # earlier drills of the same runbook file in the same mode
    passed: int  # of those, how many passed
    last: dict[str, float]  # check name -> seconds, in the latest earlier drill
    now: dict[str, float]

    @property
    def line(self) -> str:
        if not self.earlier:
            return "trend: first drill of this runbook in this mode"
        parts = []
        for name, word in TRENDED.items():
            if name in self.now:
                was = f"was {self.last[name]:.2f} s" if name in self.last else "was not reached"
                parts.append(f"{word} {self.now[name]:.2f} s ({was})")
        drills = f"{self.earlier} earlier drill{'s' if self.earlier > 1 else ''}"
        return f"trend: {'; '.join(parts) or 'no timings'}; {drills}, {self.passed} passed"


def key(outcome: DrillOutcome) -> str:
    """What makes two drills comparable: the same runbook file (its resolved path's sha256,
    not its name: two repositories' ``compromised-pod.yaml`` differ) in the same mode (sim, live
    or tabletop: a tabletop's times hold the room's discussion)."""
    path = str(Path(outcome.runbook).resolve())
    mode = "tabletop" if outcome.facts.tabletop else outcome.mode
    return f"{hashlib.sha256(path.encode()).hexdigest()}:{mode}"


def trend(outcome: DrillOutcome, incidents_dir: Path) -> Trend:
    """Earlier drills with the same ``key`` (the newest ``MAX_EARLIER`` of them), from their
    JSON reports; a tabletop's times are never trended."""
    found: list[dict[str, Any]] = []
    wanted = key(outcome)
    reports = sorted(incidents_dir.glob(f"drill-*/{JSON_NAME}"), key=_mtime, reverse=True)
    for path in reports:
        if len(found) >= MAX_EARLIER:
            break
        data = _read(path)
        if data is None or data.get("drill_id") == outcome.drill_id:
            continue
        if data.get("trend_key") == wanted:
            found.append(data)
    last = _seconds(found[0].get("checks")) if found else {}
    now = {c.name: c.seconds for c in outcome.checks if c.seconds is not None}
    if outcome.facts.tabletop:
        last, now = {}, {}
    ok = sum(1 for d in found if d.get("passed") is True)
    return Trend(len(found), ok, last, {k: float(v) for k, v in now.items() if v is not None})


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 4 * 1024 * 1024:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _seconds(checks: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in checks if isinstance(checks, list) else []:
        if isinstance(c, dict) and isinstance(c.get("seconds"), int | float) and c.get("name"):
            out[str(c["name"])] = float(c["seconds"])
    return out


def report_data(outcome: DrillOutcome, the_trend: Trend) -> dict[str, Any]:
    data = outcome.to_json()
    data["passed"] = passed(outcome.checks)
    data["trend_key"] = key(outcome)
    data["trend"] = {
        "line": the_trend.line,
        "earlier": the_trend.earlier,
        "earlier_passed": the_trend.passed,
        "last": the_trend.last,
    }
    data["improvements"] = improvements(outcome.checks)
    return data


def improvements(checks: Sequence[Check]) -> list[str]:
    """The after-action items: one per failed check."""
    return [
        f"{c.name}: {c.detail or c.value} (expected {c.budget})"
        + (" [must pass]" if c.must_pass else "")
        for c in checks
        if c.status == "fail"
    ]


def write_reports(outcome: DrillOutcome, the_trend: Trend, folder: Path) -> tuple[Path, Path]:
    """``drill-report.json`` and ``drill-report.md`` in ``folder`` (and the JSON in the
    incident folder, for the next trend)."""
    data = report_data(outcome, the_trend)
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / JSON_NAME, folder / MD_NAME
    _write(json_path, text)
    _write(md_path, markdown(outcome, the_trend))
    incident = Path(outcome.incident_dir)
    if incident.resolve() != folder.resolve() and incident.is_dir():
        _write(incident / JSON_NAME, text)
    return json_path, md_path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def markdown(outcome: DrillOutcome, the_trend: Trend) -> str:
    ok = passed(outcome.checks)
    book = _code(Path(outcome.runbook).name)
    lines = [
        f"# Drill {outcome.drill_id}: {_code(outcome.scenario)} with {book}",
        "",
        "- Result: "
        + (
            "**PASSED** (every must-pass check passed)"
            if ok
            else "**FAILED** (a must-pass check failed)"
        ),
        f"- Mode: {outcome.mode}, namespace {_code(outcome.namespace)}",
        f"- Alert: {_code(outcome.alert)}, fired {outcome.started_at}",
        f"- Scenario: {_code(outcome.scenario_path)}",
        f"- Runbook: {_code(outcome.runbook)}",
        f"- Incident folder: {_code(outcome.incident_dir)}",
        f"- {the_trend.line}",
        "",
        "## Scorecard",
        "",
        "| check | result | measured | expected | must pass | detail |",
        "|---|---|---|---|---|---|",
    ]
    for c in outcome.checks:
        must = "yes" if c.must_pass else ""
        lines.append(
            f"| {c.name} | {c.status.upper()} | {_cell(c.value)} | {_cell(c.budget)} | {must} "
            f"| {_cell(c.detail)} |"
        )
    lines += [
        "",
        "## Steps",
        "",
        "| step | action | status | ended (s after alert) |",
        "|---|---|---|---|",
    ]
    for s in outcome.facts.steps:
        ended = "" if s.seconds is None else f"{s.seconds:.2f}"
        lines.append(f"| {_cell(s.id)} | {_cell(s.action)} | {_cell(s.status)} | {ended} |")
    if outcome.facts.injects:
        lines += ["", "## Injects", ""]
        for i in outcome.facts.injects:
            state = "delivered" if i.delivered else "NOT delivered"
            lines.append(f"- {_code(i.label)}: {state}" + (f": {_cell(i.note)}" if i.note else ""))
    if outcome.notifications:
        lines += ["", "## Notifications (recorded, not sent)", ""]
        lines += [f"- {_cell(n)}" for n in outcome.notifications]
    lines += _tabletop(outcome)
    items = improvements(outcome.checks)
    lines += ["", "## After-action: improvement items", ""]
    lines += [f"{n}. {_cell(item)}" for n, item in enumerate(items, 1)] or [
        "None: every check passed or was skipped."
    ]
    if outcome.notes:
        lines += ["", "## Notes", ""] + [f"- {_cell(n)}" for n in outcome.notes]
    return "\n".join(lines) + "\n"


def _tabletop(outcome: DrillOutcome) -> list[str]:
    if not (outcome.answers or outcome.facilitator or outcome.approvals):
        return []
    lines = ["", "## Tabletop", "", "What participants said they would do first:", ""]
    lines += [f"- {_cell(a)}" for a in outcome.answers] or ["- (no answer recorded)"]
    lines += ["", "Facilitator notes:", ""]
    lines += [
        f"- {_code(step) if step else '(general)'}: {_cell(note)}"
        for step, note in outcome.facilitator
    ] or ["- (none)"]
    if outcome.approvals:
        lines += ["", "Approvals:", ""]
        lines += [
            f"- {_code(s)}: {'approved' if ok else 'declined'}" for s, ok in outcome.approvals
        ]
    return lines


def _cell(text: object) -> str:
    """Text for a Markdown table cell or list item: one line, no pipes, no markup tricks."""
    flat = " ".join(str(text).split())
    for char in "|`<>[]":
        flat = flat.replace(char, f"\\{char}")
    return flat


def _code(text: object) -> str:
    return "`" + " ".join(str(text).replace("`", "'").split()) + "`"


__all__ = ["Trend", "improvements", "markdown", "report_data", "trend", "write_reports"]
