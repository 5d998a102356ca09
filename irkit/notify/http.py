"""POST JSON to a webhook: the one HTTP client of the Slack and webhook senders (stdlib ``urllib``).

- TLS is verified (the default context); plain http is accepted for loopback hosts only, so tests
  and local relays work while a typo cannot send incident details in clear text.
- 10 s timeout; redirects are not followed (a 30x would send the incident text to a host the
  runbook does not name); the response is read up to 4 KiB.
- Retries: 429, 5xx and connection failures only, ``ATTEMPTS`` in all, honouring Retry-After up
  to 10 s. A 4xx is final: sending the same request again cannot fix it. That loop is for a
  sender used on its own; the engine builds senders with one attempt and retries the step
  instead, from the ``NotifyError``'s ``transient`` and ``retry_after``.
- Webhook URLs are secrets (Slack's carries its token in the path): errors and logs show
  ``scheme://host[:port]`` only, and remote text is cut and scrubbed of the path.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from irkit.errors import NotifyError, UsageError, cut
from irkit.redact import scrub

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF = (1.0, 3.0)  # seconds before the 2nd and 3rd attempt
MAX_RETRY_AFTER = 10.0
MAX_RESPONSE = 4096
TRANSIENT = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "irkit-notify/1"
Sleep = Callable[[float], None]


@dataclass(frozen=True, repr=False)
class WebhookUrl:
    """A checked URL. ``shown`` (scheme://host[:port]) is the only part fit for messages."""

    url: str
    shown: str
    loopback: bool

    def __repr__(self) -> str:
        return f"WebhookUrl({self.shown!r})"


def parse_url(url: str, what: str) -> WebhookUrl:
    """Check ``url`` (https, or http to a loopback host); UsageErrors never repeat the URL."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError(f"{what} URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UsageError(f"{what} URL is malformed") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not host:
        raise UsageError(f"{what} URL has no host (expected https://HOST/...)")
    shown = f"{scheme}://{f'[{host}]' if ':' in host else host}{f':{port}' if port else ''}"
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{what} URL {shown}: credentials in the URL are not supported")
    loopback = host in LOOPBACK
    if scheme == "http" and not loopback:
        raise UsageError(
            f"{what} URL {shown}: plain http is allowed for localhost only; use https",
        )
    if scheme not in ("https", "http"):
        raise UsageError(f"{what} URL: scheme {scheme!r} is not supported; use https")
    return WebhookUrl(url, shown, loopback)


def check_headers(headers: Mapping[str, str], what: str) -> dict[str, str]:
    """Header values are often tokens: errors name the header, never its value."""
    for name, value in headers.items():
        if not name or any(c in name for c in ":\r\n\0 ") or not name.isascii():
            raise UsageError(f"{what}: {name[:40]!r} is not a valid header name")
        if any(c in value for c in "\r\n\0"):
            raise UsageError(f"{what}: the value of header {name!r} contains a line break")
    return dict(headers)


def post_json(
    url: WebhookUrl,
    payload: Any,
    *,
    channel: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
    attempts: int = ATTEMPTS,
    sleep: Sleep = time.sleep,
) -> int:
    """POST ``payload``; return the 2xx status or raise NotifyError naming ``url.shown``."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    opener = _DIRECT if url.loopback else _OPENER
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        # S310: parse_url admitted https, or http to loopback, nothing else.
        request = urllib.request.Request(url.url, data=body, headers=sent, method="POST")  # noqa: S310
        delay = BACKOFF[min(attempt, len(BACKOFF)) - 1]
        # ``from None`` below, deliberately: urllib's exceptions carry the full URL.
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(MAX_RESPONSE)
                return int(response.status)
        except urllib.error.HTTPError as e:
            status, text = e.code, _remote_text(e, url)
            asked = _retry_after(e.headers, None)
            delay = delay if asked is None else asked
            e.close()
            reason = f"HTTP {status}" + (f" ({text})" if text else "")
            if status not in TRANSIENT or attempt == attempts:
                raise NotifyError(
                    f"{channel} notification to {url.shown} failed: {reason}",
                    destination=url.shown,
                    status=status,
                    transient=status in TRANSIENT,
                    retry_after=asked if status in TRANSIENT else None,
                    hint=_hint(status),
                ) from None
        except (OSError, http.client.HTTPException) as e:  # refused, reset, timeout, TLS, DNS
            reason = scrub(_transport_reason(e), url.url)
            if attempt == attempts:
                raise NotifyError(
                    f"{channel} notification to {url.shown} failed: {reason}",
                    destination=url.shown,
                    transient=True,
                ) from None
        log.warning(
            "%s notification to %s: %s; retrying in %.1f s (attempt %d of %d)",
            *(channel, url.shown, reason, delay, attempt + 1, attempts),
        )
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 30x status


_OPENER = urllib.request.build_opener(
    _NoRedirect(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
)
# Loopback never goes through a proxy from the environment.
_DIRECT = urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))


def _remote_text(e: urllib.error.HTTPError, url: WebhookUrl) -> str:
    try:
        raw = e.read(MAX_RESPONSE)
    except (OSError, http.client.HTTPException):
        return ""
    return cut(scrub(raw.decode("utf-8", "replace"), url.url))


def _retry_after(headers: Any, default: float | None) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(raw))) if raw is not None else default
    except ValueError:  # an HTTP date: rare for webhooks; our own backoff will do
        return default


def _transport_reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.URLError) and isinstance(e.reason, BaseException):
        e = e.reason
    if isinstance(e, TimeoutError):
        return "no answer (timed out)"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed: {cut(str(e), 160)}"
    return f"no connection: {type(e).__name__}: {cut(str(e), 160)}"


def _hint(status: int) -> str | None:
    if status in (404, 410):
        return "the webhook may have been revoked or mistyped (its URL is a secret, so not shown)"
    if status in (401, 403):
        return "the destination refused the request: check the webhook's token or headers"
    if 300 <= status < 400:
        return "the webhook redirects; irkit does not follow redirects: use the final URL"
    return None
