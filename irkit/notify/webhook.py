"""The generic webhook sender of the ``Notifier`` port: JSON ``{title, message, ...}`` to any
HTTPS endpoint, with optional headers (often tokens: errors name a header, never its value)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from irkit.model.journal import utc_now
from irkit.notify.http import ATTEMPTS, Sleep, check_headers, parse_url, post_json
from irkit.notify.port import Notification, NotifyResult, truncate

WEBHOOK_MAX_BYTES = 64 * 1024


class GenericWebhook:
    """Any HTTPS endpoint taking JSON ``{title, message, incident, severity, fields, ...}``."""

    channel = "webhook"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = 10.0,
        attempts: int = ATTEMPTS,
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
