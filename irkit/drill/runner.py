"""``run_drill``: a scenario's alert fired at a cluster, the runbook answering it, scored, undone.

    outcome = run_drill(DrillRequest(drill, runbook, "drill-...", incidents_dir=...),
                        DrillPorts(connect=lambda kubeconfig, context: ...))

By default the cluster is ``irkit.sim`` started with the scenario; ``live`` drills on a real
cluster inside a namespace of their own (``irkit.drill.live``). The alert goes through the
same parsing and routing as ``irkit serve`` (``irkit.engine.alerts``, ``irkit.engine.routing``)
and the runbook through the same engine as ``irkit run`` (``irkit.engine.run``), journaled as
incident ``drill-...`` under the usual incidents folder. The engine is watched through its
progress lines (``Adapters.output``): the line announcing a step is where injects arrive and
the tabletop pauses. Front ends give the cluster connection and the terminal (``DrillPorts``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from irkit.actions.specs.collect import CollectInput
from irkit.audit.source import AuditScope, AuditSource
from irkit.cluster.port import Cluster
from irkit.drill.alerting import parse_alert, route_problem
from irkit.drill.guard import SandboxGuard
from irkit.drill.injects import Injector
from irkit.drill.live import deploy, namespace_for, namespaced, rename_pod, rewrite_values, sandbox
from irkit.drill.observe import (
    compromised_pods,
    containment,
    evidence_members,
    never_found,
    replicas,
    step_facts,
    workloads,
)
from irkit.drill.recorder import RecordingNotifiers
from irkit.drill.scenario import Drill, Inject
from irkit.drill.score import Check, Facts, PathFact, duplicates, score
from irkit.drill.seed import audit_lines
from irkit.drill.tabletop import Tabletop
from irkit.drill.undo import undo
from irkit.engine import Adapters, run
from irkit.engine.alerts import Alert
from irkit.engine.ports import NotifierFactory, StoreFactory, http_notifiers, no_stores, utc_now
from irkit.errors import IrkitError, UsageError
from irkit.evidence.store import EvidenceStore
from irkit.incident.paths import IncidentPaths
from irkit.incident.store import FileStore, IncidentJournal
from irkit.runbook.loader import Loaded, load_runbook
from irkit.settings import RunSettings
from irkit.sim.cluster import SimCluster

_T = TypeVar("_T")
STEP_LINE = re.compile(r"^\[\d+/\d+\] ([a-z][a-z0-9_]*) \(([a-z]+)\): ([a-z-]+)")
STARTS = frozenset({"running", "planning"})
ENDS = frozenset({"ok", "unchanged", "partial", "failed", "skipped", "awaiting"})
SIM_ADMIN = "sim-admin"
"""The simulator's administrator: the identity a simulator drill's runbook acts as."""
LIVE_WAIT = 120.0
"""Seconds a live drill waits for the scenario's compromised pods to exist."""


def _discard(line: str) -> None:
    pass


@dataclass(frozen=True)
class DrillRequest:
    drill: Drill
    runbook: Path
    drill_id: str
    incidents_dir: Path
    injects: tuple[Inject, ...] = ()
    live: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    notify_for_real: bool = False
    """A simulator drill sends its notifications (default: recorded, shown in the report)."""


@dataclass
class DrillPorts:
    connect: Callable[[str | None, str | None], Cluster]
    """A cluster connection from a kubeconfig and context (the CLI's adapter)."""
    output: Callable[[str], None] = _discard
    tabletop: Tabletop | None = None
    stores: StoreFactory = no_stores
    notifiers: NotifierFactory = http_notifiers
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class DrillOutcome:
    drill_id: str
    scenario: str
    scenario_path: str
    runbook: str
    mode: str  # sim or live
    namespace: str
    incident_dir: str
    started_at: str
    checks: list[Check]
    facts: Facts
    alert: str
    notes: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    facilitator: list[tuple[str, str]] = field(default_factory=list)
    approvals: list[tuple[str, bool]] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)  # recorded, not sent

    def to_json(self) -> dict[str, Any]:
        """Everything but the bundle's content (kept in the bundle): its member paths only."""
        data = asdict(self)
        data["checks"] = [c.to_json() for c in self.checks]
        members = self.facts.evidence
        data["facts"]["evidence"] = sorted(members) if members is not None else None
        return data


