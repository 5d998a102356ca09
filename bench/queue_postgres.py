"""How fast the PostgreSQL queue (``irkit.queue.postgres``) commits and hands out jobs.

Not a test: a script that prints figures for docs/serve.md ("PostgreSQL"). It calls the queue
directly (no HTTP), against ``--url`` or a throwaway server it starts with ``initdb`` +
``pg_ctl`` on 127.0.0.1 (default settings: ``fsync`` on, each commit durable), and measures:

1. ``submit`` with a blast-radius cap, from 1 and 8 threads: durable accepts/s;
2. ``submit`` of keys already known (duplicates): /s;
3. ``claim`` + ``finish`` from 1 and 4 threads: jobs/s;
4. one claim's time with ``--deep`` jobs queued.

    .venv/bin/python bench/queue_postgres.py [--jobs 2000] [--deep 40000] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from irkit.queue.port import DONE, NewJob, Queue
from irkit.queue.postgres import open_postgres


def job(n: int) -> NewJob:
    return NewJob(
        key=f"am:fp{n}:2026-11-26T03:05:36Z",
        incident=f"inc-{n}",
        runbook="runbooks/isolate.yaml",
        source="alertmanager",
        alert={"labels": {"alertname": "Miner", "pod": f"p{n}"}, "n": n},
        namespace=f"ns{n % 50}",
        workload=f"ns{n % 50}/pod/p{n}",
    )


@contextmanager
def throwaway_server() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="irkit-bench-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = str(root / "data")
    run = [*as_owner, "initdb", "-D", data, "-U", "irkit", "-A", "trust", "--no-instructions"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
    ctl = [*as_owner, "pg_ctl", "-D", data, "-l", str(root / "log"), "-w", "-o", options]
    subprocess.run([*ctl, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://irkit@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_owner, "pg_ctl", "-D", data, "-m", "fast", "stop"], check=False,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def rate(label: str, count: int, threads: int, work: Callable[[int, int], None]) -> None:
    """Run ``work(first, last)`` on ``threads`` threads splitting ``count`` items; print /s."""
    share = count // threads
    started = time.perf_counter()
    pool = [
        threading.Thread(target=work, args=(t * share, (t + 1) * share)) for t in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    print(f"{label:<34} {threads:>2} threads  {share * threads / elapsed:8.0f}/s")


def measure(url: str, jobs: int, deep: int) -> None:
    queue, _store = open_postgres(url, size=10)
    try:
        offset = 10_000_000
        with queue_cleared(url):
            rate("submit (cap, durable)", jobs, 1, lambda a, b: submit(queue, a, b))
            rate("submit (cap, durable)", jobs, 8, lambda a, b: submit(queue, jobs + a, jobs + b))
            rate("submit, duplicate key", jobs, 1, lambda a, b: submit(queue, a, b))
            rate("claim + finish", jobs, 1, lambda a, b: drain(queue, b - a))
            rate("claim + finish", jobs, 4, lambda a, b: drain(queue, b - a))
        with queue_cleared(url):
            for first in range(0, deep, 1000):
                submit_many(url, offset + first, min(1000, deep - first))
            analyze(url)  # as autovacuum soon would after so many inserts
            started = time.perf_counter()
            claims = 100
            for _ in range(claims):
                claim = queue.claim("bench", 30)
                assert claim is not None
                queue.finish(claim, DONE)
            each = (time.perf_counter() - started) / claims * 1000
            print(f"claim + finish with {deep:,} queued: {each:.2f} ms each")
    finally:
        queue.close()


def submit(queue: Queue, first: int, last: int) -> None:
    for n in range(first, last):
        queue.submit(job(n), cap=1_000_000)


def drain(queue: Queue, count: int) -> None:
    for _ in range(count):
        claim = queue.claim("bench", 30)
        if claim is None:
            return
        queue.finish(claim, DONE)


def submit_many(url: str, first: int, count: int) -> None:
    """Fill the queue quickly (one statement), for the depth measurement."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO irkit_jobs (key, incident, runbook, source, alert, namespace, workload,"
            " params, state, created, updated) SELECT 'k' || g, 'inc-' || g, 'r', 'am', '{}',"
            " 'ns', 'ns/pod/p' || g, '{}', 'queued', %s, %s FROM generate_series(%s, %s) g",
            (time.time(), time.time(), first, first + count - 1),
        )


def analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE irkit_jobs")


@contextmanager
def queue_cleared(url: str) -> Iterator[None]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE irkit_jobs CASCADE")
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing database (its irkit_* tables are emptied)")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--deep", type=int, default=40_000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.jobs} jobs per measurement")
    if args.url:
        measure(args.url, args.jobs, args.deep)
        return
    with throwaway_server() as url:
        measure(url, args.jobs, args.deep)


if __name__ == "__main__":
    main()
