"""The runbook format as pydantic models: what ``irkit validate`` checks, ``irkit schema`` prints.

    apiVersion: irkit.io/v1
    kind: Runbook
    metadata: {name, description, severity, owner}
    params:   {NAME: {type, default, required, description}}
    match:    {alertmanager: {...}, falco: {...}}      # which alerts start this runbook
    steps:    [{id, action, with, when, on_failure, retries, timeout, approval}]

``with`` values are templates over ``params``, ``alert``, ``steps.<id>.outputs`` and
``incident``; each action's own model (its spec's ``inputs``, ``irkit.actions.registry``)
types them after rendering.
There is no shell or exec action, by design.

Field docstrings are the descriptions editors show (JSON Schema) and docs/runbooks.md lists.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from irkit.hints import nearest

API_VERSION = "irkit.io/v1"
STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PARAM_NAME = STEP_ID
RUNBOOK_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Falco's priorities, most severe first; a comparator such as ">= notice" orders by this list.
FALCO_PRIORITIES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)
FALCO_PRIORITY = re.compile(r"^\s*(>=|<=|>|<|==)?\s*([A-Za-z]+)\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )


class Action(StrEnum):
    ISOLATE = "isolate"
    RELEASE = "release"
    COLLECT = "collect"
    SNAPSHOT = "snapshot"
    SCALE = "scale"
    RESTORE = "restore"
    LABEL = "label"
    ANNOTATE = "annotate"
    CORDON = "cordon"
    UNCORDON = "uncordon"
    NOTIFY = "notify"
    WAIT = "wait"
    RCA = "rca"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Metadata(Strict):
    """Who the runbook is and who answers for it."""

    name: str = Field(json_schema_extra={"pattern": RUNBOOK_NAME.pattern})
    """Lower-case letters, digits and '-', at most 63 characters (a DNS label): it names
    incidents' journal entries and the RCA."""
    description: str = ""
    """What the runbook is for; shown in plans and the RCA."""
    severity: Severity = Severity.HIGH
    """critical, high, medium or low. In a critical runbook, lint asks for approval on
    destructive steps."""
    owner: str = ""
    """The team or person who maintains it."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not RUNBOOK_NAME.match(v):
            raise ValueError(
                f"{v!r}: use lower-case letters, digits and '-', starting and ending with a "
                "letter or digit, at most 63 characters"
            )
        return v


PARAM_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "list": list,
}


class Param(Strict):
    """An input of the runbook, set with ``irkit run --set NAME=VALUE`` or from its default."""

    type: Literal["string", "integer", "boolean", "list"] = "string"
    """string, integer, boolean or list."""
    default: Any = None
    """The value when none is given. May be a template over ``alert`` and ``incident`` (e.g.
    ``"{{ alert.output_fields['k8s.ns.name'] }}"``), rendered when the run starts."""
    required: bool = False
    """A run without a value for it does not start. A required param takes no default."""
    description: str = ""
    """What the value means. ``irkit run`` does not ask for a missing required param: it exits
    2 naming it (``--set NAME=VALUE``)."""

    @model_validator(mode="after")
    def _default_fits(self) -> Param:
        if self.required and self.default is not None:
            raise ValueError("a required param takes no default")
        value = self.default
        if value is None or (isinstance(value, str) and ("{{" in value or "{%" in value)):
            return self
        wrong_bool = self.type == "integer" and isinstance(value, bool)
        if wrong_bool or not isinstance(value, PARAM_TYPES[self.type]):
            raise ValueError(f"default {value!r} is not of type {self.type}")
        return self


def check_regexes(values: dict[str, str] | list[str]) -> None:
    """Match values starting with ``~`` are regular expressions: they must compile."""
    pairs = values.items() if isinstance(values, dict) else enumerate(values)
    for key, pattern in pairs:
        if pattern.startswith("~"):
            try:
                re.compile(pattern[1:])
            except re.error as e:
                raise PydanticCustomError(
                    "bad_regex",
                    "{key}: bad regular expression '{pattern}': {why}",
                    {"key": key, "pattern": pattern[1:], "why": str(e)},
                ) from e


class AlertmanagerMatch(Strict):
    """Every listed label/annotation must equal the alert's (``~regex`` values match by regex)."""

    labels: dict[str, str] = {}
    """Label name -> value the alert must carry, e.g. ``alertname: CryptoMinerDetected``;
    ``~REGEX`` matches by regular expression (anchored)."""
    annotations: dict[str, str] = {}
    """Annotation name -> value, as for labels."""
    status: Literal["firing", "resolved", "any"] = "firing"
    """firing, resolved or any."""

    @field_validator("labels", "annotations")
    @classmethod
    def _regexes(cls, v: dict[str, str]) -> dict[str, str]:
        check_regexes(v)
        return v


