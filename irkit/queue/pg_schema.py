"""The tables of ``irkit serve --database``, created at open when missing.

Several replicas may start at once against an empty database: the creation runs under one
transaction-scoped advisory lock, so one creates and the others find the tables there.
``irkit_meta`` records the schema's version; a database written by a newer irkit is refused
rather than misread.

Times are the queue's clock (seconds since the epoch, ``double precision``) passed in as
parameters, never ``now()``: leases and cap windows follow the clock the adapter was given.
Payloads are stored as JSON text (``json.dumps`` escapes NUL, which ``jsonb`` and ``text``
cannot hold), and journal events as the very line the file journal would write.
"""

from __future__ import annotations

from irkit.errors import IrkitError
from irkit.queue.pg_conn import Connection, lock_key

VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS irkit_meta (
    name text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS irkit_jobs (
    id bigserial PRIMARY KEY,
    key text NOT NULL UNIQUE,
    incident text NOT NULL,
    runbook text NOT NULL,
    source text NOT NULL,
    alert text NOT NULL,
    namespace text NOT NULL,
    workload text NOT NULL,
    params text NOT NULL,
    state text NOT NULL,
    attempt integer NOT NULL DEFAULT 0,
    worker text NOT NULL DEFAULT '',
    lease_until double precision NOT NULL DEFAULT 0,
    created double precision NOT NULL,
    updated double precision NOT NULL,
    error text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS irkit_jobs_open ON irkit_jobs (id)
    WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS irkit_jobs_workload ON irkit_jobs (workload, id)
    WHERE state IN ('queued', 'running', 'awaiting-approval');
CREATE INDEX IF NOT EXISTS irkit_jobs_window ON irkit_jobs (namespace, created);
CREATE INDEX IF NOT EXISTS irkit_jobs_open_namespace ON irkit_jobs (namespace, id)
    WHERE state IN ('queued', 'running', 'awaiting-approval');
CREATE INDEX IF NOT EXISTS irkit_jobs_incident ON irkit_jobs (incident, id);
CREATE TABLE IF NOT EXISTS irkit_approvals (
    seq bigserial PRIMARY KEY,
    job bigint NOT NULL REFERENCES irkit_jobs (id) ON DELETE CASCADE,
    step text NOT NULL,
    by text NOT NULL,
    at double precision NOT NULL,
    UNIQUE (job, step)
);
CREATE TABLE IF NOT EXISTS irkit_events (
    incident text NOT NULL,
    seq bigint NOT NULL,
    line text NOT NULL,
    PRIMARY KEY (incident, seq)
);
"""


def ensure_schema(conn: Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("schema", "irkit"),))
        conn.execute(TABLES)
        conn.execute(
            "INSERT INTO irkit_meta (name, value) VALUES ('version', %s)"
            " ON CONFLICT (name) DO NOTHING",
            (str(VERSION),),
        )
        row = conn.execute("SELECT value FROM irkit_meta WHERE name = 'version'").fetchone()
    found = int(row[0]) if row and str(row[0]).isdigit() else -1
    if found != VERSION:
        raise IrkitError(
            f"the database holds irkit schema version {row[0] if row else '?'}, "
            f"this irkit reads version {VERSION}",
            hint="run the irkit release that wrote it, or point --database at another database",
        )
