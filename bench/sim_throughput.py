"""How fast ``irkit.sim`` answers, and proof that a huge log is streamed, never held.

Not a test: a script that prints figures for docs/performance.md. It starts ``SimCluster``
in-process (client threads and server threads share one interpreter, so the figures are a floor
for a separate client such as kubectl) and talks only to 127.0.0.1:

1. small GETs (one pod, a two-pod list) from 1, 4 and 8 concurrent clients, each a thread with
   its own keep-alive HTTPS connection: requests/s, p50 and p99 latency;
2. a generated log of ``--log-mb`` MB read in 1 MiB reads over ``http.client``: MB/s and the
   process's peak RSS growth while streaming;
3. the same log through the official ``kubernetes`` client (``_preload_content=False``,
   ``.stream(1 MiB)``).

    .venv/bin/python bench/sim_throughput.py [--clients 1,4,8] [--requests 2000] [--log-mb 100]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import resource
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irkit.sim import SimCluster, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"
NAMESPACE = "production"
LOG_NAMESPACE, LOG_POD, LOG_CONTAINER = "bench", "big-logger", "app"
READ_SIZE = 1 << 20  # 1 MiB per read
WARMUP = 20  # requests per connection before timing: TLS handshake, first-use costs
MB = 1_000_000  # sizes in the scenario ("100MB") are decimal, so MB/s is too

LOG_SCENARIO = """\
apiVersion: irkit.io/v1
kind: Scenario
metadata: {{name: bench-logs}}
spec:
  description: One pod whose container has a {size_mb} MB generated log.
  logs:
    - namespace: {ns}
      pod: {pod}
      container: {container}
      generate: {{size: {size_mb}MB}}
      interval: 0.001
---
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: {pod}, namespace: {ns}}}
spec:
  containers: [{{name: {container}, image: registry.example.com/bench/logger:1.0}}]
"""


# ---- measuring -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunResult:
    label: str
    clients: int
    requests: int
    seconds: float
    latencies: list[float]  # seconds, sorted
    body_bytes: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        index = min(len(self.latencies) - 1, max(0, round(q / 100 * len(self.latencies)) - 1))
        return self.latencies[index] * 1000


def tls_context(sim: SimCluster) -> ssl.SSLContext:
    """Trust exactly the simulator's throwaway CA, as its kubeconfig does."""
    return ssl.create_default_context(cadata=sim.ca_pem.decode())


def get_run(sim: SimCluster, label: str, path: str, clients: int, total: int) -> RunResult:
    """``total`` GETs of ``path`` split evenly over ``clients`` threads, timed from one start."""
    per_client = max(1, total // clients)
    context = tls_context(sim)
    headers = {"Authorization": f"Bearer {sim.admin_token}", "Accept": "application/json"}
    start = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    sizes = [0] * clients
    errors: list[BaseException] = []

    def get(conn: http.client.HTTPSConnection) -> int:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        data = response.read()  # read to the end, so the connection is reused
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {data[:200]!r}")
        return len(data)

    def client(i: int) -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=30)
        try:
            for _ in range(WARMUP):
                get(conn)
        except BaseException as e:
            errors.append(e)
            start.abort()
            return
        finally:
            with suppress(threading.BrokenBarrierError):
                start.wait()
        try:
            mine = latencies[i]
            for _ in range(per_client):
                t0 = time.perf_counter()
                sizes[i] = get(conn)
                mine.append(time.perf_counter() - t0)
        except BaseException as e:
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    with suppress(threading.BrokenBarrierError):
        start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    merged = sorted(x for mine in latencies for x in mine)
    return RunResult(label, clients, len(merged), seconds, merged, max(sizes))


