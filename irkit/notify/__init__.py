"""The notification senders (adapters of the ``Notifier`` port in ``irkit.notify.port``), and
the factory that builds the one a runbook step asks for.

``slack`` and ``webhook`` are stdlib HTTP (``irkit.notify.http``); ``sns`` is boto3 and is
imported only when a step uses it. The ``notify`` action (``irkit.actions.notify``) sees the
port only; the CLI and the server hand ``notifier_for`` to the engine, which never builds
adapters itself beyond the stdlib default (``http_notifier``).
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.errors import UsageError
from irkit.notify.http import ATTEMPTS
from irkit.notify.port import Notification, Notifier, NotifyResult

__all__ = ["Notification", "Notifier", "NotifyResult", "http_notifier", "notifier_for"]


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
