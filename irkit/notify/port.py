"""The ``Notifier`` port: what the ``notify`` action hands a sender, and what it gets back.

Like ``irkit.cluster.port``, the port lives beside its adapters (``slack``, ``webhook``,
``sns``) and imports nothing of theirs, so the core (``irkit.actions.notify``, the engine) can
depend on it without any HTTP or AWS library. ``truncate`` is part of the contract: every sender
cuts an oversized message (marking the cut) rather than dropping the notification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Notification:
    title: str
    message: str
    incident: str = ""
    severity: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NotifyResult:
    channel: str  # slack, webhook, sns
    destination: str  # fit for logs: scheme://host, or the topic ARN; never a webhook's path
    status: str  # sent, dry-run
    detail: str = ""  # HTTP status, SNS MessageId
    truncated: bool = False


class Notifier(Protocol):
    def send(self, message: Notification) -> NotifyResult: ...


def truncate(text: str, max_bytes: int) -> tuple[str, bool]:
    """``text`` cut to ``max_bytes`` of UTF-8 (on a character boundary), with a marker."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text, False
    marker = f"\n… [cut by irkit: {len(data)} bytes, limit {max_bytes}]"
    kept = data[: max_bytes - len(marker.encode())].decode("utf-8", "ignore")
    return kept + marker, True
