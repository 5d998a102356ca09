"""The Slack incoming-webhook sender of the ``Notifier`` port: ``{"text", "blocks"}`` over HTTPS.

The message often quotes alert text an attacker controls, so ``& < >`` are escaped (no
``<!channel>`` pings, no disguised links), unfurling is off, and the blocks stay within what
Slack shows (an oversized message is cut, and says so).
"""

from __future__ import annotations

import time
from typing import Any

from irkit.notify.http import ATTEMPTS, Sleep, parse_url, post_json
from irkit.notify.port import Notification, NotifyResult, truncate

SLACK_MAX_BYTES = 40_000  # Slack truncates longer messages itself
SLACK_SECTION_CHARS = 3000  # per section block
SLACK_HEADER_CHARS = 150
SLACK_SECTIONS = 14  # of 3000 characters: the 40,000 Slack shows, within its 50 blocks
SLACK_FIELD_CHARS = 300  # before escaping (at most 5x longer after; Slack allows 2000)
SLACK_FIELDS = 10  # per section block
_CUT = "… [cut by irkit]"
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


class SlackWebhook:
    """A Slack incoming webhook: ``{"text": fallback, "blocks": [...]}``."""

    channel = "slack"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        attempts: int = ATTEMPTS,
        sleep: Sleep = time.sleep,
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
