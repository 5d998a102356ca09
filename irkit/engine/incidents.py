"""Incidents read back from their store, for ``irkit incidents``: what each one is and did.

An incident's journal, kept by an ``IncidentStore`` (``irkit.incident.store``; the CLI's is
``FileStore``), holds the runs of ``irkit run`` and the one-step runs of the commands run by
hand for it (``irkit.incident.commands``); its folder ``<incidents>/<id>/`` holds artefacts.
It is read tolerantly (``irkit.incident.reader``): a torn or tampered line is skipped, never
fatal. Status (of the runbook runs), in order:

    running        another process holds the incident's run lock now
    interrupted    the last run-start has no run-end (the process died): resume it
    completed, failed, stopped (awaiting approval)   the last run-end's status
    commands only  no run, only commands run by hand
    empty          nothing journaled
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from irkit.errors import NotFound
from irkit.incident.commands import split_runs
from irkit.incident.paths import IncidentPaths
from irkit.incident.store import IncidentStore
from irkit.model.journal import RUN_END, RUN_START, STEP_END, CommandRecord, RunEvent
from irkit.redact import REDACTED
from irkit.render.rca_alert import text

OK = frozenset({"ok", "unchanged"})


@dataclass(frozen=True)
class StepLine:
    id: str
    action: str
    status: str
    time: str
    note: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CommandLine:
    time: str
    command: str
    target: str
    result: str
    error: str = ""


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    folder: str
    status: str
    started: str = ""
    last_event: str = ""
    runbook: str = ""
    ok: int = 0  # steps ok or unchanged (their last step-end)
    partial: int = 0
    failed: int = 0
    steps: list[StepLine] = field(default_factory=list)
    commands: list[CommandLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # journal lines skipped
    secret_params: list[str] = field(default_factory=list)  # a resume must be given these again

    def to_json(self, *, detail: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not detail:
            for key in ("steps", "commands", "notes"):
                data.pop(key)
        return data


def list_incidents(store: IncidentStore, base: Path) -> list[IncidentSummary]:
    """Every incident of ``store``, latest activity first; ``base``: the folder holding their
    folders (artefacts)."""
    found = [summarize(store, base, incident) for incident in store.incidents()]
    return sorted(found, key=lambda s: (s.last_event, s.id), reverse=True)


def show(store: IncidentStore, base: Path, incident: str) -> IncidentSummary:
    paths = IncidentPaths.of(incident, base)
    if not paths.root.is_dir() and incident not in store.incidents():
        raise NotFound(
            f"no incident {incident} in {base}",
            hint="irkit incidents lists them; --incidents-dir or IRKIT_HOME point elsewhere",
        )
    return summarize(store, base, incident)


def summarize(store: IncidentStore, base: Path, incident: str) -> IncidentSummary:
    paths = IncidentPaths.of(incident, base)
    notes: list[str] = []
    events, entries = split_runs(store.read(incident, notes), incident)
    starts = [e for e in events if e.event == RUN_START]
    steps = _steps(events)
    times = sorted(t for t in [*(e.time for e in events), *(e.time for e in entries)] if t)
    runbook = starts[-1].data.get("runbook") if starts else None
    return IncidentSummary(
        id=paths.incident,
        folder=str(paths.root),
        status=_status(store.running(incident), events, entries),
        started=starts[0].time if starts else (times[0] if times else ""),
        last_event=times[-1] if times else "",
        runbook=text(runbook.get("name")) if isinstance(runbook, dict) else "",
        ok=sum(s.status in OK for s in steps),
        partial=sum(s.status == "partial" for s in steps),
        failed=sum(s.status == "failed" for s in steps),
        steps=steps,
        commands=[_command(e) for e in entries],
        notes=notes,
        secret_params=_secrets(starts),
    )


def _secrets(starts: list[RunEvent]) -> list[str]:
    """The params the first run-start journaled as <redacted> (what ``--resume`` asks for)."""
    params = starts[0].data.get("params") if starts else None
    if not isinstance(params, dict):
        return []
    return sorted(str(k)[:100] for k, v in params.items() if v == REDACTED)


def _status(running: bool, events: list[RunEvent], entries: list[CommandRecord]) -> str:
    if running:
        return "running"
    last_start = max((i for i, e in enumerate(events) if e.event == RUN_START), default=-1)
    last_end = max((i for i, e in enumerate(events) if e.event == RUN_END), default=-1)
    if last_start > last_end:
        return "interrupted"
    if last_end >= 0:
        return text(events[last_end].status, 100) or "ended"
    return "commands only" if entries else "empty"


def _steps(events: list[RunEvent]) -> list[StepLine]:
    """Each step's last step-end, in the order the steps first ended."""
    last: dict[str, StepLine] = {}
    for e in events:
        if e.event != STEP_END or not e.step:
            continue
        raw = e.data.get("warnings")
        warnings = (
            [text(w, 500) for w in raw if isinstance(w, str)] if isinstance(raw, list) else []
        )
        last[e.step] = StepLine(
            id=e.step,
            action=e.action,
            status=e.status,
            time=e.time,
            note=text(e.data.get("note"), 300),
            error=text(e.error, 300),
            warnings=warnings,
        )
    return list(last.values())


def _command(e: CommandRecord) -> CommandLine:
    return CommandLine(e.time, e.command, text(e.target, 300), e.result, text(e.error, 300))
