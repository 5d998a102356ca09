"""``notify``: tell people. A ``Notifier`` port, and its two HTTP adapters (Slack, generic webhook).

The AWS SNS adapter lives in ``irkit.notify.sns`` (the core never imports boto3); build any of
them from a runbook step with ``irkit.notify.notifier_for``.

The message is data: the engine has rendered the runbook's template already, and nothing here
interprets it again. It often quotes alert text an attacker controls, so for Slack ``& < >`` are
escaped (no ``<!channel>`` pings, no disguised links), unfurling is off, and every adapter cuts
an oversized message (marking the cut) rather than dropping the notification.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from irkit.actions.webhook import ATTEMPTS, Sleep, check_headers, parse_url, post_json
from irkit.errors import UsageError
from irkit.model.journal import utc_now

SLACK_MAX_BYTES = 40_000  # Slack truncates longer messages itself
SLACK_SECTION_CHARS = 3000  # per section block
SLACK_HEADER_CHARS = 150
SLACK_SECTIONS = 14  # of 3000 characters: the 40,000 Slack shows, within its 50 blocks
SLACK_FIELD_CHARS = 300  # before escaping (at most 5x longer after; Slack allows 2000)
SLACK_FIELDS = 10  # per section block
_CUT = "… [cut by irkit]"
WEBHOOK_MAX_BYTES = 64 * 1024
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


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


class SlackWebhook:
    """A Slack incoming webhook: ``{"text": fallback, "blocks": [...]}``."""

    channel = "slack"

    def __init__(
        self, url: str, *, timeout: float = 10.0, attempts: int = 3, sleep: Sleep = time.sleep
    ) -> None:
        self._url = parse_url(url, "slack webhook")
        self._timeout, self._attempts, self._sleep = timeout, attempts, sleep

    def __repr__(self) -> str:
        return f"SlackWebhook({self._url.shown!r})"

    def send(self, message: Notification) -> NotifyResult:
        payload, truncated = slack_payload(message)
        status = post_json(
            self._url,
            payload,
            channel=self.channel,
            timeout=self._timeout,
            attempts=self._attempts,
            sleep=self._sleep,
        )
        return NotifyResult(self.channel, self._url.shown, "sent", f"HTTP {status}", truncated)


class GenericWebhook:
    """Any HTTPS endpoint taking JSON ``{title, message, incident, severity, fields, ...}``."""

    channel = "webhook"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._url = parse_url(url, "webhook")
        self._headers = check_headers(headers or {}, "webhook")
        self._timeout, self._attempts, self._sleep = timeout, attempts, sleep

    def __repr__(self) -> str:
        return f"GenericWebhook({self._url.shown!r})"

    def send(self, message: Notification) -> NotifyResult:
        text, truncated = truncate(message.message, WEBHOOK_MAX_BYTES)
        payload = {
            "source": "irkit",
            "title": message.title,
            "message": text,
            "incident": message.incident,
            "severity": message.severity,
            "fields": {str(k): str(v) for k, v in message.fields.items()},
            "truncated": truncated,
            "sent_at": utc_now(),
        }
        status = post_json(
            self._url,
            payload,
            channel=self.channel,
            headers=self._headers,
            timeout=self._timeout,
            attempts=self._attempts,
            sleep=self._sleep,
        )
        return NotifyResult(self.channel, self._url.shown, "sent", f"HTTP {status}", truncated)


def http_notifier(
    channel: str,
    url: str | None,
    headers: Mapping[str, str] | None = None,
    *,
    attempts: int = ATTEMPTS,
) -> Notifier:
    """The stdlib senders: ``slack`` or ``webhook`` to ``url``. (SNS lives in irkit.notify.)"""
    if channel not in ("slack", "webhook"):
        raise UsageError(f"notify: unknown channel {channel!r} (slack, webhook or sns)")
    if not url:
        raise UsageError(f"notify: channel {channel} needs 'url'")
    if channel == "slack":
        return SlackWebhook(url, attempts=attempts)
    return GenericWebhook(url, headers, attempts=attempts)


def slack_payload(message: Notification) -> tuple[dict[str, Any], bool]:
    text, truncated = truncate(message.message, SLACK_MAX_BYTES)
    blocks: list[dict[str, Any]] = []
    if message.title:
        title = message.title[:SLACK_HEADER_CHARS]
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": title}})
    chunks = slack_chunks(text, SLACK_SECTION_CHARS)
    if len(chunks) > SLACK_SECTIONS:  # escaping made it longer than Slack shows
        chunks, truncated = chunks[:SLACK_SECTIONS], True
        chunks[-1] = chunks[-1][: SLACK_SECTION_CHARS - len(_CUT)] + _CUT
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks]
    facts = {"Incident": message.incident, "Severity": message.severity, **message.fields}
    items = [
        {"type": "mrkdwn", "text": f"*{_field(k)}*\n{_field(v)}"} for k, v in facts.items() if v
    ]
    blocks += [
        {"type": "section", "fields": items[i : i + SLACK_FIELDS]}
        for i in range(0, len(items), SLACK_FIELDS)
    ]
    fallback = f"{message.title}: {text}" if message.title else text
    payload = {
        "text": slack_escape(truncate(fallback, SLACK_SECTION_CHARS)[0]),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    return payload, truncated


def _field(value: object) -> str:
    text = str(value)
    return slack_escape(text if len(text) <= SLACK_FIELD_CHARS else text[:SLACK_FIELD_CHARS] + "…")


def slack_escape(text: str) -> str:
    return "".join(_SLACK_ESCAPES.get(c, c) for c in text)


def slack_chunks(text: str, limit: int) -> list[str]:
    """Escaped pieces of at most ``limit`` characters, never splitting an ``&amp;``."""
    out: list[str] = []
    piece: list[str] = []
    size = 0
    for c in text:
        escaped = _SLACK_ESCAPES.get(c, c)
        if size + len(escaped) > limit:
            out.append("".join(piece))
            piece, size = [], 0
        piece.append(escaped)
        size += len(escaped)
    if piece:
        out.append("".join(piece))
    return out


def truncate(text: str, max_bytes: int) -> tuple[str, bool]:
    """``text`` cut to ``max_bytes`` of UTF-8 (on a character boundary), with a marker."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text, False
    marker = f"\n… [cut by irkit: {len(data)} bytes, limit {max_bytes}]"
    kept = data[: max_bytes - len(marker.encode())].decode("utf-8", "ignore")
    return kept + marker, True
