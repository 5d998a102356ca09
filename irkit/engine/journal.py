"""A run's journal (``incidents/<id>/journal.jsonl``), the incident lock, and the journal read
back for ``resume``.

Events are appended one line at a time and fsync'd (``irkit.journal.Journal``) before the
engine goes on, so after a crash the journal says exactly which steps ended. A resumed run
appends to the same file: another ``run-start`` (``data.resumed: true``), then its steps.

The lock is an ``flock`` on ``incidents/<id>/.lock``: held for the whole run, released by the
kernel when the process ends however it ends, so a crashed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from irkit.errors import IrkitError, Locked
from irkit.fsutil import private_dirs
from irkit.journal import Journal
from irkit.model.incident_paths import IncidentPaths
from irkit.model.journal import RUN_END, RUN_START, STEP_END, STEP_START, RunEvent


class EventSink(Protocol):
    def write(self, event: RunEvent) -> None: ...


class RunJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._journal = Journal(path)

    def write(self, event: RunEvent) -> None:
        self._journal.append(event)


class NoJournal:
    """A dry run writes nothing."""

    path = None

    def write(self, event: RunEvent) -> None:
        pass


@contextmanager
def incident_lock(paths: IncidentPaths) -> Iterator[None]:
    """One run per incident at a time; a second one gets ``Locked`` at once (no waiting)."""
    try:
        private_dirs(paths.root)
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise IrkitError(f"cannot create {paths.lock}: {e.strerror or e}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise Locked(
                f"incident {paths.incident} is being run by another irkit process"
                + (f" (pid {holder})" if holder.isdigit() else "")
                + f": one run per incident at a time (lock {paths.lock})",
                hint="wait for it to end; if it dies, its lock goes with it and "
                f"irkit run --resume {paths.incident} continues",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


@dataclass
class RunState:
    """What a journal says about a run, for resuming it."""

    start: dict[str, Any]  # data of the first run-start: params, alert, started_at, ...
    runbook: dict[str, Any]  # the latest run-start's runbook {name, path, sha256}
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its last end
    open_since: dict[str, str] = field(default_factory=dict)  # step -> time it started, no end
    ended: str = ""  # status of the last run-end, "" when the last run did not end
    events: int = 0


def read_state(path: Path) -> RunState | None:
    """None when there is no run journal at ``path``."""
    state: RunState | None = None
    for event in _events(path):
        kind, step = event.get("event"), str(event.get("step") or "")
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if kind == RUN_START:
            if state is None:
                state = RunState(start=dict(data), runbook=dict(data.get("runbook") or {}))
            state.runbook = dict(data.get("runbook") or {})
            state.ended = ""
        if state is None:
            continue
        state.events += 1
        if kind == STEP_START:
            state.open_since.setdefault(step, str(event.get("time") or ""))
        elif kind == STEP_END:
            state.open_since.pop(step, None)
            state.done[step] = {
                "status": str(event.get("status") or ""),
                "action": str(event.get("action") or ""),
                "outputs": dict(data.get("outputs") or {}),
            }
        elif kind == RUN_END:
            state.ended = str(event.get("status") or "")
    return state


def _events(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as e:
        raise IrkitError(f"cannot read the run journal {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            if number == len(lines):  # torn by a crash mid-write: the step did not end
                return
            raise IrkitError(f"{path}:{number}: not a journal event; refusing to resume") from None
        if isinstance(event, dict):
            yield event
