"""Streaming a container log as the kubelet does: the query options of ``GET .../log`` and the
bytes they select from a ``LogSource``.

Its own module because the options and their byte-exact rules are a job apart from where lines
come from (``irkit.sim.logs``). ``stream_log`` positions at the last ``tailLines`` lines, drops
lines older than the since bound (``sinceSeconds`` or ``sinceTime``), prefixes timestamps and cuts
at ``limitBytes`` even mid-line, holding one chunk and one line at a time.

``follow`` is accepted, but the sim has no live writers: every source is complete when served, so a
followed log ends where an unfollowed one does, as when following a terminated container.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from irkit.sim.logs import RFC3339, GeneratedLog, LogSource, format_timestamp, utc


@dataclass(frozen=True)
class LogOptions:
    """What a log request asks of the bytes: ``PodLogOptions`` without ``container`` and
    ``previous``, which choose the source. Checked as the apiserver checks them."""

    timestamps: bool = False
    """Prefix each line with its time (``format_timestamp``) and a space."""
    tail_lines: int | None = None
    """Only the last N lines (before the since filter, as the kubelet does it); None: all."""
    since_seconds: int | None = None
    """Only lines stamped at or after ``now`` minus this many seconds."""
    since_time: datetime | None = None
    """Only lines stamped at or after this time (timezone-aware)."""
    limit_bytes: int | None = None
    """Stop after this many bytes, counting prefixes and newlines, even inside a line."""
    follow: bool = False
    """Keep streaming new lines; the sim has none, so the stream ends anyway."""

    def __post_init__(self) -> None:
        errors = []
        if self.tail_lines is not None and self.tail_lines < 0:
            errors.append(f"tailLines: Invalid value: {self.tail_lines}: {_AT_LEAST_0}")
        if self.limit_bytes is not None and self.limit_bytes < 1:
            errors.append(f"limitBytes: Invalid value: {self.limit_bytes}: {_ABOVE_0}")
        if self.since_seconds is not None and self.since_time is not None:
            errors.append(f"Forbidden: at most one of {_SINCE_BOTH} may be specified")
        elif self.since_seconds is not None and self.since_seconds < 1:
            errors.append(f"sinceSeconds: Invalid value: {self.since_seconds}: {_ABOVE_0}")
        if self.since_time is not None and self.since_time.utcoffset() is None:
            errors.append(f"sinceTime: Invalid value: {self.since_time}: must have a timezone")
        if errors:  # several problems are listed together, as the apiserver aggregates them
            raise ValueError(errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> LogOptions:
        """Options from a parsed query string (``urllib.parse.parse_qs``); others are ignored."""
        first = {key: values[0] for key, values in query.items() if values}  # as the apiserver
        since_time = first.get("sinceTime")
        return cls(
            timestamps=_query_bool(first.get("timestamps")),
            tail_lines=_query_int(first, "tailLines"),
            since_seconds=_query_int(first, "sinceSeconds"),
            since_time=None if since_time is None else _query_time(since_time),
            limit_bytes=_query_int(first, "limitBytes"),
            follow=_query_bool(first.get("follow")),
        )


_AT_LEAST_0 = "must be greater than or equal to 0"
_ABOVE_0 = "must be greater than 0"
_SINCE_BOTH = "`sinceTime` or `sinceSeconds`"


def _query_bool(raw: str | None) -> bool:
    # Kubernetes reads any value but "0" and "false" as true, the empty string included.
    return raw is not None and raw.lower() not in ("0", "false")


def _query_int(first: Mapping[str, str], name: str) -> int | None:
    raw = first.get(name)
    if raw is None:
        return None
    if re.fullmatch(r"[+-]?[0-9]+", raw) is None:  # what Go's strconv.ParseInt accepts
        raise ValueError(f'{name}: Invalid value: "{raw}": must be an integer')
    return int(raw)


def _query_time(raw: str) -> datetime:
    if RFC3339.fullmatch(raw) is None:
        raise ValueError(f'sinceTime: Invalid value: "{raw}": must be an RFC3339 time')
    try:
        return datetime.fromisoformat(raw).astimezone(UTC)
    except ValueError as e:
        raise ValueError(f'sinceTime: Invalid value: "{raw}": {e}') from e


def stream_log(
    source: LogSource, options: LogOptions, now: datetime, chunk_size: int = 64 * 1024
) -> Iterator[bytes]:
    """The log as the kubelet sends it, in chunks of at most ``chunk_size`` bytes.

    Only one chunk and one line are held at a time, whatever the size of the log.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if isinstance(source, GeneratedLog) and options.limit_bytes is None:
        yield from _generated_chunks(source, options, utc(now, "now"), chunk_size)
        return
    buffer = bytearray()
    for line in _encoded_lines(source, options, utc(now, "now")):
        buffer += line
        while len(buffer) >= chunk_size:
            yield bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
    if buffer:
        yield bytes(buffer)


def _generated_chunks(
    source: GeneratedLog, options: LogOptions, now: datetime, chunk_size: int
) -> Iterator[bytes]:
    """Generated lines are in time order, so tail and since both reduce to a first index."""
    first = _first_index(source, options.tail_lines, _since(options, now))
    per_block = max(1, chunk_size // (source.line_length + 32))
    buffer = b""
    for block in range(first, source.line_count(), per_block):
        buffer += source.block_bytes(block, block + per_block, options.timestamps)
        while len(buffer) >= chunk_size:
            yield buffer[:chunk_size]
            buffer = buffer[chunk_size:]
    if buffer:
        yield buffer


def _since(options: LogOptions, now: datetime) -> datetime | None:
    if options.since_seconds is not None:
        try:
            return now - timedelta(seconds=options.since_seconds)
        except OverflowError:  # further back than datetime reaches: every line is newer
            return datetime.min.replace(tzinfo=UTC)
    return options.since_time


def _encoded_lines(source: LogSource, options: LogOptions, now: datetime) -> Iterator[bytes]:
    since = _since(options, now)
    remaining = options.limit_bytes
    for stamp, text in source.iter_lines(_first_index(source, options.tail_lines, since)):
        if since is not None and stamp < since:
            continue  # an out-of-order line inside the tail: the kubelet skips it too
        prefix = f"{format_timestamp(stamp)} " if options.timestamps else ""
        line = f"{prefix}{text}\n".encode()
        if remaining is not None:
            line = line[:remaining]
            remaining -= len(line)
        yield line
        if remaining == 0:
            return


def _first_index(source: LogSource, tail_lines: int | None, since: datetime | None) -> int:
    """Where streaming starts: the kubelet seeks to the tail first, then filters by time."""
    first = 0
    if tail_lines is not None:
        count = source.line_count()
        if count is None:  # one more pass over the log, in constant memory (a deque would not be)
            count = sum(1 for _ in source.iter_lines())
        first = max(count - tail_lines, 0)
    if since is not None:  # lines before the first one at or after `since` would all be dropped
        first = max(first, source.index_at_or_after(since))
    return first
