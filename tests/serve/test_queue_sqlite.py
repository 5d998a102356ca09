"""The SQLite queue passes the Queue contract (tests/queue_contract.py), and keeps its file
where the server says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from queue_contract import QueueContract, job

from irkit.queue.port import Queue
from irkit.queue.sqlite import SqliteQueue


class TestSqliteQueue(QueueContract):
    @pytest.fixture(autouse=True)
    def _file(self, tmp_path: Path) -> None:
        self.path = tmp_path / "state" / "serve.sqlite3"

    def open_queue(self, clock: Callable[[], float]) -> Queue:
        return SqliteQueue(self.path, clock=clock)

    def test_the_file_is_in_wal_mode_with_full_sync(self, queue: Queue) -> None:
        import sqlite3

        queue.submit(job(1))
        db = sqlite3.connect(self.path)
        try:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            db.close()
        assert (self.path.parent.stat().st_mode & 0o077) == 0

    def test_a_second_handle_on_the_same_file_sees_every_commit(self, queue: Queue) -> None:
        other = SqliteQueue(self.path)
        try:
            queue.submit(job(1))
            assert other.submit(job(1)).duplicate
            claim = other.claim("w", 30)
            assert claim is not None and queue.claim("w2", 30) is None
        finally:
            other.close()
