"""What an action is to a runbook, the engine and the RCA: one ``ActionSpec`` per action.

Each action's spec (``irkit.actions.specs.<name>``) says everything the rest of irkit knows
about it: its ``with:`` model, its outputs, whether it changes the cluster (and whether that
is destructive), the API permissions it needs, the runner that turns a step into a call of the
action code the CLI commands use, and the command that undoes it. ``irkit.actions.registry``
collects them; the runbook loader, schema, lint and permission analysis, the engine and the
RCA read them from there.

A runner gets a ``StepCall`` and returns a ``StepOutcome`` (status, outputs as declared in the
spec, plan). ``StepCall.changes`` is the list the action fills as it works, so the journal
records what a step did even when it fails half-way. With ``dry_run`` the mutating actions send
every write as a server-side dryRun, and the ``plan`` holds the objects they would create or
change; nothing else is written, sent or waited for.

The runbook's step and the engine's adapters are seen through protocols (``StepInfo``,
``RunbookInfo``, ``Ports``): actions sit below the runbook format and the engine, which both
read the specs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from irkit.actions.inputs import Input
from irkit.actions.needs import Need
from irkit.audit.source import AuditScope, AuditSource
from irkit.cluster.port import Cluster
from irkit.evidence.store import EvidenceStore
from irkit.incident.paths import IncidentPaths
from irkit.incident.store import IncidentStore
from irkit.model.journal import Change
from irkit.model.target import Target
from irkit.notify.port import Notifier


class StepInfo(Protocol):
    """The step being run (``irkit.runbook.model.Step``), as far as an action needs it."""

    @property
    def id(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def timeout(self) -> float: ...


class MetadataInfo(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def severity(self) -> str: ...


class RunbookInfo(Protocol):
    """The runbook of the step (``irkit.runbook.model.Runbook``): who it is."""

    @property
    def metadata(self) -> MetadataInfo: ...


class RcaWriter(Protocol):
    """Writes the incident's RCA draft; returns where (``irkit.engine.rca.write_rca``)."""

    def __call__(
        self,
        paths: IncidentPaths,
        *,
        store: IncidentStore | None = None,
        template: Path | None = None,
        out: Path | None = None,
        status: str | None = None,
    ) -> Path: ...


class Ports(Protocol):
    """What a runner is given to reach the world (``irkit.engine.ports.Adapters``)."""

    @property
    def cluster(self) -> Cluster: ...
    @property
    def stores(self) -> Callable[[Any], Sequence[EvidenceStore]]: ...
    @property
    def audit(
        self,
    ) -> Callable[[Any, datetime], tuple[Sequence[AuditSource], AuditScope | None]]: ...
    @property
    def notifiers(self) -> Callable[[Any], Notifier]: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def sleep(self) -> Callable[[float], None]: ...
    @property
    def rca(self) -> RcaWriter: ...
    @property
    def store(self) -> IncidentStore | None: ...


@dataclass(frozen=True)
class StepCall:
    step: StepInfo
    inputs: Any  # the action's ``ActionSpec.inputs`` model, validated
    target: Target | None
    runbook: RunbookInfo
    incident: str
    paths: IncidentPaths
    actor: str
    command: str
    adapters: Ports
    runbook_dir: Path = Path()  # relative template paths start here
    dry_run: bool = False
    started: datetime | None = None  # when an interrupted attempt of this step began (resume)
    changes: list[Change] = field(default_factory=list)
    run_status: str = ""  # what the run is as this step runs (the rca step's Status line)

    @property
    def tgt(self) -> Target:
        assert self.target is not None
        return self.target


@dataclass(frozen=True)
class StepOutcome:
    status: str  # ok, unchanged, partial, dry-run
    outputs: dict[str, Any]
    note: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # printed, journaled, in the RCA


Runner = Callable[[StepCall], StepOutcome]
Undo = Callable[[list[str], list[Change], str], str]
"""(target as command arguments, the changes made, incident) -> the command that undoes them."""
Check = Callable[[StepInfo, Any, Target | None], None]
"""Checks of a prepared step beyond its inputs model (raise ``IrkitError``)."""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    """The ``action:`` of a step (``irkit.runbook.model.Action``)."""
    inputs: type[Input]
    """Its ``with:``, typed after rendering."""
    outputs: frozenset[str]
    """What later steps read as ``steps.<id>.outputs.<name>``."""
    needs: tuple[Need, ...]
    """The API permissions it needs (``irkit.actions.needs``); () for none."""
    runner: Runner
    mutating: bool = False
    """It changes objects in the cluster."""
    destructive: bool = False
    """Its change stops workloads (lint asks for approval in a critical runbook)."""
    undo: Undo | None = None
    """The command that undoes a containment, shown in the RCA."""
    lifts: bool = False
    """It lifts a containment (release, restore, uncordon): the RCA lists it, with no undo."""
    secret_url: bool = False
    """Its ``url`` input carries a secret in its path (webhooks): journaled as scheme://host."""
    bundles: bool = False
    """Its outputs name an evidence bundle (``bundle``, ``sha256``, ...): the RCA lists it."""
    check: Check | None = None


# ---- helpers of the runners ----------------------------------------------------------------------
def status(call: StepCall, partial: bool = False) -> str:
    """dry-run; partial when the action did only part of its job; else ok or unchanged."""
    if call.dry_run:
        return "dry-run"
    if partial:
        return "partial"
    return "ok" if call.changes else "unchanged"


def brief(items: list[str], most: int = 10) -> list[str]:
    """At most ``most`` warnings, and how many more there were."""
    if len(items) <= most:
        return items
    return [*items[:most], f"... and {len(items) - most} more"]


def plan(call: StepCall, **extra: Any) -> dict[str, Any]:
    if not call.dry_run:
        return {}
    return {"changes": [asdict(c) for c in call.changes], **extra}
