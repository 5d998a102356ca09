"""What each action takes in ``with:``, after templates are rendered: one strict model per action.

``irkit validate`` checks keys (with "did you mean") and literal values against these before an
incident; the engine validates the rendered values again before running a step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from irkit.runbook.model import Action


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Targeted(_Input):
    namespace: str
    target: str | None = None  # KIND/NAME, as on the command line
    selector: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _Targeted:
        if (self.target is None) == (self.selector is None):
            raise ValueError("give exactly one of 'target' (KIND/NAME) or 'selector'")
        return self


class IsolateInput(_Targeted):
    scope: Literal["workload", "pod"] | None = None
    allow_dns: bool = False
    allow_cidr: list[str] = []
    allow_to: list[str] = []
    detach: bool = False
    strict: bool = False
    reason: str = ""


class ReleaseInput(_Targeted):
    pass


class CollectInput(_Targeted):
    s3: str | None = None
    s3_endpoint: str | None = None
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    object_lock_days: int | None = Field(default=None, ge=1)
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    tags: dict[str, str] = {}
    audit_log: list[str] = []
    eks_cluster: str | None = None
    region: str | None = None
    since: str | None = None
    until: str | None = None
    actors: list[str] = []
    concurrency: int = Field(default=8, ge=1, le=64)


class ScaleInput(_Targeted):
    replicas: int = Field(default=0, ge=0)
    force: bool = False
    wait: bool = False
    timeout: float = Field(default=120, gt=0)


class RestoreInput(_Targeted):
    wait: bool = False
    timeout: float = Field(default=120, gt=0)


class LabelInput(_Targeted):
    set: dict[str, str] = {}
    remove: list[str] = []


class CordonInput(_Input):
    node: str


class NotifyInput(_Input):
    channel: Literal["slack", "webhook", "sns"]
    url: str | None = None  # slack incoming webhook or generic webhook URL
    topic_arn: str | None = None  # sns
    region: str | None = None
    message: str
    title: str = ""

    @model_validator(mode="after")
    def _destination(self) -> NotifyInput:
        if self.channel == "sns" and not self.topic_arn:
            raise ValueError("channel sns needs 'topic_arn'")
        if self.channel != "sns" and not self.url:
            raise ValueError(f"channel {self.channel} needs 'url'")
        return self


class WaitInput(_Input):
    seconds: float = Field(gt=0, le=3600)


class RcaInput(_Input):
    template: str | None = None
    output: str | None = None


INPUTS: dict[Action, type[_Input]] = {
    Action.ISOLATE: IsolateInput,
    Action.RELEASE: ReleaseInput,
    Action.COLLECT: CollectInput,
    Action.SCALE: ScaleInput,
    Action.RESTORE: RestoreInput,
    Action.LABEL: LabelInput,
    Action.ANNOTATE: LabelInput,
    Action.CORDON: CordonInput,
    Action.UNCORDON: CordonInput,
    Action.NOTIFY: NotifyInput,
    Action.WAIT: WaitInput,
    Action.RCA: RcaInput,
}


def fields_of(action: Action) -> dict[str, Any]:
    return dict(INPUTS[action].model_fields)
