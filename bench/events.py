"""``irkit collect`` in a namespace holding a huge number of Events: wall time and peak memory.

Not a test: a script that prints figures for docs/performance.md. It writes a small scenario
(one Deployment of ``--pods`` replicas with a short generated log) to a temporary folder, starts
``SimCluster`` in this process on 127.0.0.1, writes ``--events`` Events into the namespace
straight through the simulator's store (no HTTP: seeding is not what is measured), then runs
``irkit collect deployment/fleet`` as a subprocess and prints:

- its wall time and its own peak RSS: ``VmHWM`` from ``/proc/self/status``, read by the child
  itself at exit. Not ``os.wait4``'s ``ru_maxrss``: Linux carries the RSS a process had before
  ``exec`` into it, so a child of this process (which holds the simulator and its 200,000
  Events) would be charged this process's size;
- how many Events ``state/events.jsonl`` holds (must be every one of them) and its size;
- the simulator's CPU seconds during the collect (it serves on one core: when they approach
  the wall time, the simulator is the bottleneck);
- first, how long the simulator's store takes to serve all the Events in pages of 500 by itself
  (no HTTP): its paging used to sort and filter the whole type for every page (quadratic).

    .venv/bin/python bench/events.py [--events 200000] [--pods 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import WITH_HWM

from irkit.model.kinds import BY_KIND
from irkit.sim import SimCluster

NS, DEPLOYMENT = "bench", "fleet"
EVENTS = BY_KIND[("", "Event")]

SCENARIO = """\
apiVersion: irkit.io/v1
kind: Scenario
metadata: {{name: bench-events}}
spec:
  description: {pods} replicas with a short log; the Events are added by the benchmark.
  logs:
    - namespace: {ns}
      workload: deployment/{deployment}
      generate: {{size: 0.01MB}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {deployment}, namespace: {ns}}}
spec:
  replicas: {pods}
  selector: {{matchLabels: {{app: {deployment}}}}}
  template:
    metadata: {{labels: {{app: {deployment}}}}}
    spec:
      containers:
        - {{name: app, image: registry.example.com/bench/app:1.0}}
"""


def event(i: int, pod: str) -> dict[str, object]:
    """A kubelet-like Event of ~700 bytes, as a real cluster's are."""
    return {
        "metadata": {"name": f"{pod}.{i:08x}", "namespace": NS},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod,
            "namespace": NS,
            "uid": "6f1c2b8e-1d5a-4c1e-9a53-0b7c2d9e4f10",
            "resourceVersion": "1234",
            "fieldPath": "spec.containers{app}",
        },
        "reason": "BackOff" if i % 3 else "Unhealthy",
        "message": f"Back-off restarting failed container app in pod {pod} (attempt {i})",
        "type": "Warning",
        "source": {"component": "kubelet", "host": "sim-node-1"},
        "firstTimestamp": "2026-11-26T03:00:00Z",
        "lastTimestamp": "2026-11-26T03:10:00Z",
        "count": 1 + i % 17,
        "reportingComponent": "kubelet",
        "reportingInstance": "sim-node-1",
    }


def seed(sim: SimCluster, n: int) -> float:
    """Write ``n`` Events through the store; seconds taken. The controllers' write hook is
    off meanwhile: Events do not concern them, and 200,000 reconciles are not the subject."""
    hooks = list(sim.store.on_write)
    sim.store.on_write.clear()
    start = time.perf_counter()
    try:
        for i in range(n):
            sim.store.create(EVENTS, NS, event(i, f"{DEPLOYMENT}-pod-{i % 50}"))
    finally:
        sim.store.on_write.extend(hooks)
    return time.perf_counter() - start


def page_through(sim: SimCluster) -> float:
    start = time.perf_counter()
    token = None
    while True:
        _, _, token = sim.store.list_page(EVENTS, NS, None, None, 500, token)
        if not token:
            return time.perf_counter() - start


def sim_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def irkit_command(*args: str) -> list[str]:
    """``python -m irkit ARGS`` reporting its peak RSS (see ``peak_rss_mib``)."""
    return [sys.executable, "-c", WITH_HWM, *args]


def peak_rss_mib(hwm_file: Path) -> float:
    return int(hwm_file.read_text()) / 1024


def collect(sim: SimCluster, work: Path) -> tuple[float, float, float, dict[str, object]]:
    """Wall seconds, the child's peak RSS in MiB, simulator CPU seconds, the JSON summary."""
    cmd = irkit_command("collect", f"deployment/{DEPLOYMENT}", "-n", NS)
    cmd += ["--kubeconfig", sim.kubeconfig_path, "--out", str(work / "evidence")]
    cmd += ["--journal", str(work / "journal.jsonl"), "-o", "json"]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["BENCH_HWM"] = str(work / "hwm")
    out, err = work / "stdout", work / "stderr"
    cpu0, start = sim_cpu(), time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.call(cmd, stdout=stdout, stderr=stderr, env=env, cwd=work)
    seconds = time.perf_counter() - start
    if code != 0:
        sys.exit(f"irkit collect exited {code}: {err.read_text()[-2000:]}")
    rss = peak_rss_mib(work / "hwm")
    return seconds, rss, sim_cpu() - cpu0, json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--pods", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="irkit-bench-events-") as tmp:
        root = Path(tmp)
        scenario = root / "scenario.yaml"
        scenario.write_text(SCENARIO.format(pods=args.pods, ns=NS, deployment=DEPLOYMENT))
        with SimCluster(scenario) as sim:
            seeded = seed(sim, args.events)
            total = len(sim.store.objects(EVENTS, NS))
            print(f"{total:,} Events in namespace {NS} (seeded {args.events:,} in {seeded:.1f} s)")
            print(f"sim paging    : {page_through(sim):6.2f} s for all of them in pages of 500")
            work = root / "collect"
            work.mkdir()
            seconds, rss, cpu, summary = collect(sim, work)
        state = Path(str(summary["bundle"])) / "state"
        failures = len(summary.get("failures") or [])  # type: ignore[arg-type]
        print(f"irkit collect : {seconds:6.1f} s  peak RSS {rss:6.1f} MiB  (sim CPU {cpu:.1f} s)")
        events = state / "events.jsonl"
        if not events.exists():  # an irkit from before the Events were streamed
            size = (state / "events.yaml").stat().st_size / 1e6
            print(f"events.yaml   : {size:,.0f} MB  failures {failures}")
            return
        with events.open("rb") as f:
            lines = sum(1 for _ in f)
        size = events.stat().st_size / 1e6
        print(f"events.jsonl  : {lines:,} lines, {size:,.0f} MB  failures {failures}")
        if lines != total:
            sys.exit(f"WRONG: {lines:,} Events collected of {total:,}")


if __name__ == "__main__":
    main()
