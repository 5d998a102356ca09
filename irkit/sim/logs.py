"""Container logs of the simulated cluster: where their lines come from.

The simulated apiserver answers ``GET .../pods/{name}/log`` from a ``LogSource``; how one is
streamed (the kubelet's query options) is ``irkit.sim.logstream``. Drills need logs
that read like real ones (scenario text with realistic times, or a file next to the scenario) and
huge ones (to exercise evidence-collection limits) that cost neither memory nor start-up time.

Sizes (``parse_size``): ``KB``/``MB``/``GB`` are decimal (1000) and ``KiB``/``MiB``/``GiB`` binary
(1024), as in SI/IEC and in Kubernetes quantities (``M`` and ``Mi`` differ the same way).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import string
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from math import inf
from pathlib import Path
from typing import Any

Line = tuple[datetime, str]
"""One log line: its timezone-aware UTC timestamp and its text, without the newline."""

ONE_SECOND = timedelta(seconds=1)
_ONE_US = timedelta(microseconds=1)
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)", re.ASCII)
_EMBEDDED_TS = re.compile(f"({RFC3339.pattern}) ", re.ASCII)


def utc(ts: datetime, what: str) -> datetime:
    if ts.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {ts.isoformat()}")
    return ts.astimezone(UTC)


def _check_interval(interval: timedelta) -> timedelta:
    # Finding the line at a given time divides by the interval.
    if interval < _ONE_US:
        raise ValueError(f"interval must be at least one microsecond, got {interval}")
    return interval


def _stamp(index: int, raw: str, start: datetime, interval: timedelta) -> Line:
    """Line ``index`` of a text log: its own leading RFC3339 time if it has one, else its slot."""
    match = _EMBEDDED_TS.match(raw)
    if match:
        try:
            return datetime.fromisoformat(match[1]).astimezone(UTC), raw[match.end() :]
        except ValueError:
            pass  # say month 13: serve the line as written rather than fail in mid-stream
    return start + interval * index, raw


def format_timestamp(ts: datetime) -> str:
    """``2026-11-26T03:12:01.000000000Z``: the kubelet's prefix (RFC3339, nine digits, UTC)."""
    # isoformat is C code; strftime per line was the slowest part of serving a large log.
    return ts.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "000Z"


class LogSource(ABC):
    """A container's log: lines in order, each with its UTC timestamp and its text.

    Sources do not change once built, so one can serve many requests at once (the server is
    threaded); each ``iter_lines`` call is an independent read.
    """

    @abstractmethod
    def line_count(self) -> int | None:
        """Number of lines, or None when knowing it means reading the whole log."""

    @abstractmethod
    def iter_lines(self, start_index: int = 0) -> Iterator[Line]:
        """The lines from index ``start_index`` (0-based) to the end."""

    def index_at_or_after(self, ts: datetime) -> int:
        """Index of the first line stamped at or after ``ts``, the line count if there is none.

        This fallback reads lines until it finds one; sources that can compute it override it.
        """
        index = 0
        for stamp, _ in self.iter_lines():
            if stamp >= ts:
                return index
            index += 1
        return index


class TextLog(LogSource):
    """A log written out in a scenario. Small by nature, so it is held parsed in memory."""

    def __init__(self, text: str, start: datetime, interval: timedelta = ONE_SECOND) -> None:
        start, interval = utc(start, "start"), _check_interval(interval)
        raws = text.replace("\r\n", "\n").split("\n")
        if raws[-1] == "":
            raws.pop()  # a final newline ends the last line, it does not start another
        self._lines = [_stamp(i, raw, start, interval) for i, raw in enumerate(raws)]

    def line_count(self) -> int:
        return len(self._lines)

    def iter_lines(self, start_index: int = 0) -> Iterator[Line]:
        return iter(self._lines[max(start_index, 0) :])


class FileLog(LogSource):
    """A log kept in a file, read line by line each time it is served, never whole."""

    def __init__(self, path: Path | str, start: datetime, interval: timedelta = ONE_SECOND) -> None:
        self.path = Path(path)
        self._start, self._interval = utc(start, "start"), _check_interval(interval)

    def line_count(self) -> int | None:
        return None  # counting reads the file; stream_log does that only when tailLines needs it

    def iter_lines(self, start_index: int = 0) -> Iterator[Line]:
        # errors="replace": one bad byte in a log file must not end a stream half-way.
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for index, raw in enumerate(lines):
                if index >= start_index:
                    yield _stamp(index, raw.rstrip("\n"), self._start, self._interval)


DEFAULT_TEMPLATE = (
    "{level} request id={index:09d} path={path} status={status} latency_ms={latency_ms} "
    "trace={trace}"
)
_PATHS = ("/api/orders", "/api/users", "/api/cart", "/api/payments", "/healthz", "/metrics")
_STATUSES = (200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 500, 503)


