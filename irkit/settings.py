"""Settings: frozen dataclass groups, each field documented with its default, unit and reason.

Resolution order, done once at an entry point (CLI, server, drill): flags > ``IRKIT_*``
environment variables > defaults. Core code receives these objects; it never reads the
environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetrySettings:
    attempts: int = 6
    """Most tries of one request on a transient error (429, 5xx, timeout, reset); 1 = no retry."""
    backoff_initial: float = 0.2
    """Seconds before the first retry; doubles each time, with full jitter."""
    backoff_max: float = 5.0
    """Seconds: the longest single wait, unless the server's Retry-After asks for more."""
    total_seconds: float = 60.0
    """Seconds: a request is given up after this long in all, whatever ``attempts`` says."""


@dataclass(frozen=True)
class ClusterSettings:
    kubeconfig: str | None = None
    """Kubeconfig file(s); None = $KUBECONFIG, then ~/.kube/config, then in-cluster config."""
    context: str | None = None
    """Kubeconfig context; None = the current context."""
    request_timeout: float = 30.0
    """Seconds to wait for an answer to one request (log streams: between two reads)."""
    pool_size: int = 16
    """HTTP connections kept open; at least the collect concurrency, so workers never queue."""
    page_size: int = 500
    """Objects per list request (``limit``); lists follow ``continue`` tokens to the end."""
    retry: RetrySettings = field(default_factory=RetrySettings)


def from_env(cls: type[T], prefix: str, env: Mapping[str, str] | None = None) -> T:
    """Defaults of ``cls`` overridden by ``{prefix}{FIELD}`` environment variables."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        raw = env.get(f"{prefix}{f.name.upper()}")
        if raw is None:
            continue
        kind = type(getattr(cls(), f.name))
        values[f.name] = kind(raw) if kind in (int, float, str) else raw
    return replace(cls(), **values)  # type: ignore[type-var]
