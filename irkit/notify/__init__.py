"""Build the ``Notifier`` a runbook step asks for (``irkit.actions.notify`` holds the port).

The CLI and the server hand ``notifier_for`` to the engine; the engine itself never builds
adapters. boto3 is imported only when a step uses SNS.
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.actions.notify import GenericWebhook, Notifier, SlackWebhook
from irkit.errors import UsageError


def notifier_for(
    channel: str,
    *,
    url: str | None = None,
    topic_arn: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Notifier:
    """``channel`` is slack, webhook or sns, as in a notify step's ``with:``."""
    if channel == "sns":
        if not topic_arn:
            raise UsageError("notify: channel sns needs 'topic_arn'")
        from irkit.notify.sns import SnsTopic  # boto3, only when SNS is used

        return SnsTopic(topic_arn, region, endpoint_url)
    if channel not in ("slack", "webhook"):
        raise UsageError(f"notify: unknown channel {channel!r} (slack, webhook or sns)")
    if not url:
        raise UsageError(f"notify: channel {channel} needs 'url'")
    return SlackWebhook(url) if channel == "slack" else GenericWebhook(url, headers)
