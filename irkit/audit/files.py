"""Audit events from kube-apiserver's ``--audit-log-path`` file and its rotations beside it.

kube-apiserver rotates with lumberjack (``audit-2026-11-26T03-00-00.000.log``, ``.gz`` when
``--audit-log-compress``); hosts that use logrotate instead leave ``audit.log.1``,
``audit.log.2.gz``. Both kinds are read, oldest first as far as the names tell (numbered ones
from the highest number, then timestamped ones in time order, then the live file); events are
not re-sorted across files.

Everything is streamed line by line (``gzip.open`` for ``.gz``), so a log of many gigabytes
costs one line of memory. A lumberjack backup is named after the moment it was rotated (UTC, as
kube-apiserver configures it) and holds nothing written later, so one rotated before the window
opens is not opened at all.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from irkit.audit.filter import aware, event_time, in_window
from irkit.audit.source import AuditEvent, AuditScope
from irkit.errors import AuditSourceError

_LUMBERJACK_TIME = "%Y-%m-%dT%H-%M-%S.%f"


class AuditLogFiles:
    """An ``AuditSource`` over one audit log path and its rotations.

    After (or during) ``events``: ``skipped`` counts lines that are not an audit event (not JSON,
    not an object, no timestamp, e.g. a half-written last line); ``problems`` lists files that
    could only be read in part (a truncated ``.gz``); ``files_read`` the files opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file {path}"
        self.skipped = 0
        self.problems: list[str] = []
        self.files_read: list[Path] = []

    def files(self) -> list[Path]:
        """The live file and its rotations that exist, oldest first."""
        folder, name = self.path.parent, self.path.name
        stem, ext = self.path.stem, self.path.suffix
        numbered = re.compile(re.escape(name) + r"\.(\d+)(?:\.gz)?")
        stamped = re.compile(re.escape(stem) + r"-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})")
        by_number: list[tuple[int, str, Path]] = []
        by_time: list[tuple[str, str, Path]] = []
        live: list[Path] = []
        try:
            entries = sorted(p for p in folder.iterdir() if p.is_file())
        except OSError as e:
            raise AuditSourceError(f"cannot list {folder}: {e.strerror or e}") from e
        for p in entries:
            if p.name in (name, f"{name}.gz"):
                live.append(p)
            elif m := numbered.fullmatch(p.name):
                by_number.append((-int(m[1]), p.name, p))
            elif (m := stamped.match(p.name)) and p.name[m.end() :] in (ext, f"{ext}.gz"):
                by_time.append((m[1], p.name, p))
        found = [p for *_, p in sorted(by_number)] + [p for *_, p in sorted(by_time)]
        found += sorted(live, key=lambda p: p.name != f"{name}.gz")
        if not found:
            raise AuditSourceError(f"no audit log at {self.path} (nor rotations of it)")
        return found

    def events(self, scope: AuditScope) -> Iterator[AuditEvent]:
        self.skipped = 0
        self.problems = []
        self.files_read = []
        since = aware(scope.since)
        for path in self.files():
            rotated = rotated_at(path)
            if since is not None and rotated is not None and rotated < since:
                continue
            yield from self._read(path, scope)

    def _read(self, path: Path, scope: AuditScope) -> Iterator[AuditEvent]:
        self.files_read.append(path)
        lines = 0
        try:
            with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as f:
                for line in f:
                    lines += 1
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:  # also bad UTF-8
                        self.skipped += 1
                        continue
                    when = event_time(event) if isinstance(event, dict) else None
                    if when is None:
                        self.skipped += 1
                    elif in_window(when, scope):
                        yield event
        except EOFError:
            self.problems.append(f"{path}: compressed file ends early, read {lines} lines")
        except (OSError, zlib.error) as e:
            cause = getattr(e, "strerror", None) or e
            raise AuditSourceError(
                f"cannot read audit log {path} after {lines} lines: {cause}"
            ) from e


def rotated_at(path: Path) -> datetime | None:
    """When lumberjack rotated ``path`` out, from its name (UTC); None for any other name."""
    m = re.search(r"-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})\.", path.name)
    if m is None:
        return None
    try:
        return datetime.strptime(m[1], _LUMBERJACK_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
