"""One runbook run per incident at a time: an ``flock`` on ``<incidents>/<id>/.lock``.

Held for the whole run, released by the kernel when the process ends however it ends, so a
crashed run never leaves a stale lock. Commands run by hand (isolate, scale, ...) do not take
it: each is a one-step run appended atomically to the journal with its own run id, and resume
reads only runbook runs, so a command never blocks nor confuses a later ``irkit run --resume``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from irkit.errors import IrkitError, Locked
from irkit.fsutil import private_dirs
from irkit.incident.paths import IncidentPaths


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


def is_running(paths: IncidentPaths) -> bool:
    """Whether a process holds the run lock now."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops our shared lock, if we got it
    return False
