"""``irkit isolate`` of a Deployment with N pods: API requests per isolate, and wall time.

Not a test: a script that prints figures for docs/performance.md. For each ``--pods`` count it
writes a scenario (one namespace, one Deployment of N replicas, one other NetworkPolicy) to a
temporary folder, starts ``SimCluster`` in this process on 127.0.0.1, connects through irkit's
own adapter (``irkit.cluster.kube.connect``, the official client underneath) and then, ``--runs``
times: isolates the Deployment (timed, requests counted), releases it (not counted). It also
counts a second isolate that finds everything in place (the no-op a resumed run makes).

Requests are read from the simulator's audit log (one line per request, with its verb and
resource), so the figures say which requests an isolate makes, not only how many.

    .venv/bin/python bench/isolate.py [--pods 1,20,100] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from irkit.actions.isolate import IsolateRequest, isolate
from irkit.actions.isolate import release as release_target
from irkit.cluster.kube import connect
from irkit.model.target import parse_target
from irkit.settings import ClusterSettings
from irkit.sim import SimCluster

NS, DEPLOYMENT = "bench", "fleet"
SCENARIO = """\
apiVersion: irkit.io/v1
kind: Scenario
metadata: {{name: bench-isolate}}
spec:
  description: one Deployment of {pods} replicas to isolate.
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


class AuditCounter:
    """The requests the simulator served since the last ``mark``, by verb and resource."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        self.offset = 0

    def _settle(self) -> None:
        # The server counts and audits a request just after sending its answer.
        last = -1
        while last != self.sim.requests_served:
            last = self.sim.requests_served
            time.sleep(0.02)

    def mark(self) -> None:
        self._settle()
        self.offset = self.sim.audit_log_path.stat().st_size

    def since_mark(self) -> Counter[str]:
        self._settle()
        with self.sim.audit_log_path.open("rb") as f:
            f.seek(self.offset)
            lines = f.read().splitlines()
        counts: Counter[str] = Counter()
        for line in lines:
            event = json.loads(line)
            resource = (event.get("objectRef") or {}).get("resource", event["requestURI"])
            counts[f"{event['verb']} {resource}"] += 1
        return counts


def bench(pods: int, runs: int, root: Path) -> None:
    scenario = root / f"scenario-{pods}.yaml"
    scenario.write_text(SCENARIO.format(pods=pods, ns=NS, deployment=DEPLOYMENT))
    with SimCluster(scenario, audit_log=root / f"audit-{pods}.log") as sim:
        cluster = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
        target = parse_target(NS, f"deployment/{DEPLOYMENT}", None)
        audit = AuditCounter(sim)
        seconds, first, again = [], Counter[str](), Counter[str]()
        for run in range(runs):
            req = IsolateRequest(incident=f"bench-{run}", actor="bench", command="bench")
            audit.mark()
            start = time.perf_counter()
            result = isolate(cluster, target, req)
            seconds.append(time.perf_counter() - start)
            counts = audit.since_mark()
            assert len(result.labelled) == pods, result
            if run == 0:
                first = counts
                audit.mark()
                isolate(cluster, target, req)
                again = audit.since_mark()
            release_target(cluster, target)
        print(
            f"{pods:4d} pods: isolate {sum(first.values()):4d} requests, "
            f"wall median {statistics.median(seconds) * 1000:7.1f} ms "
            f"(min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f}, {runs} runs); "
            f"second isolate {sum(again.values())} requests"
        )
        print("           " + ", ".join(f"{v} {k}" for k, v in sorted(first.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pods", default="1,20,100", help="replica counts, e.g. 1,20,100")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="irkit-bench-isolate-") as tmp:
        for pods in (int(p) for p in args.pods.split(",")):
            bench(pods, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
