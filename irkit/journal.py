"""The append-only JSON-lines journal every mutating command writes to.

Each entry is one line, written with a single ``write`` under an exclusive ``flock`` and
fsync'd before the command reports success: after a crash the journal still says what was
done, which is what runbook resume and the RCA timeline rely on.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError
from irkit.model.journal import Entry, RunEvent

DEFAULT_PATH = Path("irkit-journal.jsonl")


class Journal:
    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)

    def append(self, entry: Entry | RunEvent) -> None:
        line = json.dumps(entry.to_json(), separators=(",", ":"), sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise IrkitError(f"cannot write the journal {self.path}: {e.strerror or e}") from e

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    # A torn last line after a crash is expected; anything else is not ours.
                    raise IrkitError(f"{self.path}:{number}: not a journal entry") from None