def run_drill(req: DrillRequest, ports: DrillPorts) -> DrillOutcome:
    loaded = load_runbook(req.runbook)
    known = [s.id for s in loaded.runbook.steps]
    for inject in req.injects:
        if inject.before not in known:
            raise UsageError(
                f"inject {inject.label}: the runbook has no step {inject.before!r} "
                f"(its steps: {', '.join(known)})"
            )
    if req.live:
        return _live(req, ports, loaded)
    sim = SimCluster(req.drill.scenario)
    sim.start()
    try:
        cluster = ports.connect(sim.kubeconfig_path, None)
        namespace = req.drill.spec.compromised.namespace
        session = _Session(req, ports, loaded, cluster, namespace, sim)
        return session.run(req.drill.spec.params, req.drill.spec.alert.payload)
    finally:
        sim.stop()


def _live(req: DrillRequest, ports: DrillPorts, loaded: Loaded) -> DrillOutcome:
    cluster = ports.connect(req.kubeconfig, req.context)
    namespace = namespace_for(req.drill_id)
    manifests, notes, used = namespaced(req.drill.scenario.manifests, namespace)
    for note in notes:
        ports.output(f"live drill: {note}")
    with sandbox(cluster, namespace, req.drill_id, ports.output):
        deploy(cluster, namespace, manifests)
        # the runbook, its injects and its undo act through the guard: writes stay in namespace
        session = _Session(req, ports, loaded, SandboxGuard(cluster, namespace), namespace, None)
        session.notes.extend(notes)
        session.wait_for_pods()
        params = rewrite_values(dict(req.drill.spec.params), used, namespace)
        payload = rewrite_values(req.drill.spec.alert.payload, used, namespace)
        if session.compromised:
            payload = rename_pod(payload, session.compromised[0])
        return session.run(params, payload)


