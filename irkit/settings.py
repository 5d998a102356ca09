"""Settings: frozen dataclass groups, each field documented with its default, unit and reason.

Resolution order, done once at an entry point (CLI, server, drill): flags > ``IRKIT_*``
environment variables > defaults. Core code receives these objects; it never reads the
environment itself.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from irkit.errors import UsageError

T = TypeVar("T")
MiB = 1 << 20


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
    """Kubeconfig file, or a list of them joined by os.pathsep and merged as kubectl merges
    them; None = $KUBECONFIG, then ~/.kube/config, then the in-cluster service account."""
    context: str | None = None
    """Kubeconfig context; None = the current context."""
    request_timeout: float = 30.0
    """Seconds to wait for an answer to one request (log streams: between two reads)."""
    pool_size: int = 16
    """HTTP connections kept open; at least the collect concurrency, so workers never queue."""
    page_size: int = 500
    """Objects per list request (``limit``); lists follow ``continue`` tokens to the end."""
    retry: RetrySettings = field(default_factory=RetrySettings)


@dataclass(frozen=True)
class S3Settings:
    """Where ``collect`` stores packed bundles in S3, and how. ``irkit.evidence.s3`` reads it."""

    bucket: str = ""
    """Bucket name; "" = S3 not configured. Set from ``s3://bucket/prefix`` via ``parse_s3_uri``."""
    prefix: str = ""
    """Key prefix ("folder", no leading or trailing slash); "" = the bucket's top level."""
    endpoint_url: str | None = None
    """S3 endpoint; None = boto3's default chain (honours AWS_ENDPOINT_URL, e.g. MinIO, moto)."""
    region: str | None = None
    """AWS region; None = boto3's default chain (AWS_REGION, AWS_DEFAULT_REGION, profile)."""
    sse: Literal["AES256", "aws:kms"] | None = None
    """Server-side encryption asked for per object; None = the bucket's default encryption."""
    kms_key_id: str | None = None
    """KMS key (id, ARN or alias) for ``sse="aws:kms"``; None = the account's aws/s3 key."""
    object_lock_days: int = 0
    """Days of Object Lock retention set on each object (UTC now + days); 0 = none set by irkit
    (a bucket's default retention still applies). The bucket must have Object Lock enabled."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """GOVERNANCE: privileged users can still shorten it; COMPLIANCE: nobody can, not even root.
    GOVERNANCE by default because a COMPLIANCE mistake cannot be undone."""
    part_size: int = 16 * MiB
    """Bytes per multipart part, and the largest file sent in one PutObject. S3 allows 5 MiB to
    5 GiB; it is raised automatically to keep a file under S3's 10,000 parts."""
    concurrency: int = 8
    """Parts uploaded in parallel; also the most parts held in memory (8 x 16 MiB = 128 MiB)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Object tags on every upload (merged under the per-upload tags), e.g. {"retention": "ir"}."""

    def __post_init__(self) -> None:
        if self.sse not in (None, "AES256", "aws:kms"):
            raise UsageError(f"S3 sse must be AES256 or aws:kms, not {self.sse!r}")
        if self.kms_key_id and self.sse != "aws:kms":
            raise UsageError("an S3 kms_key_id needs sse='aws:kms'")
        if self.object_lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            mode = self.object_lock_mode
            raise UsageError(f"S3 object_lock_mode must be GOVERNANCE or COMPLIANCE, not {mode!r}")
        if self.object_lock_days < 0:
            raise UsageError(f"S3 object_lock_days must be >= 0, not {self.object_lock_days}")
        if not 5 * MiB <= self.part_size <= 5 * 1024 * MiB:
            raise UsageError(f"S3 part_size must be 5 MiB to 5 GiB, not {self.part_size} bytes")
        if self.concurrency < 1:
            raise UsageError(f"S3 concurrency must be >= 1, not {self.concurrency}")


def state_home(env: Mapping[str, str] | None = None) -> Path:
    """Where irkit keeps its state: ``$IRKIT_HOME``, else ``$XDG_STATE_HOME/irkit``, else
    ``~/.local/state/irkit`` (the XDG default): the same folder whatever the working directory."""
    env = os.environ if env is None else env
    if env.get("IRKIT_HOME"):  # made absolute: the folder must not move with the cwd
        return Path(env["IRKIT_HOME"]).expanduser().absolute()
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: a relative value is to be ignored
        return Path(xdg) / "irkit"
    return Path("~/.local/state/irkit").expanduser()


def default_incidents_dir() -> str:
    return str(state_home() / "incidents")


@dataclass(frozen=True)
class RunSettings:
    """How ``irkit run`` (``irkit.engine``) runs a runbook."""

    incidents_dir: str = field(default_factory=default_incidents_dir)
    """Folder holding ``<incident id>/`` (journal, commands, evidence, RCA, lock); default
    ``<state home>/incidents`` (``state_home``: ``$IRKIT_HOME``, ``$XDG_STATE_HOME/irkit`` or
    ``~/.local/state/irkit``), never the working directory."""
    alert_max_bytes: int = MiB
    """Largest alert payload accepted, serialized as JSON: alert text is hostile input, and a
    bigger one is refused before any step runs."""
    retry_initial: float = 1.0
    """Seconds before a step's first retry (``retries:``); doubles each time, with jitter."""
    retry_max: float = 30.0
    """Seconds: the longest wait between two attempts of a step (a server's Retry-After counts
    up to this). Waits never go past the step's ``timeout``."""


def from_env(cls: type[T], prefix: str, env: Mapping[str, str] | None = None) -> T:
    """Defaults of ``cls`` overridden by ``{prefix}{FIELD}`` environment variables. A value
    that is not a number where one is needed, or not above 0 (not below 0 where 0, the
    default, means "off"), is a UsageError naming the variable."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        name = f"{prefix}{f.name.upper()}"
        raw = env.get(name)
        if raw is None:
            continue
        default = getattr(cls(), f.name)
        kind = type(default)
        if kind not in (int, float):
            values[f.name] = raw
            continue
        try:
            value = kind(raw.strip())
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise UsageError(f"{name}={raw[:40]!r}: not {what}") from None
        least = "0 or more" if default == 0 else "above 0"
        if not math.isfinite(value) or value < 0 or (value == 0 and default != 0):
            raise UsageError(f"{name}={raw[:40]!r}: must be a number {least}")
        values[f.name] = value
    return replace(cls(), **values)  # type: ignore[type-var]
