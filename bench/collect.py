"""``irkit collect`` on 200 pods against a hand-written kubectl loop, and irkit's peak memory.

Not a test: a script that prints figures for docs/performance.md. It writes a scenario to a
temporary folder (one Deployment, ``--pods`` replicas, two containers, each container a
generated log of ``--sizes`` MB), starts ``SimCluster`` in this process on 127.0.0.1, then for
each size:

1. ``irkit collect deployment/fleet`` as a subprocess (logs with timestamps, state, manifest,
   tarball): wall time, and the subprocess's own peak RSS (``os.wait4`` rusage of that child
   only, so the kubectl runs do not pollute it);
2. (at the ``--kubectl`` sizes, default 1 MB) what a responder's script would do: one
   ``kubectl get pod -o yaml`` per pod and one ``kubectl logs --timestamps`` per container,
   sequentially, in bash;
3. the simulator's CPU time during each run: the simulator serves on one core (GIL), so when
   its CPU seconds approach the wall seconds, the simulator is the bottleneck, not the client.

    .venv/bin/python bench/collect.py [--pods 200] [--sizes 1,10] [--kubectl 1] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from irkit.sim import SimCluster

NS, DEPLOYMENT, CONTAINERS = "bench", "fleet", ("app", "sidecar")
MB = 1_000_000

SCENARIO = """\
apiVersion: irkit.io/v1
kind: Scenario
metadata: {{name: bench-collect}}
spec:
  description: {pods} replicas, two containers each, {size:g} MB of generated log per container.
  logs:
    - namespace: {ns}
      workload: deployment/{deployment}
      generate: {{size: {size:g}MB}}
      interval: 0.001
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
        - {{name: {c0}, image: registry.example.com/bench/app:1.0}}
        - {{name: {c1}, image: registry.example.com/bench/sidecar:1.0}}
"""

KUBECTL_LOOP = """\
set -euo pipefail
out="$1"
for pod in $(kubectl get pods -n {ns} -l app={deployment} -o name); do
  name="${{pod#pod/}}"
  kubectl get -n {ns} "$pod" -o yaml > "$out/$name.yaml"
  for c in {containers}; do
    kubectl logs -n {ns} "$pod" -c "$c" --timestamps > "$out/$name-$c.log"
  done
done
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    sim_cpu: float
    log_bytes: int


def sim_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall seconds, the child's peak RSS (MiB), the simulator's CPU seconds, stdout."""
    out, err = cwd / "stdout", cwd / "stderr"
    cpu0, start = sim_cpu(), time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{cmd[:4]} exited {proc.returncode}: {err.read_text()[-2000:]}")
    rss_mib = usage.ru_maxrss / 1024  # kilobytes on Linux
    return seconds, rss_mib, sim_cpu() - cpu0, out.read_text()


def run_irkit(sim: SimCluster, work: Path, concurrency: int, env: dict[str, str]) -> Run:
    work.mkdir()
    cmd = [sys.executable, "-m", "irkit", "collect", f"deployment/{DEPLOYMENT}", "-n", NS]
    cmd += ["--kubeconfig", sim.kubeconfig_path, "--out", str(work / "evidence")]
    cmd += ["--concurrency", str(concurrency), "--journal", str(work / "journal.jsonl")]
    seconds, rss, cpu, stdout = timed([*cmd, "-o", "json"], env, work)
    summary = json.loads(stdout)
    folder = Path(summary["bundle"])
    logs = sum(p.stat().st_size for p in folder.glob("logs/*/*.log"))
    if summary["failures"]:
        sys.exit(f"irkit collect had failures: {summary['failures'][:3]}")
    return Run(seconds, rss, cpu, logs)


def run_kubectl(sim: SimCluster, work: Path, env: dict[str, str]) -> Run:
    work.mkdir()
    (work / "out").mkdir()
    script = work / "collect.sh"
    script.write_text(
        KUBECTL_LOOP.format(ns=NS, deployment=DEPLOYMENT, containers=" ".join(CONTAINERS))
    )
    kenv = {**env, "KUBECONFIG": sim.kubeconfig_path, "KUBECACHEDIR": str(work / "cache")}
    seconds, rss, cpu, _ = timed(["bash", str(script), str(work / "out")], kenv, work)
    logs = sum(p.stat().st_size for p in (work / "out").glob("*.log"))
    return Run(seconds, rss, cpu, logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--sizes", default="1,10", help="MB of log per container, e.g. 0.1,1,10")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kubectl", default="1", help="sizes to run the kubectl loop at too")
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        sys.exit("kubectl is not on PATH")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"{args.pods} pods x {len(CONTAINERS)} containers, concurrency {args.concurrency}")
    with tempfile.TemporaryDirectory(prefix="irkit-bench-collect-") as tmp:
        root = Path(tmp)
        kubectl_sizes = {float(s) for s in args.kubectl.split(",") if s}
        for size in sizes:
            scenario = root / f"scenario-{size:g}.yaml"
            scenario.write_text(
                SCENARIO.format(
                    pods=args.pods,
                    size=size,
                    ns=NS,
                    deployment=DEPLOYMENT,
                    c0=CONTAINERS[0],
                    c1=CONTAINERS[1],
                )
            )
            with SimCluster(scenario, audit_log=root / f"audit-{size:g}.log") as sim:
                irkit = run_irkit(sim, root / f"irkit-{size:g}", args.concurrency, env)
                total = irkit.log_bytes / MB
                print(
                    f"\n{size:g} MB per container ({total:,.0f} MB of log with timestamps)\n"
                    f"  irkit collect : {irkit.seconds:7.1f} s  {total / irkit.seconds:6.1f} MB/s"
                    f"  peak RSS {irkit.peak_rss_mib:6.1f} MiB  (sim CPU {irkit.sim_cpu:.1f} s)"
                )
                if size in kubectl_sizes:
                    kubectl = run_kubectl(sim, root / f"kubectl-{size:g}", env)
                    print(
                        f"  kubectl loop  : {kubectl.seconds:7.1f} s  "
                        f"{kubectl.log_bytes / MB / kubectl.seconds:6.1f} MB/s"
                        f"  peak RSS {kubectl.peak_rss_mib:6.1f} MiB (largest kubectl)"
                        f"  (sim CPU {kubectl.sim_cpu:.1f} s)"
                    )
                    print(f"  speed-up      : {kubectl.seconds / irkit.seconds:7.1f}x")
                    if kubectl.log_bytes != irkit.log_bytes:
                        print(f"  WARNING log bytes differ: kubectl {kubectl.log_bytes:,}")


if __name__ == "__main__":
    main()
