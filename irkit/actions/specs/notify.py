"""``notify`` as a runbook step: one message to Slack, a webhook or SNS."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import model_validator

from irkit.actions import notify as notify_action
from irkit.actions.inputs import Input
from irkit.actions.spec import ActionSpec, StepCall, StepOutcome


class NotifyInput(Input):
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

    @classmethod
    def schema_rules(cls) -> dict[str, Any]:
        return {
            "if": {"properties": {"channel": {"const": "sns"}}, "required": ["channel"]},
            "then": {"required": ["topic_arn"]},
            "else": {"required": ["url"]},
        }

    @model_validator(mode="after")
    def _destination(self) -> NotifyInput:
        if self.channel == "sns" and not self.topic_arn:
            raise ValueError("channel sns needs 'topic_arn'")
        if self.channel != "sns" and not self.url:
            raise ValueError(f"channel {self.channel} needs 'url'")
        return self


def run(call: StepCall) -> StepOutcome:
    inp = cast(NotifyInput, call.inputs)
    meta = call.runbook.metadata
    notification = notify_action.Notification(
        title=inp.title or f"irkit: {meta.name} ({call.incident})",
        message=inp.message,
        incident=call.incident,
        severity=str(meta.severity),
        fields={"runbook": meta.name, "step": call.step.id},
    )
    notifier = call.adapters.notifiers(inp)
    outputs = notify_action.notify(notifier, notification, dry_run=call.dry_run)
    note = f"{outputs.get('channel', inp.channel)}: {outputs.get('status', '')}"
    plan = {"channel": inp.channel, "to": repr(notifier), "message": inp.message}
    return StepOutcome(
        "dry-run" if call.dry_run else "ok", outputs, note, plan if call.dry_run else {}
    )


NOTIFY = ActionSpec(
    name="notify",
    inputs=NotifyInput,
    outputs=frozenset({"channel", "status"}),
    needs=(),  # Slack, webhooks, SNS: no Kubernetes API
    runner=run,
    secret_url=True,
)
