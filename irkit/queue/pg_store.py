"""The IncidentStore port (``irkit.incident.store``) on PostgreSQL, for ``irkit serve --database``.

Every replica reads and writes the same journals, so a run taken over from a dead replica
resumes from exactly what that replica recorded. The store keeps what ``FileStore`` keeps, the
same way:

* ``append``: the line ``irkit.incident.journal.Journal`` would write, committed before the
  caller goes on, numbered ``seq`` per incident under a transaction-scoped advisory lock on the
  incident, so the order read back is the order committed.
* ``read``: the events in order, through the file reader's own conversion (``run_event``); a
  row that is not a JSON object is skipped and said in ``notes``.
* ``lock``: a session advisory lock on a connection of its own, held for the run. Like the
  file lock's ``flock``, it goes away with the process however that ends: the server drops
  the dead connection's locks. ``running`` asks ``pg_locks`` whether any session holds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress

import psycopg

from irkit.errors import IrkitError, Locked, UsageError
from irkit.incident.ids import check_incident_id
from irkit.incident.reader import run_event
from irkit.model.journal import RunEvent
from irkit.queue.pg_conn import Pool, connect, lock_key, reason

HELD = """SELECT EXISTS (
    SELECT 1 FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = %s::bigint::oid AND objid = %s::bigint::oid)"""


class PostgresStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def append(self, incident: str, event: RunEvent) -> None:
        if incident:
            check_incident_id(incident)  # as FileStore, whose folder is named by it
        line = json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("journal", incident),))
            conn.execute(
                "INSERT INTO irkit_events (incident, seq, line)"
                " SELECT %s, COALESCE(MAX(seq), 0) + 1, %s FROM irkit_events WHERE incident = %s",
                (incident, line, incident),
            )

    def read(self, incident: str, notes: list[str]) -> list[RunEvent]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT seq, line FROM irkit_events WHERE incident = %s ORDER BY seq", (incident,)
            ).fetchall()
        events = []
        for seq, line in rows:
            try:
                raw = json.loads(line)
            except ValueError:
                raw = None
            if isinstance(raw, dict):
                events.append(run_event(raw))
            else:
                notes.append(f"journal of {incident or '(no incident)'} #{seq}: not a JSON object")
        return events

    def lock(self, incident: str) -> AbstractContextManager[None]:
        return self._lock(incident)

    @contextmanager
    def _lock(self, incident: str) -> Iterator[None]:
        key = lock_key("run", incident)
        conn = connect(self.pool.url)
        got = None
        try:
            try:
                got = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            except psycopg.Error as e:
                raise IrkitError(f"cannot take the run lock of {incident}: {reason(e)}") from e
            if not (got and got[0]):
                raise Locked(
                    f"incident {incident} is being run by another irkit process or replica:"
                    " one run per incident at a time",
                    hint="wait for it to end; if it dies, its lock goes with its connection"
                    f" and the run of {incident} can resume",
                )
            yield
        finally:
            with suppress(psycopg.Error):
                if got and got[0]:  # at once: a closed session's locks go a moment later
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                conn.close()

    def running(self, incident: str) -> bool:
        unsigned = lock_key("run", incident) & 0xFFFF_FFFF_FFFF_FFFF
        with self.pool.connection() as conn:
            row = conn.execute(HELD, (unsigned >> 32, unsigned & 0xFFFF_FFFF)).fetchone()
        return bool(row and row[0])

    def incidents(self) -> list[str]:
        """Every incident with events, named as an incident id (stray names are not listed)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT incident FROM irkit_events WHERE incident <> '' ORDER BY 1"
            ).fetchall()
        found = []
        for (name,) in rows:
            try:
                found.append(check_incident_id(name))
            except UsageError:
                continue
        return found
