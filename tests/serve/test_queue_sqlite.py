"""The SQLite queue passes the Queue contract (tests/queue_contract.py), and keeps its file
where the server says."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from queue_contract import QueueContract, job

from irkit.queue.port import Queue, Refused, Submitted
from irkit.queue.sqlite import SqliteQueue


class TestSqliteQueue(QueueContract):
    @pytest.fixture(autouse=True)
    def _file(self, tmp_path: Path) -> None:
        self.path = tmp_path / "state" / "serve.sqlite3"

    def open_queue(self, clock: Callable[[], float]) -> Queue:
        return SqliteQueue(self.path, clock=clock)

    def test_the_file_is_in_wal_mode_with_full_sync(self, queue: Queue) -> None:
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


def test_a_job_that_cannot_be_stored_fails_only_its_own_submit_in_a_group_commit(
    tmp_path: Path,
) -> None:
    queue = SqliteQueue(tmp_path / "q.sqlite3")
    queue.submit(job(0))  # the file and tables exist
    blocker = sqlite3.connect(tmp_path / "q.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the committer waits: the next submits form one batch
    results: dict[int, Submitted | Exception] = {}

    def submit(n: int, namespace: str) -> None:
        try:
            results[n] = queue.submit(job(n, namespace=namespace))
        except Exception as e:
            results[n] = e

    first = threading.Thread(target=submit, args=(1, "production"))
    first.start()
    time.sleep(0.2)  # the committer takes it and waits for the write lock (or takes all three)
    rest = [threading.Thread(target=submit, args=a) for a in ((2, "prod\ud800"), (3, "shop"))]
    for thread in rest:
        thread.start()
    while queue._pending.qsize() < 2:  # 2 and 3 wait together: one batch, maybe with 1
        time.sleep(0.01)
    blocker.execute("COMMIT")
    blocker.close()
    for thread in (first, *rest):
        thread.join(20)
    assert isinstance(results[2], Refused) and results[2].code == "invalid", results
    assert isinstance(results[1], Submitted) and isinstance(results[3], Submitted), results
    assert queue.get("inc-3") is not None and queue.get("inc-2") is None
    queue.close()
