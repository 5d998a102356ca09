"""The RCA draft: an incident's journal and evidence in (as data), a Markdown document out.

    data = build_rca("inc-42", runs, commands, evidence=load)  # events of the runbook runs,
    text = render_markdown(data)                              # one record per command run
    text = render_markdown(data, source, "ours.md.j2")        # a template of one's own

No file is read or written here: ``irkit.engine.rca`` reads the incident's journal and its
evidence bundles (``evidence`` is handed the bundles the journal recorded, and returns what it
found on them) and writes ``rca.md``. Templates see one variable, ``rca`` (an ``RcaData``),
and the filters of ``irkit.render.markdown``; they run in Jinja2's immutable sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from irkit.actions.spec import ActionSpec
from irkit.model.journal import (
    RUN_END,
    RUN_START,
    STEP_CHANGE,
    STEP_END,
    STEP_START,
    Change,
    CommandRecord,
    RunEvent,
)
from irkit.redact import journaled_params
from irkit.render import markdown
from irkit.render.rca_actions import (
    bundles,
    containment,
    entry_target,
    step_target,
    summarize,
    undo,
)
from irkit.render.rca_alert import detection, text
from irkit.render.rca_data import (
    Affected,
    Containment,
    EvidenceBundle,
    RcaData,
    StepFailure,
    StepWarning,
    TimelineRow,
)

__all__ = ["RcaData", "build_rca", "render_markdown"]

DEFAULT_TEMPLATE = "templates/rca.md.j2"
MAX_DETAIL = 300
NOTHING_DONE = frozenset({"skipped", "awaiting-approval", "dry-run"})
Clock = Callable[[], datetime]
_Key = tuple[datetime, int]
Recorded = Iterable[tuple[str, dict[str, Any]]]
"""(step id or ``irkit <command>``, the collect's outputs) of each bundle the journal records."""
EvidenceLoader = Callable[[Recorded], tuple[EvidenceBundle, ...]]


def build_rca(
    incident: str,
    events: Sequence[RunEvent],
    entries: Sequence[CommandRecord] = (),
    *,
    evidence: EvidenceLoader = lambda recorded: (),
    notes: Sequence[str] = (),
    clock: Clock = lambda: datetime.now(UTC),
    status: str | None = None,
) -> RcaData:
    """``events``: the runbook runs' events; ``entries``: the commands run by hand (see
    ``irkit.incident.commands.split_runs``); ``notes``: what reading them skipped.
    ``status``: what the run says of itself when its own ``rca`` step writes the draft
    (before its run-end is journaled); None reads it from the journal."""
    builder = _Builder(incident)
    for event in events:
        builder.run_event(event)
    for entry in entries:
        builder.command(entry)
    starts = [e for e in events if e.event == RUN_START]
    ends = [e for e in events if e.event == RUN_END]
    first = starts[0].data if starts else {}
    runbook = _dict(first.get("runbook"))
    found = detection(first.get("alert"))
    times = [r.time for r in builder.timeline()]
    actors = [text(e.data.get("actor")) for e in starts] + [e.actor for e in entries]
    generated_at = clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ended_at = ends[-1].time if ends else (times[-1] if times and not starts else "")
    if status is not None:  # written from inside the run: earlier run-ends are not its end
        ended_at = generated_at if status == "completed" else ""
    return RcaData(
        incident=incident,
        generated_at=generated_at,
        runbook=text(runbook.get("name"), 200),
        runbook_path=text(runbook.get("path"), 500),
        runbook_sha256=text(runbook.get("sha256"), 100),
        severity=text(first.get("severity") or runbook.get("severity"), 100) or found.severity,
        status=text(status, 200) if status is not None else _status(events, ends, entries),
        started_at=starts[0].time if starts else (times[0] if times else ""),
        ended_at=ended_at,
        actor=", ".join(dict.fromkeys(a for a in actors if a)),
        dry_run=first.get("dry_run") is True,
        params=journaled_params(_dict(first.get("params"))),  # older journals: secrets too
        detection=found,
        timeline=builder.timeline(),
        affected=builder.sorted(builder.affected),
        containment=builder.sorted(builder.containment),
        evidence=evidence(builder.collected),
        failures=tuple(builder.failures),
        warnings=tuple(builder.warnings),
        notes=tuple(notes),
    )


def render_markdown(data: RcaData, template: str | None = None, name: str | Path = "") -> str:
    """``template``: the source of one's own template (``name`` says where it came from in
    error messages); None: irkit's."""
    if template is None:
        source = resources.files("irkit.render").joinpath(DEFAULT_TEMPLATE).read_text("utf-8")
        return markdown.render(source, f"irkit/render/{DEFAULT_TEMPLATE}", rca=data)
    return markdown.render(template, name or "template", rca=data)


def _status(
    events: Sequence[RunEvent], ends: list[RunEvent], entries: Sequence[CommandRecord]
) -> str:
    if ends:
        return text(ends[-1].status or ends[-1].data.get("status"), 100) or "ended"
    if events:
        return "in progress (no run-end recorded)"
    return "commands only" if entries else "empty"


class _Builder:
    """Walks the events and entries once, collecting rows for each section."""

    def __init__(self, incident: str) -> None:
        self.incident = incident
        self.rows: list[tuple[Any, int, TimelineRow]] = []
        self.affected: list[tuple[Any, int, Affected]] = []
        self.containment: list[tuple[Any, int, Containment]] = []
        self.collected: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[StepFailure] = []
        self.warnings: list[StepWarning] = []
        self._with: dict[str, dict[str, Any]] = {}
        self._journaled: set[str] = set()  # steps whose changes came as step-change events
        self._last = datetime.min.replace(tzinfo=UTC)
        self._seq = 0

    def _key(self, time: str) -> _Key:
        moment = markdown.parse_time(time)
        self._last = moment or self._last  # an unreadable time keeps its place
        self._seq += 1
        return self._last, self._seq

    def run_event(self, e: RunEvent) -> None:
        key = self._key(e.time)
        status = e.status or text(e.data.get("status"), 100)
        if e.event == STEP_START:
            with_ = e.data.get("with")
            self._with[e.step] = with_ if isinstance(with_, dict) else {}
            self._journaled.discard(e.step)
        detail = self._detail(e)
        self.rows.append((*key, TimelineRow(e.time, e.event, e.step, e.action, status, detail)))
        if e.event == STEP_CHANGE:
            # Written as it happened: counts even if the attempt never reached step-end.
            self._journaled.add(e.step)
            self._changes(key, e.time, e.step, e.changes)
            return
        if e.event != STEP_END:
            return
        if status == "failed":
            self.failures.append(StepFailure(e.time, e.step, e.action, text(e.error, 1000)))
        warnings = _warnings(e.data)
        for w in warnings:
            self.warnings.append(StepWarning(e.time, e.step, e.action, status, w))
        if e.step not in self._journaled:  # journals from before step-change events existed
            self._changes(key, e.time, e.step, e.changes)
        self._journaled.discard(e.step)
        if status in NOTHING_DONE:
            return
        if (spec := containment(e.action)) is not None:
            target = step_target(self._with.get(e.step, {}))
            self._contain(key, e.time, e.step, spec, target, status, e.changes, warnings)
        if bundles(e.action):
            self.collected.append((e.step, _outputs(e.data)))

    def command(self, e: CommandRecord) -> None:
        key = self._key(e.time)
        via = f"irkit {e.command}"
        detail = "; ".join(p for p in (e.target, e.error) if p)
        row = TimelineRow(e.time, "command", "", e.command, e.result, _clip(detail), "command")
        self.rows.append((*key, row))
        self._changes(key, e.time, via, e.changes)
        warnings = _warnings(e.outputs)
        for w in warnings:
            self.warnings.append(StepWarning(e.time, via, e.command, e.result, w))
        if (spec := containment(e.command)) is not None:
            target = entry_target(e.target)
            self._contain(key, e.time, via, spec, target, e.result, e.changes, warnings)
        if bundles(e.command) and e.outputs:
            self.collected.append((via, e.outputs))

    def _changes(self, key: _Key, time: str, via: str, changes: list[Change]) -> None:
        for c in changes:
            row = Affected(time, via, c.action, c.kind, c.namespace, c.name, _clip(summarize(c)))
            self.affected.append((*key, row))

    def _contain(
        self,
        key: _Key,
        time: str,
        via: str,
        spec: ActionSpec,
        target: list[str],
        status: str,
        changes: list[Change],
        warnings: tuple[str, ...] = (),
    ) -> None:
        command = undo(spec, target, changes, self.incident)
        shown = " ".join(target)
        row = Containment(time, via, spec.name, shown, status, command, spec.lifts, warnings)
        self.containment.append((*key, row))

    def _detail(self, e: RunEvent) -> str:
        data = e.data
        match e.event:
            case "run-start":
                parts = [
                    f"runbook {text(_dict(data.get('runbook')).get('name'))}",
                    f"actor {text(data.get('actor'))}" if data.get("actor") else "",
                    "dry run" if data.get("dry_run") is True else "",
                ]
            case "step-start":
                parts = [
                    f"attempt {text(data.get('attempt'))}" if data.get("attempt") else "",
                    _approval(data),
                    f"with {text(data.get('with'))}" if data.get("with") else "",
                ]
            case "step-end":
                outputs = _outputs(data)
                parts = [
                    text(e.error, MAX_DETAIL) if e.error else "",
                    _approval(data),
                    f"{len(e.changes)} change(s)" if e.changes else "",
                    f"{len(_warnings(data))} warning(s)" if _warnings(data) else "",
                    f"outputs {text(outputs)}" if outputs and not e.error else "",
                ]
            case "step-change":
                parts = [
                    f"{c.action} {c.kind} {c.namespace + '/' if c.namespace else ''}{c.name}"
                    for c in e.changes
                ]
            case _:
                parts = [text(e.error) if e.error else "", text(data.get("reason"))]
        return _clip("; ".join(p for p in parts if p))

    def timeline(self) -> tuple[TimelineRow, ...]:
        return self.sorted(self.rows)

    @staticmethod
    def sorted(rows: list[tuple[Any, int, Any]]) -> tuple[Any, ...]:
        return tuple(row for *_, row in sorted(rows, key=lambda r: (r[0], r[1])))


def _approval(data: dict[str, Any]) -> str:
    """The engine records approvals as ``{"by": actor, "how": "--yes" | "prompt"}``."""
    approval = data.get("approval")
    if not isinstance(approval, dict):
        return ""
    who, how = approval.get("by"), approval.get("how")
    return "approved" + (f" by {text(who)}" if who else "") + (f" ({text(how)})" if how else "")


def _warnings(data: dict[str, Any]) -> tuple[str, ...]:
    """``data["warnings"]`` of a step-end (or a command's outputs): the strings only, clipped."""
    raw = data.get("warnings")
    if not isinstance(raw, list):
        return ()
    return tuple(text(w, 1000) for w in raw[:50] if isinstance(w, str))


def _clip(value: str) -> str:
    return text(value, MAX_DETAIL)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _outputs(data: dict[str, Any]) -> dict[str, Any]:
    """A step-end's outputs, as the engine writes them: ``data["outputs"]``."""
    outputs = data.get("outputs")
    return dict(outputs) if isinstance(outputs, dict) else {}
