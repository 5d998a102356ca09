"""A scenario's ``drill:`` section, checked before anything starts (file:line errors).

The simulator keeps the section raw (``irkit.sim.scenario.Scenario.drill``); this module holds
its strict model (docs/cli.md, "irkit drill"): the alert to fire, the pods containment must cut
off, what a good response leaves behind, which checks gate the exit code, and the injects.
A ``--inject KIND@STEP`` from the command line becomes the same ``Inject`` value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from irkit.errors import ConfigError, UsageError
from irkit.model.selectors import SelectorError, parse_label_selector
from irkit.sim.faults import FaultRule
from irkit.sim.scenario import Scenario, load_scenario
from irkit.yamlfile import describe_error, located_error

CHECKS = (
    "contain_time",
    "evidence_time",
    "steps",
    "evidence",
    "contained",
    "scaled",
    "undo",
    "injects",
    "duplicates",
)
"""The scorecard's check names, in the order shown; stable (tests and ``must_pass`` use them)."""
CheckName = Literal[
    "route",
    "contain_time",
    "evidence_time",
    "steps",
    "evidence",
    "contained",
    "scaled",
    "undo",
    "injects",
    "duplicates",
]
InjectKind = Literal["second-pod", "throttle", "s3-denied", "fault"]
INJECT_KINDS = ("second-pod", "throttle", "s3-denied", "fault")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class AlertSpec(_Strict):
    source: Literal["alertmanager", "falco"]
    payload: dict[str, Any]
    """The webhook body exactly as the source sends it."""


class Compromised(_Strict):
    namespace: str = Field(min_length=1)
    selector: str | None = None
    pods: list[str] = []

    @model_validator(mode="after")
    def _one_way(self) -> Compromised:
        if (self.selector is None) == (not self.pods):
            raise ValueError("give exactly one of 'selector' or 'pods'")
        if self.selector is not None:
            try:
                parse_label_selector(self.selector)
            except SelectorError as e:
                raise ValueError(f"selector: {e}") from None
        return self


class AllowedPath(_Strict):
    """A path the runbook may leave open on purpose: ``{direction: egress, to: dns}``."""

    direction: Literal["ingress", "egress"]
    peer: str | None = None
    """A regular expression searched in the path's peer text; ``dns`` means kube-dns only."""
    to: str | None = None
    """The same as ``peer``, for egress."""
    from_: str | None = Field(default=None, alias="from")
    """The same as ``peer``, for ingress."""
    ports: str | None = None
    """A regular expression searched in the path's ports text, e.g. ``TCP/8080``."""

    @model_validator(mode="after")
    def _regexes(self) -> AllowedPath:
        if self.to is not None and self.direction != "egress":
            raise ValueError("'to' goes with direction egress ('from' with ingress)")
        if self.from_ is not None and self.direction != "ingress":
            raise ValueError("'from' goes with direction ingress ('to' with egress)")
        for value in (self.wanted_peer, self.ports):
            if value is not None and value != "dns":
                _compile(value)
        return self

    @property
    def wanted_peer(self) -> str | None:
        return self.peer or self.to or self.from_


class EvidenceItem(_Strict):
    """One thing the bundle must hold: a member matching ``path`` (a glob) whose content
    matches ``contains`` (a regular expression), or audit events naming the compromised pods."""

    path: str | None = None
    contains: str | None = None
    audit_of_pod: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> EvidenceItem:
        if self.audit_of_pod == (self.path is not None):
            raise ValueError("give either 'path' (and optionally 'contains') or 'audit_of_pod'")
        if self.contains is not None:
            if self.path is None:
                raise ValueError("'contains' goes with 'path'")
            _compile(self.contains)
        return self

    @property
    def label(self) -> str:
        if self.audit_of_pod:
            return "audit events of the pods"
        return f"{self.path}" + (f" ~ /{self.contains}/" if self.contains else "")


class Budgets(_Strict):
    contain: float | None = Field(default=None, gt=0)
    evidence: float | None = Field(default=None, gt=0)


