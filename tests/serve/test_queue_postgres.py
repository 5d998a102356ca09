"""The PostgreSQL queue passes the Queue contract (tests/queue_contract.py) against a real
server (tests/postgres.py), and keeps its rules across replicas: two queue objects on separate
connections, claiming at once, never take one job twice nor two jobs of one workload."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from postgres import pg_server, pg_url  # noqa: F401
from queue_contract import Clock, QueueContract, job

from irkit.errors import AlertError, IrkitError
from irkit.queue import pg_conn
from irkit.queue.pg_conn import lock_key
from irkit.queue.pg_schema import VERSION
from irkit.queue.port import DONE, NewJob, Overloaded, Queue, Refused
from irkit.queue.postgres import PostgresQueue, open_postgres


class TestPostgresQueue(QueueContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:  # noqa: F811
        self.url = pg_url

    def open_queue(self, clock: Callable[[], float]) -> Queue:
        queue, _store = open_postgres(self.url, clock=clock)
        return queue


@pytest.fixture
def replicas(pg_url: str) -> Iterator[tuple[Queue, Queue]]:  # noqa: F811
    """Two replicas: two queues, each with its own pool of connections, on one database."""
    one, _ = open_postgres(pg_url)
    two, _ = open_postgres(pg_url)
    yield one, two
    one.close()
    two.close()


def test_two_replicas_never_take_one_job_twice_nor_two_jobs_of_one_workload(
    replicas: tuple[Queue, Queue],
) -> None:
    one, two = replicas
    workloads = [f"production/deployment/w{w}" for w in range(4)]
    for n in range(40):
        one.submit(job(n, workload=workloads[n % len(workloads)]))
    active: dict[str, str] = {}
    taken: list[str] = []
    overlaps: list[str] = []
    guard = threading.Lock()

    def work(queue: Queue, name: str) -> None:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 2:
            claim = queue.claim(name, 30)
            if claim is None:
                time.sleep(0.005)
                continue
            idle_since = time.monotonic()
            with guard:
                if claim.job.workload in active:
                    overlaps.append(f"{claim.job.workload}: {active[claim.job.workload]} + {name}")
                active[claim.job.workload] = name
                taken.append(claim.job.incident)
            time.sleep(0.003)  # the run: the workload is held meanwhile
            with guard:
                active.pop(claim.job.workload, None)
            assert queue.finish(claim, DONE)

    threads = [
        threading.Thread(target=work, args=(queue, f"{r}-w{i}"))
        for r, queue in (("one", one), ("two", two))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert overlaps == []
    assert sorted(taken) == sorted(f"inc-{n}" for n in range(40))  # each once
    assert one.depth() == two.depth() == 0


def test_a_claim_skips_a_workload_another_replica_is_claiming(
    replicas: tuple[Queue, Queue],
    pg_url: str,  # noqa: F811
) -> None:
    """The race two replicas could lose (each seeing the other's job of one workload still
    queued) is closed by the workload's advisory lock, held by a claim until it commits."""
    one, two = replicas
    one.submit(job(1, workload="production/deployment/api"))
    one.submit(job(2, workload="production/deployment/web"))
    with psycopg.connect(pg_url) as other:  # another replica, mid-claim (its transaction open)
        key = lock_key("workload", "production/deployment/api")
        other.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        claim = two.claim("w", 30)
        assert claim is not None and claim.job.incident == "inc-2"
        assert two.claim("w", 30) is None
    claim = two.claim("w", 30)  # its transaction ended: the workload is free again
    assert claim is not None and claim.job.incident == "inc-1"


def test_a_whole_namespace_claim_and_a_claim_in_its_namespace_never_cross(
    replicas: tuple[Queue, Queue],
    pg_url: str,  # noqa: F811
) -> None:
    """A claim of NS/* takes its namespace's lock exclusively, any other claim takes it
    shared: held by another replica mid-claim, the overlapping jobs are skipped."""
    one, two = replicas
    one.submit(job(1, workload="production/deployment/api"))
    one.submit(job(2, namespace="staging", workload="staging/deployment/api"))
    space = lock_key("workloads", "production")
    with psycopg.connect(pg_url) as other:  # another replica claiming production/* now
        other.execute("SELECT pg_advisory_xact_lock(%s)", (space,))
        claim = two.claim("w", 30)
        assert claim is not None and claim.job.incident == "inc-2"  # another namespace
        assert two.claim("w", 30) is None
    claim = two.claim("w", 30)
    assert claim is not None and claim.job.incident == "inc-1"
    assert two.finish(claim, DONE)
    one.submit(job(3, workload="production/*"))
    with psycopg.connect(pg_url) as other:  # another replica claiming a production workload
        other.execute("SELECT pg_advisory_xact_lock_shared(%s)", (space,))
        assert two.claim("w", 30) is None
    claim = two.claim("w", 30)
    assert claim is not None and claim.job.incident == "inc-3"


