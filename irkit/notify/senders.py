"""The stdlib senders (Slack, generic webhook) by channel name: what the engine may build on its
own. SNS is not here: it needs boto3, and only ``irkit.notify.notifier_for`` builds it."""

from __future__ import annotations

from collections.abc import Mapping

from irkit.errors import UsageError
from irkit.notify.http import ATTEMPTS
from irkit.notify.port import Notifier


def http_notifier(
    channel: str,
    url: str | None,
    headers: Mapping[str, str] | None = None,
    *,
    attempts: int = ATTEMPTS,
) -> Notifier:
    """The stdlib senders: ``slack`` or ``webhook`` to ``url``. (SNS: ``notifier_for``.)"""
    if channel not in ("slack", "webhook"):
        raise UsageError(f"notify: unknown channel {channel!r} (slack, webhook or sns)")
    if not url:
        raise UsageError(f"notify: channel {channel} needs 'url'")
    if channel == "slack":
        from irkit.notify.slack import SlackWebhook

        return SlackWebhook(url, attempts=attempts)
    from irkit.notify.webhook import GenericWebhook

    return GenericWebhook(url, headers, attempts=attempts)
