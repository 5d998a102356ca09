"""What each action takes in ``with:``, after templates are rendered: one strict model per action.

``irkit validate`` checks keys (with "did you mean") and literal values against these before an
incident; the engine validates the rendered values again before running a step. Field docstrings
are the descriptions ``irkit schema`` and docs/runbooks.md show.

A template always renders to a string, so an empty string is how a runbook says "not given":
an optional input (default ``None``) that renders to ``""`` is treated as absent, and so is an
empty item of a list (``audit_log: ["{{ params.audit_log }}"]`` with the param left empty).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from irkit.runbook.model import Action


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        out = {k: [x for x in v if x != ""] if isinstance(v, list) else v for k, v in data.items()}
        return {
            k: v
            for k, v in out.items()
            if not (v == "" and k in fields and fields[k].default is None)
        }


class _Targeted(_Input):
    namespace: str
    """Namespace of the target."""
    target: str | None = None
    """KIND/NAME as on the command line: pod/NAME, deployment/NAME, statefulset/NAME,
    daemonset/NAME, replicaset/NAME. Give this or selector."""
    selector: str | None = None
    """A label selector instead of target, e.g. ``app=api-server``."""

    @model_validator(mode="after")
    def _one_target(self) -> _Targeted:
        if (self.target is None) == (self.selector is None):
            raise ValueError("give exactly one of 'target' (KIND/NAME) or 'selector'")
        return self


class IsolateInput(_Targeted):
    """Cut the target off the network with a deny-all NetworkPolicy (``irkit isolate``)."""

    scope: Literal["workload", "pod"] | None = None
    """workload (default for workloads and selectors): the owner's pod selector, so replacement
    pods are isolated too; pod (default for pod/NAME): that pod only."""
    allow_dns: bool = False
    """Allow egress to the cluster DNS (kube-dns, port 53)."""
    allow_cidr: list[str] = []
    """Networks allowed in and out, e.g. a forensic workstation's ``10.0.9.0/24``."""
    allow_to: list[str] = []
    """Pods allowed in and out, as NAMESPACE or NAMESPACE/SELECTOR."""
    detach: bool = False
    """With scope pod: remove the labels Services and the owner select on, so traffic drains and a
    replacement starts."""
    strict: bool = False
    """Fail when other NetworkPolicies still allow traffic to the pods."""
    reason: str = ""
    """Why, recorded on the policy."""


class ReleaseInput(_Targeted):
    """Undo isolate: delete irkit's policy, remove the quarantine label (``irkit release``)."""


class CollectInput(_Targeted):
    """Collect logs, state, RBAC exposure and audit events into a hashed bundle
    (``irkit collect``)."""

    s3: str | None = None
    """Also store the tarball at ``s3://BUCKET/PREFIX``; empty: keep it local only."""
    s3_endpoint: str | None = None
    """S3 endpoint URL (MinIO, tests)."""
    sse: Literal["AES256", "aws:kms"] | None = None
    """Server-side encryption of the upload: AES256 or aws:kms."""
    kms_key_id: str | None = None
    """KMS key for sse aws:kms."""
    object_lock_days: int | None = Field(default=None, ge=1)
    """S3 Object Lock retention in days."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """GOVERNANCE or COMPLIANCE."""
    tags: dict[str, str] = {}
    """S3 object tags."""
    audit_log: list[str] = []
    """kube-apiserver audit log files to read events from."""
    eks_cluster: str | None = None
    """Read audit events from this EKS cluster's CloudWatch log group."""
    region: str | None = None
    """AWS region (S3, CloudWatch)."""
    since: str | None = None
    """Audit window start: RFC 3339 time or a duration before now (``2h``)."""
    until: str | None = None
    """Audit window end, as since."""
    actors: list[str] = []
    """ServiceAccounts (NAMESPACE:NAME) whose audit events are collected wherever they acted."""
    concurrency: int = Field(default=8, ge=1, le=64)
    """Pods read in parallel, 1 to 64."""


class SnapshotInput(_Targeted):
    """Record the target's pods, their owners and the namespace's NetworkPolicies and Services
    as they are, before containment changes them: a quick, sealed, state-only bundle
    (``irkit collect --state-only``). Put it before isolate."""


class ScaleInput(_Targeted):
    """Scale Deployments/StatefulSets down, recording their replicas (``irkit scale``)."""

    replicas: int = Field(default=0, ge=0)
    """Replicas to scale to."""
    force: bool = False
    """Also remove HorizontalPodAutoscalers targeting the workload (saved; restore recreates
    them). Without it an HPA makes scale refuse."""
    wait: bool = False
    """Wait until the pods are gone."""
    timeout: float = Field(default=120, gt=0)
    """Seconds wait waits at most."""


class RestoreInput(_Targeted):
    """Put back the replicas (and HPAs) scale recorded (``irkit restore``)."""

    wait: bool = False
    """Wait until the pods are back."""
    timeout: float = Field(default=120, gt=0)
    """Seconds wait waits at most."""


class LabelInput(_Targeted):
    """Set or remove labels (label) or annotations (annotate) on the target's pods."""

    set: dict[str, str] = {}
    """Keys and values to set."""
    remove: list[str] = []
    """Keys to remove."""

    @model_validator(mode="after")
    def _keys(self) -> LabelInput:
        """The label action's own key rules (``irkit.io/*`` is irkit's), so ``irkit validate``
        refuses what the run would; template keys are checked once rendered."""
        from irkit.errors import UsageError
        from irkit.model.labels import check
        from irkit.runbook.templating import is_template

        keys = [k for k in [*self.set, *self.remove] if not is_template(k)]
        try:
            if keys:
                check(dict.fromkeys(keys, ""), [], annotate=True)
        except UsageError as e:
            raise ValueError(str(e).replace("annotation key", "key")) from None
        return self


class CordonInput(_Input):
    """Mark a node unschedulable (cordon) or schedulable again (uncordon)."""

    node: str
    """The node's name, e.g. from ``alert.output_fields['k8s.node.name']``."""


class NotifyInput(_Input):
    """Send a message to Slack (incoming webhook), a generic webhook or AWS SNS."""

    channel: Literal["slack", "webhook", "sns"]
    """slack, webhook or sns."""
    url: str | None = None
    """The Slack incoming webhook or generic webhook URL (slack, webhook)."""
    topic_arn: str | None = None
    """The SNS topic (sns)."""
    region: str | None = None
    """AWS region (sns)."""
    message: str
    """The text; alert fields in it are data, never templates."""
    title: str = ""
    """A heading, where the channel has one."""

    @model_validator(mode="after")
    def _destination(self) -> NotifyInput:
        if self.channel == "sns" and not self.topic_arn:
            raise ValueError("channel sns needs 'topic_arn'")
        if self.channel != "sns" and not self.url:
            raise ValueError(f"channel {self.channel} needs 'url'")
        return self


class WaitInput(_Input):
    """Pause, e.g. for a replacement pod to start."""

    seconds: float = Field(gt=0, le=3600)
    """How long, up to an hour."""


class RcaInput(_Input):
    """Write the RCA draft (Markdown) from the journal and the evidence manifests."""

    template: str | None = None
    """A Jinja2 template file to use instead of irkit's: a path relative to the runbook's
    folder, without '..'."""
    output: str | None = None
    """A file name ending in .md (no '/', not starting with '.') in the incident's folder,
    instead of rca.md."""


INPUTS: dict[Action, type[_Input]] = {
    Action.ISOLATE: IsolateInput,
    Action.RELEASE: ReleaseInput,
    Action.COLLECT: CollectInput,
    Action.SNAPSHOT: SnapshotInput,
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
