"""``notify``: tell people. The action sends one ``Notification`` through a ``Notifier`` it is
given (the port, ``irkit.notify.port``); the senders (Slack, webhook, SNS) live in
``irkit.notify`` and are built by the caller (the engine's ``Adapters.notifiers``).

The message is data: the engine has rendered the runbook's template already, and nothing here
interprets it again.
"""

from __future__ import annotations

from typing import Any

from irkit.notify.port import Notification, Notifier, NotifyResult

__all__ = ["Notification", "Notifier", "NotifyResult", "notify"]


def notify(
    notifier: Notifier, notification: Notification, *, dry_run: bool = False
) -> dict[str, Any]:
    """Send; return the step's outputs ``{channel, status}``. With ``dry_run`` nothing is sent
    (a notification cannot be sent "server-side dry"), and status is ``dry-run``."""
    if dry_run:
        channel = getattr(notifier, "channel", type(notifier).__name__)
        return {"channel": channel, "status": "dry-run"}
    result = notifier.send(notification)
    return {"channel": result.channel, "status": result.status}
