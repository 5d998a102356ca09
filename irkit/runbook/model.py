"""The runbook format as pydantic models: what ``irkit validate`` checks, ``irkit schema`` prints.

    apiVersion: irkit.io/v1
    kind: Runbook
    metadata: {name, description, severity, owner}
    params:   {NAME: {type, default, required, description}}
    match:    {alertmanager: {...}, falco: {...}}      # which alerts start this runbook
    steps:    [{id, action, with, when, on_failure, retries, timeout, approval}]

``with`` values are templates over ``params``, ``alert``, ``steps.<id>.outputs`` and
``incident``; each action's own model (``irkit.runbook.actions``) types them after rendering.
There is no shell or exec action, by design.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

API_VERSION = "irkit.io/v1"
STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PARAM_NAME = STEP_ID


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Action(StrEnum):
    ISOLATE = "isolate"
    RELEASE = "release"
    COLLECT = "collect"
    SCALE = "scale"
    RESTORE = "restore"
    LABEL = "label"
    ANNOTATE = "annotate"
    CORDON = "cordon"
    UNCORDON = "uncordon"
    NOTIFY = "notify"
    WAIT = "wait"
    RCA = "rca"


MUTATING = frozenset(
    {
        Action.ISOLATE,
        Action.RELEASE,
        Action.SCALE,
        Action.RESTORE,
        Action.LABEL,
        Action.ANNOTATE,
        Action.CORDON,
        Action.UNCORDON,
    }
)
DESTRUCTIVE = frozenset({Action.SCALE, Action.CORDON})

# What each action exposes as ``steps.<id>.outputs.<name>`` to later steps.
OUTPUTS: dict[str, frozenset[str]] = {
    Action.ISOLATE: frozenset({"policy", "namespace", "pods"}),
    Action.RELEASE: frozenset({"policy", "pods"}),
    Action.COLLECT: frozenset({"bundle", "tarball", "sha256", "uri", "files", "failures", "nodes"}),
    Action.SCALE: frozenset({"workloads"}),
    Action.RESTORE: frozenset({"workloads"}),
    Action.LABEL: frozenset({"pods"}),
    Action.ANNOTATE: frozenset({"pods"}),
    Action.CORDON: frozenset({"node"}),
    Action.UNCORDON: frozenset({"node"}),
    Action.NOTIFY: frozenset({"channel", "status"}),
    Action.WAIT: frozenset({"seconds"}),
    Action.RCA: frozenset({"path"}),
}


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Metadata(Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    description: str = ""
    severity: Severity = Severity.HIGH
    owner: str = ""


class Param(Strict):
    type: Literal["string", "integer", "boolean", "list"] = "string"
    default: Any = None
    required: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _required_has_no_default(self) -> Param:
        if self.required and self.default is not None:
            raise ValueError("a required param takes no default")
        return self


class AlertmanagerMatch(Strict):
    """Every listed label/annotation must equal the alert's (``~regex`` values match by regex)."""

    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    status: Literal["firing", "resolved", "any"] = "firing"


class FalcoMatch(Strict):
    rules: list[str] = []
    priority: str | None = Field(default=None, pattern=r"^(>=|<=|>|<|==)?\s*[A-Za-z]+$")
    tags: list[str] = []  # every listed tag must be on the event
    output_fields: dict[str, str] = Field(default={}, alias="outputFields")


class Match(Strict):
    alertmanager: AlertmanagerMatch | None = None
    falco: FalcoMatch | None = None


class Step(Strict):
    id: str
    action: Action
    with_: dict[str, Any] = Field(default={}, alias="with")
    when: str | None = None
    on_failure: Literal["abort", "continue"] = "abort"
    retries: int = Field(default=0, ge=0, le=10)
    timeout: float = Field(default=300, gt=0, le=86400)
    approval: Literal["required", "none"] = "none"
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not STEP_ID.match(v):
            raise ValueError(
                "a step id is lower-case letters, digits and '_', starting with a letter"
            )
        return v


class Runbook(Strict):
    api_version: Literal["irkit.io/v1"] = Field(alias="apiVersion")
    kind: Literal["Runbook"]
    metadata: Metadata
    params: dict[str, Param] = {}
    match: Match = Match()
    steps: list[Step] = Field(min_length=1)

    @field_validator("params")
    @classmethod
    def _param_names(cls, v: dict[str, Param]) -> dict[str, Param]:
        for name in v:
            if not PARAM_NAME.match(name):
                raise ValueError(f"param name {name!r}: lower-case letters, digits and '_'")
        return v

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, v: list[Step]) -> list[Step]:
        seen: set[str] = set()
        for step in v:
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r}")
            seen.add(step.id)
        return v

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)
