"""What an RCA draft says, as plain frozen dataclasses: the template's input, ``-o json``'s output.

Every string here may come from an alert or the cluster, i.e. from an attacker: the values are
kept as recorded (clipped in length) and escaped only when rendered, by the template's filters.
``RcaData.from_json(data.to_json())`` gives back an equal value, so machines can read it too.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

FORMAT = "irkit-rca/v1"


@dataclass(frozen=True)
class Field:
    name: str
    value: str


@dataclass(frozen=True)
class Detection:
    """The alert that started the run: ``source`` is alertmanager, falco, other or none."""

    source: str = "none"
    name: str = ""  # alertname or Falco rule
    severity: str = ""  # severity label or Falco priority
    status: str = ""  # firing / resolved (Alertmanager)
    fired_at: str = ""
    summary: str = ""  # summary/description annotation or Falco output
    fields: tuple[Field, ...] = ()  # every label, annotation, Falco field, in order


@dataclass(frozen=True)
class TimelineRow:
    time: str  # as recorded (RFC 3339, UTC)
    event: str  # run-start, step-start, step-end, run-end, or "command"
    step: str = ""
    action: str = ""
    status: str = ""
    detail: str = ""
    source: str = "run"  # run (incidents/<id>/journal.jsonl) or command (the command journal)


@dataclass(frozen=True)
class Affected:
    time: str
    via: str  # the step id, or "irkit <command>"
    change: str  # create, patch, delete, unchanged
    kind: str
    namespace: str
    name: str
    summary: str  # before -> after, in short


@dataclass(frozen=True)
class Containment:
    time: str
    via: str
    action: str  # isolate, scale, cordon, label, annotate; or release, restore, uncordon
    target: str
    status: str
    undo: str  # the command that undoes it ("" for the actions that lift containment)
    lifts: bool = False  # release, restore, uncordon: containment taken back
    warnings: tuple[str, ...] = ()  # what it could not do, e.g. "isolation partial: ..."


@dataclass(frozen=True)
class EvidenceFile:
    path: str
    size: int
    sha256: str
    source: str


@dataclass(frozen=True)
class EvidenceFailure:
    artifact: str
    source: str
    reason: str


@dataclass(frozen=True)
class EvidenceBundle:
    name: str
    via: str = ""  # the collect step id or command, "" when only found on disk
    folder: str = ""
    tarball: str = ""
    tarball_sha256: str = ""
    uris: tuple[str, ...] = ()
    status: str = ""  # complete / partial, from custody.json or the collect outputs
    created_at: str = ""
    collected_by: str = ""
    manifest_sha256: str = ""
    files: tuple[EvidenceFile, ...] = ()
    failures: tuple[EvidenceFailure, ...] = ()
    problems: tuple[str, ...] = ()  # what could not be read or does not add up


@dataclass(frozen=True)
class StepFailure:
    time: str
    step: str
    action: str
    error: str


@dataclass(frozen=True)
class StepWarning:
    """A step (or command) that did only part of its job, and what it could not do."""

    time: str
    step: str  # the step id, or "irkit <command>"
    action: str
    status: str  # partial, or failed (require: complete)
    warning: str


@dataclass(frozen=True)
class RcaData:
    incident: str
    generated_at: str
    runbook: str = ""
    runbook_path: str = ""
    runbook_sha256: str = ""
    severity: str = ""
    status: str = ""  # completed, failed, stopped, in progress, commands only
    started_at: str = ""
    ended_at: str = ""
    actor: str = ""
    dry_run: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    detection: Detection = Detection()
    timeline: tuple[TimelineRow, ...] = ()
    affected: tuple[Affected, ...] = ()
    containment: tuple[Containment, ...] = ()
    evidence: tuple[EvidenceBundle, ...] = ()
    failures: tuple[StepFailure, ...] = ()
    warnings: tuple[StepWarning, ...] = ()
    notes: tuple[str, ...] = ()  # journal lines that could not be read, and the like

    @property
    def undo_in_order(self) -> tuple[str, ...]:
        """Undo commands, latest containment first, each once."""
        seen: dict[str, None] = {}
        for c in reversed(self.containment):
            if c.undo and not c.lifts:
                seen.setdefault(c.undo)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = _lists(dataclasses.asdict(self))
        return {"format": FORMAT, **body}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RcaData:
        body = {k: v for k, v in data.items() if k != "format"}
        value: RcaData = _decode(cls, body)
        return value


def _lists(value: Any) -> Any:
    """Tuples as lists, as JSON has them (so ``to_json`` equals its own JSON round trip)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def _decode(tp: Any, value: Any) -> Any:
    """JSON back into the dataclasses above (only the shapes they use)."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in names})
    origin = typing.get_origin(tp)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return tuple(_decode(item, v) for v in value)
    return value
