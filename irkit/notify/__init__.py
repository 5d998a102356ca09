"""The notification senders (adapters of the ``Notifier`` port in ``irkit.notify.port``), and
the factory that builds the one a runbook step asks for.

``slack`` and ``webhook`` are stdlib HTTP (``irkit.notify.http``, built by
``irkit.notify.senders``); ``sns`` is boto3 and is imported only when a step uses it. The
``notify`` action (``irkit.actions.notify``) sees the port only; the CLI and the server hand
``notifier_for`` to the engine, which builds no adapter itself beyond the stdlib default
(``senders.http_notifier``), so the core never reaches boto3.
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.errors import UsageError
from irkit.notify.http import ATTEMPTS
from irkit.notify.port import Notification, Notifier, NotifyResult
from irkit.notify.senders import http_notifier

__all__ = ["Notification", "Notifier", "NotifyResult", "http_notifier", "notifier_for"]


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