class Expect(_Strict):
    contained: bool = True
    deleted_is_contained: bool = False
    """A compromised pod gone when the run ended counts as contained (the runbook deletes or
    scales it away on purpose); otherwise ``contained`` fails: it cannot be verified."""
    allowed: list[AllowedPath] = []
    scaled_to_zero: list[str] = []
    evidence: list[EvidenceItem] = []
    undo: bool = True
    max_seconds: Budgets = Budgets()

    @field_validator("scaled_to_zero")
    @classmethod
    def _workloads(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not re.fullmatch(r"(deployment|statefulset)/[a-z0-9][a-z0-9.-]*", ref):
                raise ValueError(f"{ref!r}: give deployment/NAME or statefulset/NAME")
        return v


class Inject(_Strict):
    before: str = Field(min_length=1)
    """The step id the inject arrives before."""
    kind: InjectKind
    fault: dict[str, Any] | None = None
    """kind fault: a simulator fault rule, as in the Scenario's spec.faults."""

    @model_validator(mode="after")
    def _fault_rule(self) -> Inject:
        if self.kind == "fault":
            if self.fault is None:
                raise ValueError("kind fault needs 'fault' (a rule as in spec.faults)")
            FaultRule.from_dict(self.fault)
        elif self.fault is not None:
            raise ValueError(f"'fault' goes with kind fault, not {self.kind}")
        return self

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.before}"


class AuditSeed(_Strict):
    """What the attacker did through the API before the alert, as a simulator drill writes it
    into the cluster's audit log (a live cluster keeps its own): the events the audit evidence
    must hold, since irkit's own requests never count."""

    user: str = Field(min_length=1)
    verb: str = Field(pattern=r"^[a-z]+$")
    resource: str = Field(pattern=r"^[a-z0-9./-]+$")
    namespace: str = ""
    name: str = ""
    pod: str = ""
    """The pod whose bound token made the request (``user.extra`` pod-name, as upstream)."""
    user_agent: str = ""


class DrillSpec(_Strict):
    runbook: str | None = None
    """The paired runbook, relative to the scenario file."""
    alert: AlertSpec
    params: dict[str, str | int | float | bool] = {}
    compromised: Compromised
    expect: Expect = Expect()
    must_pass: list[CheckName] = ["route", *CHECKS]  # type: ignore[list-item]
    injects: list[Inject] = []
    audit: list[AuditSeed] = []


class Drill(BaseModel):
    """A scenario with its checked drill section, and where its runbook is."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    scenario: Scenario
    spec: DrillSpec
    runbook: Path | None


def load_drill(path: str | Path) -> Drill:
    """The scenario at ``path`` with its ``drill:`` section checked (ConfigError: file:line)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--scenario {path}: no such file")
    scenario = load_scenario(path)
    raw = scenario.drill
    where = str(path)
    if raw is None:
        raise ConfigError(
            f"{where}: the Scenario document has no 'drill:' section, so it cannot be drilled",
            hint="add one (docs/cli.md, irkit drill), or start the scenario with irkit sim serve",
        )
    try:
        spec = DrillSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        message = "drill." + describe_error(err, DrillSpec)
        raise located_error(where, raw, err["loc"], message) from None
    except ValueError as e:  # a selector or fault rule raised outside pydantic's wrapping
        raise located_error(where, raw, (), f"drill: {e}") from None
    runbook = (path.parent / spec.runbook).resolve() if spec.runbook else None
    if runbook is not None and not runbook.is_file():
        raise located_error(
            where, raw, ("runbook",), f"drill.runbook: no such file: {spec.runbook}"
        )
    return Drill(scenario=scenario, spec=spec, runbook=runbook)


def escaping_runbook(scenario: Path, runbook: Path) -> str:
    """Why the scenario's ``drill.runbook`` may not be run without naming it ("" if it may): it
    must stay inside the scenario's tree (its repository, the nearest folder up holding ``.git``,
    or else the scenario's own folder), so a downloaded scenario cannot pick any file to run."""
    folder = scenario.absolute().parent
    root = next((d for d in (folder, *folder.parents) if (d / ".git").exists()), folder)
    if runbook.resolve().is_relative_to(root.resolve()):
        return ""
    return (
        f"{scenario}: drill.runbook {runbook} is outside {root}; refusing to run it unless it "
        "is given as the RUNBOOK argument"
    )


def parse_inject(text: str) -> Inject:
    """``KIND@STEP`` from ``--inject``; a fault rule needs the scenario file."""
    kind, at, step = text.partition("@")
    if not at or not step:
        raise UsageError(f"--inject {text!r}: give KIND@STEP, e.g. throttle@collect")
    if kind not in INJECT_KINDS:
        raise UsageError(f"--inject {text!r}: KIND is one of {', '.join(INJECT_KINDS)}")
    if kind == "fault":
        raise UsageError(
            "--inject fault@STEP needs a fault rule: put it in the scenario's drill.injects"
        )
    return Inject(before=step, kind=kind)  # type: ignore[arg-type]


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"bad regular expression {pattern!r}: {e}") from None


__all__ = [
    "CHECKS",
    "AllowedPath",
    "AuditSeed",
    "Compromised",
    "Drill",
    "DrillSpec",
    "EvidenceItem",
    "Inject",
    "escaping_runbook",
    "load_drill",
    "parse_inject",
]
