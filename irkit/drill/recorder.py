"""A simulator drill's notifications, recorded instead of sent.

Rehearsing on the simulator must not page the real channel the runbook names (its Slack
webhook, its SNS topic): ``RecordingNotifiers`` answers every notify step with a ``recorded``
result and keeps what would have gone out for the report. ``--notify-for-real`` bypasses it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from irkit.actions.specs.notify import NotifyInput
from irkit.notify.port import Notification, Notifier, NotifyResult


class RecordingNotifiers:
    """A ``NotifierFactory`` whose notifiers only record (``sent`` lists them)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, inputs: NotifyInput) -> Notifier:
        host = urlsplit(inputs.url).hostname if inputs.url else None
        where = host or inputs.topic_arn or "?"  # never a webhook's path: it is the secret
        return _Recorder(self.sent, inputs.channel, str(where))


class _Recorder:
    def __init__(self, sent: list[str], channel: str, where: str) -> None:
        self.sent, self.channel, self.where = sent, channel, where

    def send(self, message: Notification) -> NotifyResult:
        self.sent.append(f"{self.channel} to {self.where}: {message.title}")
        return NotifyResult(self.channel, self.where, "recorded", "drill: not sent")


__all__ = ["RecordingNotifiers"]
