"""Connections to PostgreSQL for the queue and incident store of ``irkit serve --database``.

A small pool of autocommit connections (each operation runs in its own ``transaction()``), so
the server's request threads and workers never share a connection mid-transaction. psycopg's
errors are translated here and nowhere else: a connection that fails (server down, network
cut) becomes ``Overloaded`` (transient: the server answers 503 and Alertmanager retries) and
the broken connection is dropped; any other database error is an ``IrkitError``.

Advisory-lock keys are 64-bit hashes of a purpose and a name (``lock_key``), so the locks on
workloads, namespaces and incidents never collide with each other nor with another
application's keys in practice.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq

from irkit.errors import IrkitError
from irkit.queue.port import Overloaded

Connection = psycopg.Connection[tuple[Any, ...]]

CONNECT_TIMEOUT_S = 5
WAIT_S = 10.0
"""How long an operation waits for a free connection before answering ``Overloaded``."""


def lock_key(purpose: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name`` (a workload, namespace or incident)."""
    digest = hashlib.blake2b(f"irkit:{purpose}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def where(url: str) -> str:
    """The server a URL names, without its password (for messages)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(an unreadable database URL)"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or ''}"


def reason(e: BaseException) -> str:
    """The first line of a driver message (they never hold the password)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def connect(url: str) -> Connection:
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="irkit"
        )
    except psycopg.Error as e:
        raise Overloaded(f"cannot connect to PostgreSQL at {where(url)}: {reason(e)}") from e


class Pool:
    """At most ``size`` connections, made when first needed and reused (last in, first out)."""

    def __init__(self, url: str, size: int = 8) -> None:
        self.url = url
        self.size = size
        self._idle: list[Connection] = []
        self._open = 0
        self._cond = threading.Condition()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = self._take()
        keep = False
        try:
            yield conn
            keep = True
        except psycopg.OperationalError as e:
            raise Overloaded(f"PostgreSQL at {where(self.url)} failed: {reason(e)}") from e
        except psycopg.Error as e:
            keep = _idle(conn)
            raise IrkitError(f"PostgreSQL at {where(self.url)} refused: {reason(e)}") from e
        except BaseException:
            keep = _idle(conn)
            raise
        finally:
            self._give(conn, keep=keep and _idle(conn))

    def _take(self) -> Connection:
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._closed or self._idle or self._open < self.size, WAIT_S
            ):
                raise Overloaded(f"no free connection to PostgreSQL in {WAIT_S:g}s")
            if self._closed:
                raise IrkitError("the PostgreSQL queue is closed")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return connect(self.url)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _give(self, conn: Connection, *, keep: bool) -> None:
        with self._cond:
            if keep and not self._closed:
                self._idle.append(conn)
            else:
                self._open -= 1
                conn.close()
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()


def _idle(conn: Connection) -> bool:
    """Whether the connection can be reused: open, and not left inside a transaction."""
    return not conn.closed and conn.info.transaction_status == pq.TransactionStatus.IDLE