class _Session:
    def __init__(
        self,
        req: DrillRequest,
        ports: DrillPorts,
        loaded: Loaded,
        cluster: Cluster,
        namespace: str,
        sim: SimCluster | None,
    ) -> None:
        self.req, self.ports, self.loaded = req, ports, loaded
        self.cluster, self.namespace, self.sim = cluster, namespace, sim
        self.spec = req.drill.spec
        self.notes: list[str] = []
        record = sim is not None and not req.notify_for_real
        self.recorder = RecordingNotifiers() if record else None
        self.cluster_errors: list[str] = []  # reads of the drill's own that failed
        self.compromised = self._read(
            "the compromised pods",
            list[str](),
            lambda: compromised_pods(cluster, self.spec.compromised, namespace),
        )
        self.injector = Injector(
            req.injects, cluster, namespace, self.compromised, sim, say=ports.output
        )

    def wait_for_pods(self) -> None:
        deadline = time.monotonic() + LIVE_WAIT
        while not self.compromised and time.monotonic() < deadline:
            self.ports.sleep(1.0)
            self.compromised[:] = self._read(
                "the compromised pods",
                list[str](),
                lambda: compromised_pods(self.cluster, self.spec.compromised, self.namespace),
            )

    def _read(self, what: str, default: _T, read: Callable[[], _T]) -> _T:
        """``read()``; a cluster error becomes a note the scorecard fails on, not an exit."""
        try:
            return read()
        except IrkitError as e:
            self.cluster_errors.append(f"cannot read {what}: {e}")
            return default

    def run(self, params: dict[str, Any], payload: dict[str, Any]) -> DrillOutcome:
        ports, req = self.ports, self.req
        cluster, namespace = self.cluster, self.namespace
        found = self._read("the workloads", list[str](), lambda: workloads(cluster, namespace))
        refs = sorted({*found, *self.spec.expect.scaled_to_zero})
        before = self._read(
            "the replicas", dict[str, int | None](), lambda: replicas(cluster, namespace, refs)
        )
        alert = parse_alert(self.spec.alert.source, payload)
        problem = route_problem(alert, self.loaded)
        self._seed_audit()
        started = ports.clock()
        tabletop = ports.tabletop
        if tabletop is not None:
            tabletop.runbook = self.loaded.runbook
            kubeconfig = self.sim.kubeconfig_path if self.sim else (req.kubeconfig or "")
            tabletop.alert(alert, kubeconfig)
        ports.output(f"drill {req.drill_id}: alert {alert.name or alert.source} fired")
        run_status, run_error = self._run(params, alert, tabletop)
        paths = IncidentPaths.of(req.drill_id, req.incidents_dir)
        steps, notes = step_facts(paths.journal, started)
        self.notes.extend(notes)
        wanted = [e.path or "audit/*" for e in self.spec.expect.evidence] + ["custody.json"]
        evidence, evidence_error = evidence_members(steps, wanted)
        running: list[str] = []
        paths_open: list[PathFact] | None = None
        containment_error = ""
        try:
            running, paths_open = containment(self.cluster, self.namespace, self.compromised)
        except IrkitError as e:
            containment_error = f"cannot read the cluster: {e}"
        scaled = self._read(
            "the replicas",
            dict[str, int | None](),
            lambda: replicas(cluster, namespace, self.spec.expect.scaled_to_zero),
        )
        undone = None
        if self.spec.expect.undo:
            journal = IncidentJournal(FileStore(req.incidents_dir), req.drill_id)
            undone = undo(
                self.cluster,
                steps,
                incident=req.drill_id,
                namespace=self.namespace,
                before=before,
                journal=journal,
                clock=ports.clock,
                say=ports.output,
            )
        facts = Facts(
            route=problem,
            run_status=run_status,
            run_error=run_error,
            steps=steps,
            evidence=evidence,
            evidence_error=evidence_error,
            compromised=list(self.compromised),
            never_found=never_found(self.spec.compromised, self.compromised),
            running=running,
            open_paths=paths_open,
            containment_error=containment_error,
            cluster_errors=tuple(self.cluster_errors),
            replicas=scaled,
            undo=undone,
            injects=self.injector.facts(),
            duplicates=duplicates(steps),
            tabletop=tabletop is not None,
            own_users=tuple(sorted({self.cluster.identity.user, SIM_ADMIN} - {""})),
            alert_at=started.isoformat(),
        )
        return DrillOutcome(
            drill_id=req.drill_id,
            scenario=req.drill.scenario.name,
            scenario_path=str(req.drill.scenario.path or ""),
            runbook=str(req.runbook),
            mode="live" if req.live else "sim",
            namespace=self.namespace,
            incident_dir=str(paths.root),
            started_at=started.isoformat(),
            checks=score(self.spec, facts),
            facts=facts,
            alert=alert.name or alert.source,
            notes=self.notes,
            answers=list(tabletop.answers) if tabletop else [],
            facilitator=list(tabletop.notes) if tabletop else [],
            approvals=list(tabletop.approvals) if tabletop else [],
            notifications=list(self.recorder.sent) if self.recorder else [],
        )

    def _seed_audit(self) -> None:
        """The scenario's pre-alert API activity into the simulator's audit log."""
        seeds = self.spec.audit
        if not seeds:
            return
        if self.sim is None:
            self.notes.append("drill.audit: not written on a live cluster (it keeps its own log)")
            return
        lines = audit_lines(seeds, self.ports.clock() - timedelta(seconds=1))
        with self.sim.audit_log_path.open("a", encoding="utf-8") as log:
            log.write("".join(line + "\n" for line in lines))

    def _run(
        self, params: dict[str, Any], alert: Alert, tabletop: Tabletop | None
    ) -> tuple[str, str]:
        req, ports = self.req, self.ports

        def progress(line: str) -> None:
            ports.output(line)
            found = STEP_LINE.match(line)
            if found is None:
                return
            step, word = found.group(1), found.group(3)
            if word in STARTS:
                if tabletop is not None:
                    tabletop.before_step(step)
                self.injector.before(step)
            elif word in ENDS and tabletop is not None:
                tabletop.after_step(step, line)

        def stores(inputs: CollectInput) -> Sequence[EvidenceStore]:
            return self.injector.stores(ports.stores(inputs))

        adapters = Adapters(
            cluster=self.cluster,
            stores=stores,
            audit=self._audit,
            notifiers=self.recorder if self.recorder is not None else ports.notifiers,
            approve=tabletop.approve if tabletop is not None else None,
            output=progress,
            clock=ports.clock,
            sleep=ports.sleep,
        )
        try:
            result = run(
                self.loaded,
                params=params,
                alert=alert.payload,
                incident=req.drill_id,
                adapters=adapters,
                yes=tabletop is None,
                settings=RunSettings(incidents_dir=str(req.incidents_dir)),
                command=f"irkit drill {req.runbook} --scenario {req.drill.scenario.path}",
            )
        except IrkitError as e:
            ports.output(f"drill {req.drill_id}: the run failed before its steps: {e}")
            return "failed", str(e)
        return result.status, str(result.error or "")

    def _audit(
        self, inputs: CollectInput, now: datetime
    ) -> tuple[Sequence[AuditSource], AuditScope | None]:
        """The step's own audit logs; on the simulator, its API audit log stands in for the
        cluster's (what a collect with ``eks_cluster`` or ``audit_log`` reads in production)."""
        from irkit.audit.files import AuditLogFiles

        files = [Path(p) for p in inputs.audit_log]
        if not files and self.sim is not None:
            files = [self.sim.audit_log_path]
        scope = AuditScope(since=None, until=None, namespace=inputs.namespace)
        return [AuditLogFiles(p) for p in files], scope


__all__ = [
    "DrillOutcome",
    "DrillPorts",
    "DrillRequest",
    "run_drill",
]
