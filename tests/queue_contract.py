"""What every Queue adapter must do (irkit.queue.port): subclass ``QueueContract`` and give
``open_queue(clock)``, which opens the SAME durable queue each time it is called in one test
(so a reopen proves durability), with ``clock`` (seconds) driving leases and windows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from irkit.errors import NotFound
from irkit.queue.port import AWAITING, DONE, QUEUED, RUNNING, NewJob, Queue, Refused


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def job(n: int, *, namespace: str = "production", workload: str = "") -> NewJob:
    return NewJob(
        key=f"am:fp{n}:2026-11-26T03:05:36Z",
        incident=f"inc-{n}",
        runbook="runbooks/compromised-pod.yaml",
        source="alertmanager",
        alert={"labels": {"pod": f"p{n}"}, "n": n},
        namespace=namespace,
        workload=workload or f"{namespace}/pod/p{n}",
        params={"x": "y"},
    )


class QueueContract:
    def open_queue(self, clock: Callable[[], float]) -> Queue:
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def queue(self, clock: Clock) -> Iterator[Queue]:
        q = self.open_queue(clock)
        yield q
        q.close()

    def test_submit_commits_and_a_known_key_is_a_duplicate(self, queue: Queue) -> None:
        first = queue.submit(job(1))
        assert not first.duplicate and first.job.state == QUEUED and first.job.id
        again = queue.submit(job(1))
        assert again.duplicate and again.job.id == first.job.id
        stored = queue.get("inc-1")
        assert stored is not None and stored.alert == {"labels": {"pod": "p1"}, "n": 1}
        assert stored.params == {"x": "y"} and stored.workload == "production/pod/p1"
        assert len(queue.jobs()) == 1 and queue.depth() == 1

    def test_a_submitted_job_survives_a_reopen(self, queue: Queue, clock: Clock) -> None:
        queue.submit(job(1))
        queue.close()
        reopened = self.open_queue(clock)
        try:
            got = reopened.get("inc-1")
            assert got is not None and got.key == job(1).key
            assert reopened.submit(job(1)).duplicate
        finally:
            reopened.close()

    def test_claims_are_oldest_first_and_bump_the_attempt(self, queue: Queue, clock: Clock) -> None:
        queue.submit(job(1))
        clock.now += 1
        queue.submit(job(2))
        claim = queue.claim("w1", 30)
        assert claim is not None and claim.job.incident == "inc-1" and claim.attempt == 1
        assert claim.job.state == RUNNING
        second = queue.claim("w2", 30)
        assert second is not None and second.job.incident == "inc-2"
        assert queue.claim("w3", 30) is None
        assert queue.finish(claim, DONE)
        got = queue.get("inc-1")
        assert got is not None and got.state == DONE and queue.depth() == 1

    def test_one_response_per_workload_at_a_time(self, queue: Queue) -> None:
        queue.submit(job(1, workload="production/deployment/api"))
        queue.submit(job(2, workload="production/deployment/api"))
        first = queue.claim("w1", 30)
        assert first is not None and first.job.incident == "inc-1"
        assert queue.claim("w2", 30) is None  # same workload: waits
        assert queue.finish(first, AWAITING)
        assert queue.claim("w2", 30) is None  # awaiting approval still holds the workload
        queue.approve("inc-1", "scale", "alice")
        again = queue.claim("w2", 30)
        assert again is not None and again.job.incident == "inc-1"
        assert again.job.approvals == ("scale",) and again.attempt == 2
        assert again.job.approvers == (("scale", "alice"),)  # who, for the journal
        assert queue.finish(again, DONE)
        last = queue.claim("w2", 30)
        assert last is not None and last.job.incident == "inc-2"

    def test_a_whole_namespace_job_overlaps_every_workload_of_its_namespace(
        self, queue: Queue
    ) -> None:
        queue.submit(job(1, workload="production/deployment/api"))
        first = queue.claim("w1", 30)
        assert first is not None and queue.finish(first, AWAITING)
        queue.submit(job(2, workload="production/*"))
        assert queue.claim("w2", 30) is None  # NS/* waits for the job awaiting approval
        queue.approve("inc-1", "scale", "alice")
        again = queue.claim("w1", 30)
        assert again is not None and again.job.incident == "inc-1"
        assert queue.claim("w2", 30) is None  # ... and for it running
        assert queue.finish(again, DONE)
        whole = queue.claim("w2", 30)
        assert whole is not None and whole.job.incident == "inc-2"
        queue.submit(job(3, workload="production/deployment/web"))
        queue.submit(job(4, namespace="staging", workload="staging/*"))
        other = queue.claim("w3", 30)  # another namespace runs beside it
        assert other is not None and other.job.incident == "inc-4"
        assert queue.claim("w3", 30) is None  # every workload of the namespace waits for NS/*
        assert queue.finish(whole, DONE)
        web = queue.claim("w2", 30)
        assert web is not None and web.job.incident == "inc-3"
        queue.submit(job(5, workload="production/deployment/api"))
        api = queue.claim("w1", 30)  # two workloads of one namespace side by side
        assert api is not None and api.job.incident == "inc-5"

    def test_an_expired_lease_is_taken_over_and_the_old_worker_is_fenced(
        self, queue: Queue, clock: Clock
    ) -> None:
        queue.submit(job(1))
        old = queue.claim("w1", 10)
        assert old is not None
        clock.now += 5
        assert queue.heartbeat(old, 10)  # alive: extended to now + 10
        clock.now += 9
        assert queue.claim("w2", 10) is None  # still leased
        clock.now += 2
        new = queue.claim("w2", 10)
        assert new is not None and new.attempt == old.attempt + 1 and new.worker == "w2"
        assert not queue.heartbeat(old, 10)
        assert not queue.finish(old, DONE)
        assert queue.finish(new, DONE)

    def test_blast_radius_cap_per_namespace_and_window(self, queue: Queue, clock: Clock) -> None:
        queue.submit(job(1), cap=2, window_s=3600)
        queue.submit(job(2), cap=2, window_s=3600)
        with pytest.raises(Refused) as e:
            queue.submit(job(3), cap=2, window_s=3600)
        assert e.value.code == "cap"
        assert queue.get("inc-3") is None
        assert queue.submit(job(2), cap=2, window_s=3600).duplicate  # a duplicate is no new job
        assert not queue.submit(job(4, namespace="shop"), cap=2, window_s=3600).duplicate
        clock.now += 3601
        assert not queue.submit(job(3), cap=2, window_s=3600).duplicate

    def test_approve_without_a_waiting_job_is_not_found(self, queue: Queue) -> None:
        with pytest.raises(NotFound):
            queue.approve("inc-404", "scale", "alice")
        queue.submit(job(1))
        with pytest.raises(NotFound):
            queue.approve("inc-1", "scale", "alice")  # queued, not awaiting

    def test_concurrent_workers_claim_each_job_exactly_once(self, queue: Queue) -> None:
        for n in range(30):
            queue.submit(job(n))
        seen: list[str] = []
        lock = threading.Lock()

        def work(name: str) -> None:
            while (claim := queue.claim(name, 30)) is not None:
                with lock:
                    seen.append(claim.job.incident)
                queue.finish(claim, DONE)

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(seen) == sorted(f"inc-{n}" for n in range(30))
        assert queue.depth() == 0

    def test_concurrent_submits_of_one_key_make_one_job(self, queue: Queue) -> None:
        """An Alertmanager HA pair sends each notification from every instance at once."""
        results: list[bool] = []
        lock = threading.Lock()
        start = threading.Barrier(6)

        def send() -> None:
            start.wait(10)
            done = queue.submit(job(7))
            with lock:
                results.append(done.duplicate)

        threads = [threading.Thread(target=send) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False] + [True] * 5
        assert len(queue.jobs()) == 1
