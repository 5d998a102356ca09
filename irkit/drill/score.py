"""The scorecard: what a drill observed (``Facts``) judged against the scenario's ``expect``.

Pure: data in, checks out. The drill runner gathers the facts (the journal, the evidence bundle
read through the strict reader, the cluster's pods and policies run through
``irkit.model.reach``, the undo's result); this module only decides pass, fail or skip and
words the measured value and the budget, so every rule here is testable without a cluster.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from irkit.drill.audit import attacker_events, custody_user
from irkit.drill.scenario import CHECKS, AllowedPath, DrillSpec, EvidenceItem

Status = Literal["pass", "fail", "skip"]
ROUTE = "route"
"""The check that the alert routed to the runbook: always must-pass, shown first."""
ALL_CHECKS = (ROUTE, *CHECKS)
MUTATING = frozenset(
    {"isolate", "release", "scale", "restore", "label", "annotate", "cordon", "uncordon"}
)
CONTAINING = "isolate"


@dataclass(frozen=True)
class StepFact:
    id: str
    action: str
    status: str  # the step-end status: ok, unchanged, partial, failed, skipped, ...
    seconds: float | None  # its step-end, in seconds after the alert fired
    target: str = ""  # "NAMESPACE/TARGET" of its with:, for duplicates
    outputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PathFact:
    """An open NetworkPolicy path (``irkit.model.reach.Path``, with ``is_dns`` evaluated)."""

    direction: str
    pod: str
    peer: str
    ports: str
    policies: tuple[str, ...] = ()
    dns: bool = False

    @property
    def text(self) -> str:
        via = ", ".join(p for p in self.policies if p) or "no policy selects it"
        return f"{self.direction} {self.pod} <-> {self.peer} ({self.ports}; {via})"


@dataclass(frozen=True)
class UndoFact:
    policies_left: tuple[str, ...] = ()  # irkit quarantine policies still there
    labelled_left: tuple[str, ...] = ()  # pods still carrying the quarantine label
    replicas: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)  # want, got
    error: str = ""


@dataclass(frozen=True)
class InjectFact:
    label: str  # KIND@STEP
    delivered: bool
    note: str = ""
    skipped: bool = False  # cannot be delivered here (a simulator fault in a live drill)


@dataclass(frozen=True)
class Facts:
    route: str  # "" = the alert routed to the runbook; else why not
    run_status: str  # completed, failed, stopped, or "not run"
    run_error: str = ""
    steps: Sequence[StepFact] = ()
    evidence: Mapping[str, str] | None = None  # bundle member path -> text; None: no bundle
    evidence_error: str = ""
    compromised: Sequence[str] = ()  # the pods' names
    running: Sequence[str] = ()  # those still there when the run ended
    never_found: Sequence[str] = ()  # named by the scenario, not there when the alert fired
    open_paths: Sequence[PathFact] | None = None  # None: containment not evaluated
    containment_error: str = ""
    cluster_errors: Sequence[str] = ()  # the drill's own reads that failed (it cannot judge)
    replicas: Mapping[str, int | None] = field(default_factory=dict)  # workload -> at the end
    undo: UndoFact | None = None
    injects: Sequence[InjectFact] = ()
    duplicates: Sequence[str] = ()
    tabletop: bool = False  # the room's answers and the facilitator's pauses are in the times
    own_users: tuple[str, ...] = ()  # the drill's own cluster identities: their audit never counts
    alert_at: str = ""  # ISO time the alert fired: later audit events are the response's own


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    value: str  # what was measured
    budget: str = ""  # what was expected
    detail: str = ""  # why it failed or was skipped
    must_pass: bool = False
    seconds: float | None = None  # the timing checks' measure, for trends

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score(spec: DrillSpec, facts: Facts) -> list[Check]:
    must = {ROUTE, *spec.must_pass}
    checks = [
        _route(facts),
        _time(facts, "contain_time", CONTAINING, spec.expect.max_seconds.contain, "isolate"),
        _time(facts, "evidence_time", "collect", spec.expect.max_seconds.evidence, "collect"),
        _steps(facts),
        _evidence(spec.expect.evidence, facts),
        _contained(spec, facts),
        _scaled(spec.expect.scaled_to_zero, facts),
        _undo(spec.expect.undo, facts),
        _injects(facts),
        _duplicates(facts),
    ]
    if facts.tabletop:  # a discussion is not a slow response: times are shown, not judged
        checks = [_untimed(c) if c.seconds is not None else c for c in checks]
    return [_with_must(c, c.name in must) for c in checks]


def _untimed(check: Check) -> Check:
    why = "tabletop: the pauses for answers and notes are in the time"
    return Check(check.name, "skip", check.value, check.budget, why, seconds=check.seconds)


def passed(checks: Sequence[Check]) -> bool:
    """Exit 0 material: no must-pass check failed (a skipped one does not fail the drill)."""
    return not any(c.must_pass and c.status == "fail" for c in checks)


def _with_must(check: Check, must: bool) -> Check:
    return Check(
        check.name, check.status, check.value, check.budget, check.detail, must, check.seconds
    )


def _route(facts: Facts) -> Check:
    if facts.route:
        return Check(ROUTE, "fail", "not routed", "routes to the runbook", facts.route)
    return Check(ROUTE, "pass", "routed", "routes to the runbook")


def _time(facts: Facts, name: str, action: str, budget: float | None, what: str) -> Check:
    shown = f"<= {budget:g} s" if budget is not None else "ends ok"
    ended = [s for s in facts.steps if s.action == action]
    if not ended:
        return Check(name, "fail", "never", shown, f"the runbook has no {what} step")
    good = [s for s in ended if s.status == "ok" and s.seconds is not None]
    if action == "collect":  # sealed = the bundle written, even if some part was missing
        good = [s for s in ended if s.outputs.get("tarball") and s.seconds is not None]
    if not good:
        states = ", ".join(f"{s.id} {s.status}" for s in ended)
        return Check(name, "fail", "never", shown, f"no {what} step ended ok ({states})")
    if action == CONTAINING:  # contained = an isolate that labelled a compromised pod
        wrong = good
        good = [s for s in good if set(_isolated(s)) & set(facts.compromised)]
        if not good:
            done = "; ".join(
                f"{s.id} isolated {', '.join(_isolated(s)) or 'no pod'}" for s in wrong
            )
            why = f"no {what} step that ended ok isolated a compromised pod: {done}"
            return Check(name, "fail", "never", shown, why)
    seconds = float(good[0].seconds or 0.0)
    value, at = f"{seconds:.2f} s", f"at the end of step {good[0].id}"
    if budget is not None and seconds > budget:
        over = f"over budget by {seconds - budget:.2f} s, {at}"
        return Check(name, "fail", value, shown, over, False, seconds)
    return Check(name, "pass", value, shown, at, False, seconds)


def _isolated(step: StepFact) -> list[str]:
    """The pods an isolate step labelled (its ``pods`` output)."""
    pods = step.outputs.get("pods")
    return [str(p) for p in pods] if isinstance(pods, list) else []


def _steps(facts: Facts) -> Check:
    counts: dict[str, int] = {}
    for s in facts.steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    value = ", ".join(f"{n} {status}" for status, n in counts.items()) or "none"
    if facts.cluster_errors:
        why = "the drill could not read the cluster: " + "; ".join(facts.cluster_errors)
        return Check("steps", "fail", value, "run completed, no step failed", why)
    if facts.run_status != "completed":
        why = f"the run {facts.run_status}" + (f": {facts.run_error}" if facts.run_error else "")
        return Check("steps", "fail", value, "run completed, no step failed", why)
    failed = [s.id for s in facts.steps if s.status == "failed"]
    if failed:
        return Check(
            "steps", "fail", value, "run completed, no step failed", f"failed: {', '.join(failed)}"
        )
    return Check("steps", "pass", value, "run completed, no step failed")


def _evidence(items: Sequence[EvidenceItem], facts: Facts) -> Check:
    budget = f"{len(items)} item(s)"
    if not items:
        return Check("evidence", "skip", "nothing expected", budget)
    if facts.evidence is None:
        why = facts.evidence_error or "no evidence bundle was written"
        return Check("evidence", "fail", f"0/{len(items)}", budget, why)
    missing = [item.label for item in items if not _found(item, facts.evidence, facts)]
    value = f"{len(items) - len(missing)}/{len(items)}"
    if missing:
        return Check("evidence", "fail", value, budget, "missing: " + "; ".join(missing))
    return Check("evidence", "pass", value, budget)


def _found(item: EvidenceItem, members: Mapping[str, str], facts: Facts) -> bool:
    if item.audit_of_pod:
        own = {*facts.own_users, *custody_user(members)}
        audit = [text for path, text in members.items() if path.startswith("audit/")]
        events = [line for text in audit for line in attacker_events(text, own, facts.alert_at)]
        return any(pod in line for pod in facts.compromised for line in events)
    assert item.path is not None
    matching = [text for path, text in members.items() if fnmatch.fnmatchcase(path, item.path)]
    if item.contains is None:
        return bool(matching)
    pattern = re.compile(item.contains)
    return any(pattern.search(text) for text in matching)


def _contained(spec: DrillSpec, facts: Facts) -> Check:
    budget = "no open path" + (
        f" but {len(spec.expect.allowed)} allowed" if spec.expect.allowed else ""
    )
    if not spec.expect.contained:
        return Check("contained", "skip", "not expected", budget)
    if facts.never_found:
        why = "; ".join(
            f"pod {p} was not found when the alert fired: nothing to contain"
            for p in facts.never_found
        )
        return Check("contained", "fail", "no such pod", budget, why)
    if not facts.compromised:
        why = "no pod matched drill.compromised when the alert fired: nothing to judge"
        return Check("contained", "fail", "no pods", budget, why)
    if facts.open_paths is None:
        why = facts.containment_error or "containment was not evaluated"
        return Check("contained", "fail", "unknown", budget, why)
    left = [p for p in facts.open_paths if not any(_allows(a, p) for a in spec.expect.allowed)]
    running = f"{len(facts.running)} of {len(facts.compromised)} compromised pod(s) still running"
    value = f"{len(left)} open path(s)"
    gone = [p for p in facts.compromised if p not in facts.running]
    problems = [p.text for p in left]
    if gone and not spec.expect.deleted_is_contained:
        problems += [f"pod {p} no longer exists: containment could not be verified" for p in gone]
    if problems:
        return Check("contained", "fail", value, budget, "; ".join(problems))
    return Check("contained", "pass", value, budget, running)


def _allows(allowed: AllowedPath, path: PathFact) -> bool:
    if allowed.direction != path.direction:
        return False
    wanted = allowed.wanted_peer
    if wanted == "dns":
        if not path.dns:
            return False
    elif wanted is not None and not re.search(wanted, path.peer):
        return False
    return allowed.ports is None or bool(re.search(allowed.ports, path.ports))


def _scaled(workloads: Sequence[str], facts: Facts) -> Check:
    budget = "replicas 0"
    if not workloads:
        return Check("scaled", "skip", "nothing expected", budget)
    got = {w: facts.replicas.get(w) for w in workloads}
    value = ", ".join(f"{w}={'gone' if n is None else n}" for w, n in got.items())
    wrong = [w for w, n in got.items() if n != 0]
    if wrong:
        return Check("scaled", "fail", value, budget, f"not at 0: {', '.join(wrong)}")
    return Check("scaled", "pass", value, budget)


def _undo(expected: bool, facts: Facts) -> Check:
    budget = "policy, labels gone; replicas back"
    if not expected:
        return Check("undo", "skip", "not expected", budget)
    undo = facts.undo
    if undo is None:
        return Check("undo", "fail", "not run", budget, "the undo did not run")
    problems = []
    if undo.error:
        problems.append(undo.error)
    if undo.policies_left:
        problems.append(f"policies left: {', '.join(undo.policies_left)}")
    if undo.labelled_left:
        problems.append(f"quarantine labels left on: {', '.join(undo.labelled_left)}")
    for ref, (want, got) in undo.replicas.items():
        if want != got:
            problems.append(f"{ref} has {got} replicas, not {want}")
    back = ", ".join(f"{ref}={got}" for ref, (_, got) in undo.replicas.items())
    if problems:
        return Check("undo", "fail", "not undone", budget, "; ".join(problems))
    return Check("undo", "pass", "undone", budget, f"replicas: {back}" if back else "")


def _injects(facts: Facts) -> Check:
    budget = "run completed despite them"
    skipped = [f"{i.label} ({i.note})" for i in facts.injects if i.skipped]
    injects = [i for i in facts.injects if not i.skipped]
    if not injects:
        why = "skipped: " + "; ".join(skipped) if skipped else ""
        return Check("injects", "skip", "none injected", budget, why)
    delivered = [i for i in injects if i.delivered]
    value = f"{len(delivered)}/{len(injects)} delivered"
    undelivered = [
        f"{i.label} ({i.note or 'its step never ran'})" for i in injects if not i.delivered
    ]
    if undelivered:
        return Check("injects", "fail", value, budget, "not delivered: " + "; ".join(undelivered))
    failed = [s.id for s in facts.steps if s.status == "failed"]
    if facts.run_status != "completed" or failed:
        why = f"the run {facts.run_status}" + (f"; failed: {', '.join(failed)}" if failed else "")
        return Check("injects", "fail", value, budget, why)
    return Check("injects", "pass", value, budget, ", ".join(i.label for i in delivered))


def _duplicates(facts: Facts) -> Check:
    budget = "0"
    if facts.duplicates:
        return Check(
            "duplicates", "fail", str(len(facts.duplicates)), budget, "; ".join(facts.duplicates)
        )
    return Check("duplicates", "pass", "0", budget)


def duplicates(steps: Sequence[StepFact]) -> list[str]:
    """The same mutating action on the same target done twice (a no-op ``unchanged`` is not)."""
    seen: dict[tuple[str, str], str] = {}
    found = []
    for s in steps:
        if s.action not in MUTATING or s.status not in ("ok", "partial") or not s.target:
            continue
        key = (s.action, s.target)
        if key in seen:
            found.append(f"{s.action} {s.target} twice (steps {seen[key]} and {s.id})")
        else:
            seen[key] = s.id
    return found


__all__ = [
    "ALL_CHECKS",
    "Check",
    "Facts",
    "InjectFact",
    "PathFact",
    "StepFact",
    "UndoFact",
    "duplicates",
    "passed",
    "score",
]