def rss_kib(field: str) -> int | None:
    """``VmRSS`` or ``VmHWM`` (peak) of this process in KiB, from /proc; None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the next peak is this phase's own."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class StreamResult:
    label: str
    nbytes: int
    seconds: float
    rss_before_kib: int
    peak_growth_kib: int
    peak_source: str

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / MB / self.seconds


def measure_stream(label: str, read_all: Callable[[], int]) -> StreamResult:
    """Run ``read_all`` (returns bytes read) and report its speed and the peak RSS it added."""
    if reset_peak_rss() and rss_kib("VmHWM") is not None:
        before = rss_kib("VmRSS") or 0
        began = time.perf_counter()
        nbytes = read_all()
        seconds = time.perf_counter() - began
        return StreamResult(
            label, nbytes, seconds, before, (rss_kib("VmHWM") or 0) - before, "VmHWM"
        )
    # Without /proc: ru_maxrss is the peak since start (KiB on Linux), so growth shows only
    # when streaming pushes the process past every earlier peak.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    nbytes = read_all()
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return StreamResult(label, nbytes, seconds, before, after - before, "ru_maxrss")


def log_path() -> str:
    return f"/api/v1/namespaces/{LOG_NAMESPACE}/pods/{LOG_POD}/log?container={LOG_CONTAINER}"


def read_log_raw(sim: SimCluster) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=tls_context(sim))
    try:
        conn.request("GET", log_path(), headers={"Authorization": f"Bearer {sim.admin_token}"})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {log_path()}: HTTP {response.status}")
        total = 0
        while chunk := response.read(READ_SIZE):
            total += len(chunk)
        return total
    finally:
        conn.close()


def official_client_reader(sim: SimCluster) -> tuple[Callable[[], int], Callable[[], None]]:
    """A reader over the official client, built (and the package imported) before timing."""
    from kubernetes import client, config

    new_client: Any = config.new_client_from_config  # the package has no type hints
    api: Any = client.CoreV1Api(new_client(config_file=sim.kubeconfig_path))

    def read_all() -> int:
        response: Any = api.read_namespaced_pod_log(
            LOG_POD, LOG_NAMESPACE, container=LOG_CONTAINER, _preload_content=False
        )
        try:
            return sum(len(chunk) for chunk in response.stream(READ_SIZE))
        finally:
            response.release_conn()

    return read_all, api.api_client.close


@contextmanager
def log_cluster(size_mb: int) -> Iterator[SimCluster]:
    with tempfile.TemporaryDirectory(prefix="irkit-bench-") as folder:
        scenario = Path(folder) / "bench-logs.yaml"
        scenario.write_text(
            LOG_SCENARIO.format(
                size_mb=size_mb, ns=LOG_NAMESPACE, pod=LOG_POD, container=LOG_CONTAINER
            ),
            encoding="utf-8",
        )
        with SimCluster(load_scenario(scenario), audit_log=Path(folder) / "audit.log") as sim:
            yield sim


# ---- printing ------------------------------------------------------------------------------------
def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def _first_pod(sim: SimCluster) -> str:
    """The first api-server replica (its name comes from the Deployment controller)."""
    for key, obj in sim.store.iter_all():
        meta = obj["metadata"]
        if (
            key == ("", "pods")
            and meta.get("namespace") == NAMESPACE
            and meta["name"].startswith("api-server-")
        ):
            return str(meta["name"])
    raise SystemExit(f"no api-server pod in {NAMESPACE}: has the example scenario changed?")


# ---- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--clients",
        default="1,4,8",
        help="comma-separated numbers of concurrent clients (default: 1,4,8)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="timed requests per run, split evenly over the clients (default: 2000)",
    )
    parser.add_argument(
        "--log-mb", type=int, default=100, help="size of the generated log in MB (default: 100)"
    )
    args = parser.parse_args(argv)
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients: expected numbers like 1,4,8, got {args.clients!r}")
    if not args.clients or min(args.clients) < 1:
        parser.error("--clients: every number must be at least 1")
    if args.requests < 1 or args.log_mb < 1:
        parser.error("--requests and --log-mb must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"irkit sim throughput: {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )
    print(f"scenario: {SCENARIO.relative_to(ROOT)}; in-process client and server, 127.0.0.1 only")
    print()

    with SimCluster(load_scenario(SCENARIO)) as sim:
        pod = _first_pod(sim)
        targets = [
            (f"get pod {pod}", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}"),
            (
                "list pods app=frontend (2)",
                f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app%3Dfrontend",
            ),
        ]
        results = [
            get_run(sim, label, path, clients, args.requests)
            for label, path in targets
            for clients in args.clients
        ]
    print("(a) small GETs: keep-alive HTTPS, one connection per client, admin token")
    print_table(
        ["request", "clients", "requests", "body", "req/s", "p50 ms", "p99 ms"],
        [
            [
                r.label,
                str(r.clients),
                str(r.requests),
                f"{r.body_bytes} B",
                f"{r.rate:.0f}",
                f"{r.percentile(50):.2f}",
                f"{r.percentile(99):.2f}",
            ]
            for r in results
        ],
    )
    print()

    with log_cluster(args.log_mb) as sim:
        read_official, close_official = official_client_reader(sim)
        try:
            streams = [
                measure_stream("http.client, 1 MiB reads", lambda: read_log_raw(sim)),
                measure_stream("kubernetes client, .stream(1 MiB)", read_official),
            ]
        finally:
            close_official()
    print(
        f"(b, c) streaming a generated {args.log_mb} MB log "
        f"(GET .../pods/{LOG_POD}/log?container={LOG_CONTAINER})"
    )
    print_table(
        ["reader", "bytes", "seconds", "MB/s", "RSS before", "peak RSS growth"],
        [
            [
                s.label,
                f"{s.nbytes:,}",
                f"{s.seconds:.1f}",
                f"{s.mb_per_s:.1f}",
                mib(s.rss_before_kib),
                f"{mib(s.peak_growth_kib)} ({s.peak_source})",
            ]
            for s in streams
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
