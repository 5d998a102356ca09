"""The append-only JSON-lines journal every run writes to (``irkit run`` and every response
command alike), and the sinks the engine writes its events through.

Each event is one line, written with a single ``write`` under an exclusive ``flock`` and
fsync'd before the writer goes on: after a crash the journal still says what was done, which
is what runbook resume and the RCA timeline rely on. Writers never interleave within a line,
so several processes (a runbook run, commands run by hand) may append to one journal.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Protocol

from irkit.errors import IrkitError
from irkit.fsutil import private_dirs
from irkit.model.journal import RunEvent


class EventSink(Protocol):
    def write(self, event: RunEvent) -> None: ...


class Journal:
    """The file adapter: append ``RunEvent`` lines to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, event: RunEvent) -> None:
        self.append(event)

    def append(self, event: RunEvent) -> None:
        line = json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True) + "\n"
        try:
            private_dirs(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                _write_all(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise IrkitError(f"cannot write the journal {self.path}: {e.strerror or e}") from e


class NoJournal:
    """A dry run writes nothing."""

    path = None

    def write(self, event: RunEvent) -> None:
        pass


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked (a full disk, a signal): finish the line, or fail."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"wrote {len(data) - len(view)} of {len(data)} bytes")
        view = view[written:]
