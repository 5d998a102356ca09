"""Secrets out of what irkit writes down or shows: the one module owning the rules for text.

Webhook URLs carry their token in the path (Slack's does), params and header values are often
tokens, and irkit writes its command line, its params and its steps' inputs into journals,
RCAs, custody files and ``irkit.io/command`` annotations. Every such writer goes through here:

- ``redact_url``: a webhook-like URL becomes ``scheme://host[:port]/…``;
- ``redact_arg``: a command-line argument (``--set NAME=URL``, ``NAME=URL``, a bare URL);
- ``scrub``: a URL's path, query and token-like segments taken out of remote text;
- ``is_secret`` / ``journaled_params``: params replaced by ``REDACTED``.

Cluster *objects* (env values, ``last-applied-configuration``) are redacted by
``irkit.evidence.redact`` before they enter a bundle: same aim, different data (JSON objects,
not text), so it stays beside the bundle writer. Both are pure: no I/O, inputs never changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"token|secret|password|webhook|key", re.IGNORECASE)


def redact_url(text: str, *, always: bool = False) -> str:
    """``text`` as ``scheme://host[:port]/…`` when it is a webhook-like URL: http(s) with a
    path, query or fragment (where webhook tokens live), or any URL with credentials; any other
    text unchanged, e.g. ``s3://bucket/prefix`` (where evidence went: the RCA needs it, and it
    holds no secret). ``always``: a known webhook URL is cut whatever its shape. The one URL
    redactor: journals, run-start params, RCAs and ``irkit.io/command`` annotations use it."""
    if "://" not in text and not always:
        return text
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return "?://?/…"
    if not always and (not parts.scheme or not parts.netloc):
        return text
    web = parts.scheme.lower() in ("http", "https")
    secret = "@" in parts.netloc or (
        web and (parts.path.strip("/") or parts.query or parts.fragment)
    )
    if not secret and not always:
        return text
    host = parts.hostname or "?"
    shown = f"{f'[{host}]' if ':' in host else host}{f':{port}' if port else ''}"
    return f"{parts.scheme}://{shown}/…"


def redact_arg(arg: str) -> str:
    """One command-line argument with its webhook-like URL cut (``redact_url``): the bare URL,
    ``NAME=URL`` or ``--set=NAME=URL``; ``s3://`` URIs are kept."""
    at = arg.find("://")
    if at < 0:
        return arg
    start = arg.rfind("=", 0, at) + 1  # --set=NAME=URL, NAME=URL or the bare URL
    return arg[:start] + redact_url(arg[start:])


def scrub(text: str, url: str) -> str:
    """Remove the URL's path, query and any long path segment (a token) from ``text``."""
    parts = urlsplit(url)
    secrets = [url, parts.path, parts.query, *(s for s in parts.path.split("/") if len(s) >= 8)]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "…")
    return text


def is_secret(name: str, value: Any) -> bool:
    """A param not fit for the journal or the RCA: a secret-sounding name, or a webhook-like
    URL (``redact_url``: an http(s) URL with a path carries its token in it; s3:// does not)."""
    if value is None or value == "":
        return False
    return bool(_SECRET_NAME.search(name)) or (
        isinstance(value, str) and redact_url(value) != value
    )


def journaled_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every secret (``is_secret``) replaced by ``REDACTED``; a resumed run asks
    for those again (``--set``)."""
    return {k: REDACTED if is_secret(k, v) else v for k, v in values.items()}
