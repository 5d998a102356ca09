"""Who may post alerts: a shared token, compared in constant time, or a verified client
certificate (mTLS, checked by the TLS layer before the app sees the request). Who may approve
a step: only the holder of the separate approver token (``IRKIT_SERVE_APPROVER_TOKEN`` or
``--approver-token-file``); neither the alert token nor a client certificate is enough, since
whoever can send alerts must not also be able to let a paused run go on.

The token comes from ``IRKIT_SERVE_TOKEN`` or ``--token-file``; a token file anyone else can
read is refused (the token is the only thing standing between the network and a quarantine).
"""

from __future__ import annotations

import hmac
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from irkit.errors import ConfigError, UsageError

MIN_TOKEN = 16
"""Characters: a shorter token is refused (guessable)."""


def load_token(
    env: Mapping[str, str],
    token_file: Path | None,
    *,
    variable: str = "IRKIT_SERVE_TOKEN",
    option: str = "--token-file",
) -> str | None:
    """The token from ``token_file`` (first line), else ``variable``; None if neither."""
    if token_file is not None:
        try:
            info = token_file.stat()
            if not private_file(token_file):
                raise UsageError(
                    f"{token_file}: readable by group or others (mode "
                    f"{stat.S_IMODE(info.st_mode):o}, owner uid {info.st_uid}): refused",
                    option=option,
                    hint=f"chmod 600 {token_file} (or 640 owned by root, as a Secret volume)",
                )
            text = token_file.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"{token_file}: {e.strerror or e}", option=option) from None
        return _checked(text.strip().splitlines()[0] if text.strip() else "", str(token_file))
    value = env.get(variable)
    return _checked(value.strip(), variable) if value is not None else None


def _checked(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN:
        raise ConfigError(f"{where}: the token must be at least {MIN_TOKEN} characters")
    if any(not c.isprintable() or c.isspace() for c in token):
        raise ConfigError(f"{where}: the token must be printable, without spaces")
    return token


def presented(headers: Mapping[str, str]) -> str | None:
    """The token a request carries: ``Authorization: Bearer T`` or ``X-Irkit-Token: T``."""
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    token = headers.get("x-irkit-token")
    return token.strip() if token else None


def token_ok(expected: str, given: str | None) -> bool:
    """Constant time in the token's content (``hmac.compare_digest``)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def private_file(path: Path) -> bool:
    """Whether ``path`` is kept from others (token files, the TLS key): no access for others,
    and none for the group unless root owns the file and the group may only read it. That is
    PostgreSQL's rule for key files, and how the kubelet mounts a Secret for a non-root pod
    (root-owned, group fsGroup, mode 0440)."""
    info = os.stat(path)
    if info.st_mode & stat.S_IRWXO:
        return False
    if info.st_mode & (stat.S_IWGRP | stat.S_IXGRP):
        return False
    return not info.st_mode & stat.S_IRGRP or info.st_uid == 0