def test_each_workload_runs_its_jobs_in_the_order_they_came(
    replicas: tuple[Queue, Queue],
) -> None:
    one, two = replicas
    for n in range(4):
        one.submit(job(n, workload="production/deployment/api"))
    order = []
    for queue in (two, one, two, one):
        claim = queue.claim("w", 30)
        assert claim is not None and queue.claim("x", 30) is None  # the workload is held
        order.append(claim.job.incident)
        assert queue.finish(claim, DONE)
    assert order == ["inc-0", "inc-1", "inc-2", "inc-3"]


def test_one_alert_submitted_to_two_replicas_at_once_is_one_job(
    replicas: tuple[Queue, Queue],
) -> None:
    results = []
    barrier = threading.Barrier(8)

    def submit(queue: Queue) -> None:
        barrier.wait()
        results.append(queue.submit(job(7), cap=5))

    threads = [threading.Thread(target=submit, args=(q,)) for q in replicas * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8 and [r.duplicate for r in results].count(False) == 1
    assert len({r.job.id for r in results}) == 1 and len(replicas[0].jobs()) == 1


def test_the_cap_holds_when_replicas_submit_at_once(replicas: tuple[Queue, Queue]) -> None:
    accepted, refused = [], []
    barrier = threading.Barrier(10)

    def submit(queue: Queue, n: int) -> None:
        barrier.wait()
        try:
            accepted.append(queue.submit(job(n), cap=3, window_s=3600))
        except Refused as e:
            refused.append(e.code)

    threads = [threading.Thread(target=submit, args=(replicas[n % 2], n)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(accepted) == 3 and refused == ["cap"] * 7
    assert len(replicas[1].jobs()) == 3


def test_payloads_round_trip_even_with_nul_and_a_nul_in_a_name_is_refused(
    replicas: tuple[Queue, Queue],
) -> None:
    one, _ = replicas
    hostile = NewJob(**{**job(1).__dict__, "alert": {"labels": {"pod": "a\x00b'; DROP"}}})
    one.submit(hostile)
    got = one.get("inc-1")
    assert got is not None and got.alert == {"labels": {"pod": "a\x00b'; DROP"}}
    with pytest.raises(AlertError, match="namespace holds a NUL"):
        one.submit(NewJob(**{**job(2).__dict__, "namespace": "prod\x00"}))


def test_an_unreachable_database_is_overloaded_and_a_newer_schema_is_refused(
    pg_url: str,  # noqa: F811
) -> None:
    with pytest.raises(Overloaded, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1/") as e:
        open_postgres("postgresql://irkit:secret-pw@127.0.0.1:1/irkit")
    assert "secret-pw" not in str(e.value)
    queue, _ = open_postgres(pg_url)
    queue.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE irkit_meta SET value = %s", (str(VERSION + 1),))
    with pytest.raises(IrkitError, match="schema version 2, this irkit reads version 1"):
        open_postgres(pg_url)


def test_a_server_gone_mid_run_is_overloaded_not_a_crash(pg_url: str) -> None:  # noqa: F811
    queue, _ = open_postgres(pg_url, clock=Clock())
    try:
        queue.submit(job(1))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'irkit'"
            )
        with pytest.raises(Overloaded):
            queue.depth()  # the pooled connection was cut: transient, and dropped
        assert queue.depth() == 1  # the next operation reconnects
    finally:
        queue.close()


def test_no_free_connection_in_time_is_overloaded(
    pg_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_conn, "WAIT_S", 0.2)
    opened, _ = open_postgres(pg_url)
    opened.close()
    queue = PostgresQueue(pg_conn.Pool(pg_url, size=1))
    try:
        with (
            queue.pool.connection(),  # the only one, busy
            pytest.raises(Overloaded, match="no free connection"),
        ):
            queue.depth()
        assert queue.depth() == 0
    finally:
        queue.close()