def _fields(index: int, bits: int) -> dict[str, Any]:
    """The values a template may use, all drawn from the line's index and its hash ``bits``."""
    status = _STATUSES[bits % len(_STATUSES)]
    level = "ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO"
    return {
        "level": level,
        "index": index,
        "path": _PATHS[(bits >> 8) % len(_PATHS)],
        "status": status,
        "latency_ms": (bits >> 16) % 2000,
        "trace": f"{bits:016x}",
    }


_VARIANTS = 1024
_CACHED_BLOCKS = 32  # x ~64 KiB: at most ~2.5 MB per generated log


class _Mark:
    """Formats as a marker whatever the spec, to find where ``{index}`` lands in a template."""

    def __init__(self, mark: str) -> None:
        self.mark = mark

    def __format__(self, spec: str) -> str:
        return self.mark


class GeneratedLog(LogSource):
    """A synthetic log of any size, each line computed from the seed and the line's index.

    All lines have one length (padded with spaces), so the line count follows from the size, and
    the line at an index or a time is found by arithmetic: ``tailLines`` and ``sinceSeconds`` on a
    100 MB log read nothing they skip, and nothing of the log's size is ever held. ``size_bytes``
    counts text and newlines, the bytes served without ``timestamps``. A template is a
    ``str.format`` string over the fields ``level index path status latency_ms trace``.
    """

    def __init__(
        self,
        size_bytes: int,
        start: datetime,
        interval: timedelta,
        seed: str,
        template: str | None = None,
    ) -> None:
        if size_bytes < 0:
            raise ValueError(f"size must not be negative, got {size_bytes}")
        self._start, self._interval = utc(start, "start"), _check_interval(interval)
        self._template = DEFAULT_TEMPLATE if template is None else template
        self._hasher = hashlib.blake2b(seed.encode(), digest_size=8)
        self.line_length = self._widest_line(size_bytes)
        self._count = size_bytes // (self.line_length + 1)
        self._pieces = self._split_on_index()
        self._cache: OrderedDict[tuple[int, int, bool], bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _widest_line(self, size_bytes: int) -> int:
        # The fixed length counts characters as bytes, and a newline would break the line count.
        if not self._template.isascii() or "\n" in self._template or "\r" in self._template:
            raise ValueError("template must be ASCII text on one line")
        widest = {"level": "ERROR", "index": max(size_bytes, 1), "path": max(_PATHS, key=len)}
        widest |= {"status": 999, "latency_ms": 1999, "trace": "f" * 16}
        try:
            return len(self._template.format_map(widest))
        except (KeyError, IndexError) as e:
            raise ValueError(f"unknown template field {e} (known: {', '.join(widest)})") from e

    def line_count(self) -> int:
        return self._count

    def _bits(self, slot: int) -> int:
        hasher = self._hasher.copy()
        hasher.update(slot.to_bytes(8, "little"))
        return int.from_bytes(hasher.digest(), "little")

    def _split_on_index(self) -> list[tuple[str, str, str]] | None:
        """Per variant, the text around ``{index}`` with everything else filled in once.

        Serving speed: a line is then two concatenations and one int format, not a hash and a
        template. Templates without exactly one ``{index...}`` field take the slow path."""
        parsed = list(string.Formatter().parse(self._template))
        index_fields = [p for p in parsed if p[1] == "index"]
        if len(index_fields) != 1 or index_fields[0][2] is None or index_fields[0][3]:
            return None
        spec = index_fields[0][2]
        mark = "\x00"
        pieces = []
        for slot in range(_VARIANTS):
            fields = _fields(0, self._bits(slot)) | {"index": _Mark(mark)}
            before, _, after = self._template.format_map(fields).partition(mark)
            pieces.append((before, spec, after))
        return pieces

    def line_text(self, index: int) -> str:
        """The text of line ``index``, computed directly."""
        if not 0 <= index < self._count:
            raise IndexError(f"line {index} of a {self._count}-line log")
        # Lines draw their level/path/status/... from a fixed set of variants, picked by a
        # multiplicative hash of the index: varied, deterministic, and cheap per line.
        slot = (index * 2654435761) % _VARIANTS
        if self._pieces is not None:
            before, spec, after = self._pieces[slot]
            text = f"{before}{index:{spec}}{after}"
        else:
            text = self._template.format_map(_fields(index, self._bits(slot)))
        return text.ljust(self.line_length)[: self.line_length]

    def iter_lines(self, start_index: int = 0) -> Iterator[Line]:
        for index in range(max(start_index, 0), self._count):
            yield self._start + self._interval * index, self.line_text(index)

    def block_bytes(self, first: int, stop: int, timestamps: bool) -> bytes:
        """``render_block`` encoded, from a small per-log cache: when many pods share one
        generated log (a scenario glob), the simulator renders each block once, so benchmarks
        measure the client, not the simulator. Bounded: at most ``_CACHED_BLOCKS`` blocks."""
        key = (first, stop, timestamps)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        data = self.render_block(first, stop, timestamps).encode()
        with self._cache_lock:
            self._cache[key] = data
            while len(self._cache) > _CACHED_BLOCKS:
                self._cache.popitem(last=False)
        return data

    def render_block(self, first: int, stop: int, timestamps: bool) -> str:
        """Lines ``first`` to ``stop - 1`` as served, built in one go: the simulator's hot path
        for large logs (list comprehensions over C-level formatting, no per-line generator)."""
        stop = min(stop, self._count)
        if self._pieces is None:
            texts = [self.line_text(i) for i in range(first, stop)]
        else:
            pieces, width = self._pieces, self.line_length
            texts = [
                f"{p[0]}{i:{p[1]}}{p[2]}".ljust(width)[:width]
                for i, p in ((i, pieces[(i * 2654435761) % _VARIANTS]) for i in range(first, stop))
            ]
        if not texts:
            return ""
        if not timestamps:
            return "\n".join(texts) + "\n"
        start, step = self._start, self._interval
        stamps = [
            (start + step * i).isoformat(timespec="microseconds")[:26] for i in range(first, stop)
        ]
        return "".join([f"{ts}000Z {text}\n" for ts, text in zip(stamps, texts, strict=True)])

    def index_at_or_after(self, ts: datetime) -> int:
        micros = (utc(ts, "ts") - self._start) // _ONE_US
        if micros <= 0:
            return 0
        step = self._interval // _ONE_US
        return min(-(-micros // step), self._count)  # ceiling: the first line not before ts


_SPEC_KEYS = ("text", "file", "generate", "interval")
_GENERATE_KEYS = ("size", "template")
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMG]i?B|B)?", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str) -> int:
    """Bytes in ``100MB``, ``512 KiB``, ``1.5GB`` or ``2048``; a fraction of a byte is dropped."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"bad size {text!r}: expected a number and one of B, KB, MB, GB, KiB, ...")
    number, unit = match.groups()
    return int(Decimal(number) * _UNITS[(unit or "B").lower()])


def make_source(
    spec: Mapping[str, Any], *, start: datetime, seed: str, base_dir: Path
) -> LogSource:
    """The source a scenario's log spec describes: exactly one of ``text``, ``file`` (relative to
    ``base_dir``) or ``generate: {size, template?}``, plus ``interval`` in seconds (default 1).

    ``seed`` makes generated lines reproducible: give each container its own (say the scenario's
    seed with the pod and container names) so that two containers do not print the same lines.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"a log spec must be a mapping, got {type(spec).__name__}")
    _reject_unknown(spec, _SPEC_KEYS, "")
    kinds = [key for key in _SPEC_KEYS[:3] if key in spec]
    if len(kinds) != 1:
        found = " and ".join(f"'{kind}'" for kind in kinds) or "none"
        raise ValueError(f"a log needs exactly one of 'text', 'file', 'generate'; got {found}")
    interval = spec.get("interval", 1.0)
    number = isinstance(interval, int | float) and not isinstance(interval, bool)
    if not number or not 0 < interval < inf:
        raise ValueError(f"'interval' must be a positive number of seconds, got {interval!r}")
    every = timedelta(seconds=interval)
    value = spec[kinds[0]]
    match kinds[0]:
        case "text":
            return TextLog(_string(value, "text"), start, every)
        case "file":
            path = base_dir / _string(value, "file")
            if not path.is_file():
                raise ValueError(f"'file': no file {str(value)!r} in {base_dir}")
            return FileLog(path, start, every)
        case _:  # "generate"
            size, template = _generate_spec(value)
            return GeneratedLog(size, start, every, seed, template)


def _generate_spec(value: object) -> tuple[int, str | None]:
    if not isinstance(value, Mapping):
        raise ValueError("'generate' must be a mapping with 'size' and optionally 'template'")
    _reject_unknown(value, _GENERATE_KEYS, "generate.")
    if "size" not in value:
        raise ValueError("'generate' needs a 'size', like '100MB'")
    size, template = value["size"], value.get("template")
    if isinstance(size, str):
        try:
            size = parse_size(size)
        except ValueError as e:
            raise ValueError(f"'generate.size': {e}") from e
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"'generate.size' must be bytes or a size like '100MB', got {size!r}")
    return size, None if template is None else _string(template, "generate.template")


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _reject_unknown(spec: Mapping[Any, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in spec:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
            raise ValueError(f"unknown key '{prefix}{key}' ({hint})")
