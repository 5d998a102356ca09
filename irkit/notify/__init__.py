"""Build the ``Notifier`` a runbook step asks for (``irkit.actions.notify`` holds the port).

The CLI and the server hand ``notifier_for`` to the engine; the engine itself never builds
adapters. boto3 is imported only when a step uses SNS.
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.actions.notify import Notifier, http_notifier
from irkit.actions.webhook import ATTEMPTS
from irkit.errors import UsageError


def notifier_for(
    channel: str,
    *,
    url: str | None = None,
    topic_arn: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    attempts: int = ATTEMPTS,
) -> Notifier:
    """``channel`` is slack, webhook or sns, as in a notify step's ``with:``. ``attempts``: how
    often a webhook is tried on transient failures; the engine passes 1, since a step's own
    ``retries:`` already repeats it (else 3 x (retries + 1) POSTs)."""
    if channel == "sns":
        if not topic_arn:
            raise UsageError("notify: channel sns needs 'topic_arn'")
        from irkit.notify.sns import SnsTopic  # boto3, only when SNS is used

        return SnsTopic(topic_arn, region, endpoint_url)
    return http_notifier(channel, url, headers, attempts=attempts)
