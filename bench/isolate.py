"""``irkit isolate`` of a Deployment with N pods: API requests per isolate, and wall time.

Not a test: a script that prints figures for docs/performance.md. For each ``--pods`` count and
each ``--latency`` it writes a scenario (one namespace, one Deployment of N replicas, one other
NetworkPolicy, and a fault rule delaying every request by the latency: the round trip to a
real API server) to a temporary folder, starts ``irkit sim serve`` on 127.0.0.1 in its own
process (as an API server is: it does not share this process's interpreter lock), connects
through irkit's own adapter (``irkit.cluster.kube.connect``, irkit's urllib3 transport)
and then, ``--runs`` times: isolates the Deployment (timed, requests counted) and releases it
(not counted). It also counts a second isolate that finds everything in place (the no-op a
resumed run makes).

Requests are read from the simulator's audit log (one line per request, with its verb and
resource), so the figures say which requests an isolate makes, not only how many.

    .venv/bin/python bench/isolate.py [--pods 1,20,100] [--latency 0,10] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from irkit.actions.isolate import IsolateRequest, isolate
from irkit.actions.release import release as release_target
from irkit.cluster.kube import connect
from irkit.model.target import parse_target
from irkit.settings import ClusterSettings

NS, DEPLOYMENT = "bench", "fleet"
SCENARIO = """\
apiVersion: irkit.io/v1
kind: Scenario
metadata: {{name: bench-isolate}}
spec:
  description: one Deployment of {pods} replicas to isolate.
  faults: {faults}
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
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: default-deny-ingress, namespace: {ns}}}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
"""


class Sim:
    """``irkit sim serve`` in a subprocess, and the requests it served since ``mark``."""

    def __init__(self, scenario: Path, root: Path) -> None:
        self.kubeconfig, self.audit = root / "kubeconfig", root / "audit.log"
        cmd = [sys.executable, "-m", "irkit", "sim", "serve", "--scenario", str(scenario)]
        cmd += ["--kubeconfig-out", str(self.kubeconfig), "--audit-log", str(self.audit)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.process.stdout is not None and self.process.stderr is not None
        for line in self.process.stdout:  # "kubeconfig: ..." once it serves
            if line.startswith(b"kubeconfig:"):
                break
        else:
            sys.exit(f"irkit sim serve failed: {self.process.stderr.read().decode()}")
        self.offset = 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def _lines(self) -> list[bytes]:
        # The server audits a request just after answering it: wait until the log settles.
        seen: list[bytes] | None = None
        while True:
            with self.audit.open("rb") as f:
                f.seek(self.offset)
                lines = f.read().splitlines()
            if seen is not None and len(lines) == len(seen):
                return lines
            seen = lines
            time.sleep(0.05)

    def mark(self) -> None:
        self._lines()
        self.offset = self.audit.stat().st_size

    def since_mark(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for line in self._lines():
            event = json.loads(line)
            resource = (event.get("objectRef") or {}).get("resource", event["requestURI"])
            counts[f"{event['verb']} {resource}"] += 1
        return counts


def bench(pods: int, latency_ms: float, runs: int, root: Path) -> None:
    folder = root / f"{pods}-{latency_ms:g}"
    folder.mkdir()
    scenario = folder / "scenario.yaml"
    faults = f"[{{latency: {latency_ms / 1000}}}]" if latency_ms else "[]"
    scenario.write_text(SCENARIO.format(pods=pods, ns=NS, deployment=DEPLOYMENT, faults=faults))
    sim = Sim(scenario, folder)
    try:
        cluster = connect(ClusterSettings(kubeconfig=str(sim.kubeconfig)))
        target = parse_target(NS, f"deployment/{DEPLOYMENT}", None)
        seconds, first, again = [], Counter[str](), Counter[str]()
        for run in range(runs):
            req = IsolateRequest(incident=f"bench-{run}", actor="bench", command="bench")
            sim.mark()
            start = time.perf_counter()
            result = isolate(cluster, target, req)
            seconds.append(time.perf_counter() - start)
            counts = sim.since_mark()
            assert len(result.labelled) == pods, result
            if run == 0:
                first = counts
                sim.mark()
                isolate(cluster, target, req)
                again = sim.since_mark()
            release_target(cluster, target)
    finally:
        sim.stop()
    print(
        f"{pods:4d} pods, {latency_ms:3g} ms latency: isolate {sum(first.values()):4d} requests, "
        f"wall median {statistics.median(seconds) * 1000:7.1f} ms "
        f"(min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f}, {runs} runs); "
        f"second isolate {sum(again.values())} requests"
    )
    print("    " + ", ".join(f"{v} {k}" for k, v in sorted(first.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pods", default="1,20,100", help="replica counts, e.g. 1,20,100")
    parser.add_argument("--latency", default="0,10", help="ms added to every request, e.g. 0,10")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="irkit-bench-isolate-") as tmp:
        for latency in (float(ms) for ms in args.latency.split(",")):
            for pods in (int(p) for p in args.pods.split(",")):
                bench(pods, latency, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