class FalcoMatch(Strict):
    """Falco events (falcosidekick webhook): every field given here must match."""

    rules: list[str] = []
    """Rule names (``rule`` of the event), any of which matches; ``~REGEX`` by expression."""
    priority: str | None = Field(
        default=None, json_schema_extra={"pattern": FALCO_PRIORITY.pattern}
    )
    """A priority, optionally with a comparator: ``>= notice`` matches notice, warning, error,
    critical, alert and emergency. Without one it means ``==``."""
    tags: list[str] = []
    """Every listed tag must be on the event."""
    output_fields: dict[str, str] = {}
    """Field -> value the event's ``output_fields`` must hold, e.g. ``k8s.ns.name: production``;
    ``~REGEX`` by expression."""

    @field_validator("rules", "output_fields")
    @classmethod
    def _regexes(cls, v: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        check_regexes(v)
        return v

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: str | None) -> str | None:
        if v is None:
            return v
        found = FALCO_PRIORITY.match(v)
        name = found.group(2).lower() if found else ""
        if name == "info":
            name = "informational"
        if not found or name not in FALCO_PRIORITIES:
            word = name or v
            raise ValueError(
                f"{v!r}: give an optional comparator (>=, <=, >, <, ==) and one of "
                f"{', '.join(FALCO_PRIORITIES)}"
                f"{nearest(word, FALCO_PRIORITIES)}"
            )
        return v


class Match(Strict):
    """Which alerts start this runbook (used by the webhook receiver): an alert matches when
    the section for its source (Alertmanager or Falco) is present and matches."""

    alertmanager: AlertmanagerMatch | None = None
    """Alerts from Prometheus Alertmanager's webhook."""
    falco: FalcoMatch | None = None
    """Events from Falco (through falcosidekick's webhook output)."""


class Step(Strict):
    """One action, run after the previous step ends."""

    id: str = Field(json_schema_extra={"pattern": STEP_ID.pattern})
    """Lower-case letters, digits and '_', starting with a letter; unique in the runbook.
    Later steps read its outputs as ``steps.<id>.outputs.<name>``."""
    action: Action
    """What the step does: snapshot, isolate, release, collect, scale, restore, label, annotate,
    cordon, uncordon, notify, wait or rca. There is no shell or exec action."""
    with_: dict[str, Any] = Field(default={}, alias="with")
    """The action's inputs; string values may be templates (see docs/runbooks.md)."""
    when: str | None = None
    """A sandboxed expression (no braces), e.g. ``params.slack_webhook``: the step runs only
    when it is true, and is journaled as skipped otherwise."""
    on_failure: Literal["abort", "continue"] = "abort"
    """abort (stop the run) or continue (journal the failure, go on with the next step)."""
    require: Literal["complete", "partial"] = "partial"
    """partial (the default): a step whose action did only part of its job (a collect that
    could not read some logs, an isolate that another NetworkPolicy still lets traffic
    through) is journaled as partial, the run goes on and exits 3. complete: such a step
    fails instead, and ``on_failure`` decides what happens next."""
    retries: int = Field(default=0, ge=0, le=10)
    """Extra attempts on transient errors (timeouts, 429, 5xx) only, 0 to 10."""
    timeout: float = Field(default=300, gt=0, le=86400)
    """Seconds the step may take, up to a day."""
    approval: Literal["required", "none"] = "none"
    """required: a person approves before the step runs (prompt, or ``--yes``)."""
    description: str = ""
    """Why the step is there; shown in plans, the journal and the RCA."""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not STEP_ID.match(v):
            raise ValueError(
                f"{v!r}: use lower-case letters, digits and '_', starting with a letter"
            )
        return v


class Runbook(Strict):
    """An incident-response runbook: typed params, the alerts it answers, and its steps."""

    api_version: Literal["irkit.io/v1"] = Field(alias="apiVersion")
    """Always ``irkit.io/v1``."""
    kind: Literal["Runbook"]
    """Always ``Runbook``."""
    metadata: Metadata
    """Name, description, severity and owner."""
    params: dict[str, Param] = Field(
        default={}, json_schema_extra={"propertyNames": {"pattern": PARAM_NAME.pattern}}
    )
    """Inputs by name (lower-case letters, digits and '_'), read in templates as
    ``params.<name>``."""
    match: Match = Match()
    """Which alerts start this runbook."""
    steps: list[Step] = Field(min_length=1)
    """What to do, in order."""

    @field_validator("params")
    @classmethod
    def _param_names(cls, v: dict[str, Param]) -> dict[str, Param]:
        for name in v:
            if not PARAM_NAME.match(name):
                raise PydanticCustomError(
                    "param_name",
                    "param name '{name}': use lower-case letters, digits and '_', starting with "
                    "a letter",
                    {"name": name},
                )
        return v

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, v: list[Step]) -> list[Step]:
        seen: dict[str, int] = {}
        for i, step in enumerate(v):
            if step.id in seen:
                raise PydanticCustomError(
                    "duplicate_step_id",
                    "duplicate step id '{id}': step ids must be unique",
                    {"id": step.id, "first": seen[step.id], "index": i},
                )
            seen[step.id] = i
        return v

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)
