"""``irkit collect`` on 200 pods against kubectl scripts, and irkit's peak memory.

Not a test: a script that prints figures for docs/performance.md. It writes a scenario to a
temporary folder (one Deployment, ``--pods`` replicas, two containers, each container a
generated log of ``--sizes`` MB), starts ``SimCluster`` in this process on 127.0.0.1, then for
each size:

1. ``irkit collect deployment/fleet`` as a subprocess (logs with timestamps, state, RBAC,
   Events, per-file sha256 manifest, custody, tar.gz and its sha256): wall time, and the
   subprocess's own peak RSS (``VmHWM``, read by the child at exit; ``os.wait4``'s
   ``ru_maxrss`` would charge it the size of this process, which it was forked from);
2. at the ``--kubectl`` sizes (default 1 MB), what a responder's script would do: one
   ``kubectl get pod -o yaml`` per pod and one ``kubectl logs --timestamps`` per container,
   (a) one after another in bash (``--sequential``, slow: off unless asked), (b) eight at a
   time (``xargs -P 8``), and (c) eight at a time followed by the rest of irkit's work: a
   sha256 of every file, ``tar | gzip -1`` (irkit's level) and a sha256 of the tarball;
3. the simulator's CPU time during each run: the simulator serves on one core (GIL), so when
   its CPU seconds approach the wall seconds, the simulator is the bottleneck, not the client.

    .venv/bin/python bench/collect.py [--pods 200] [--sizes 1,10] [--kubectl 1] [--sequential]
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

from _common import WITH_HWM

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

# The same reads, eight kubectl processes at a time; with PACK=1, then what irkit does after
# reading: a sha256 of each file, one tar.gz (gzip -1, as irkit) and the tarball's sha256.
KUBECTL_PARALLEL = """\
set -euo pipefail
export out="$1"
job() {{
  if [ "$1" = get ]; then
    kubectl get -n {ns} pod "$2" -o yaml > "$out/$2.yaml"
  else
    kubectl logs -n {ns} "$2" -c "$3" --timestamps > "$out/$2-$3.log"
  fi
}}
export -f job
kubectl get pods -n {ns} -l app={deployment} -o name | sed 's|^pod/||' |
  while read -r pod; do
    echo "get $pod"
    for c in {containers}; do echo "logs $pod $c"; done
  done | xargs -P 8 -L 1 bash -c 'job "$@"' _
if [ "${{PACK:-0}}" = 1 ]; then
  (cd "$out" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$out.manifest"
  mv "$out.manifest" "$out/manifest.sha256"
  tar -C "$(dirname "$out")" -cf - "$(basename "$out")" | gzip -1 | tee "$out.tar.gz" |
    sha256sum > "$out.tar.gz.sha256"
fi
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    sim_cpu: float
    log_bytes: int
    cpu: float = 0.0  # user + system seconds of the child and all its descendants


def sim_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(
    cmd: list[str], env: dict[str, str], cwd: Path, hwm: Path | None = None
) -> tuple[float, float, float, str, float]:
    """Wall seconds, peak RSS (MiB; the child's own VmHWM when ``hwm`` is given, else the
    largest process of the child's tree, per ``os.wait4``), the simulator's CPU seconds, stdout,
    and the CPU seconds of the child with its descendants."""
    out, err = cwd / "stdout", cwd / "stderr"
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, start = sim_cpu(), time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree_cpu = (children.ru_utime + children.ru_stime) - (children0.ru_utime + children0.ru_stime)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{cmd[:4]} exited {proc.returncode}: {err.read_text()[-2000:]}")
    rss_mib = int(hwm.read_text()) / 1024 if hwm else usage.ru_maxrss / 1024
    return seconds, rss_mib, sim_cpu() - cpu0, out.read_text(), tree_cpu


def run_irkit(sim: SimCluster, work: Path, concurrency: int, env: dict[str, str]) -> Run:
    work.mkdir()
    cmd = [sys.executable, "-c", WITH_HWM, "collect", f"deployment/{DEPLOYMENT}", "-n", NS]
    cmd += ["--kubeconfig", sim.kubeconfig_path, "--out", str(work / "evidence")]
    cmd += ["--concurrency", str(concurrency), "--journal", str(work / "journal.jsonl")]
    hwm = work / "hwm"
    cenv = {**env, "BENCH_HWM": str(hwm)}
    seconds, rss, cpu, stdout, own = timed([*cmd, "-o", "json"], cenv, work, hwm)
    summary = json.loads(stdout)
    folder = Path(summary["bundle"])
    logs = sum(p.stat().st_size for p in folder.glob("logs/*/*.log"))
    if summary["failures"]:
        sys.exit(f"irkit collect had failures: {summary['failures'][:3]}")
    return Run(seconds, rss, cpu, logs, own)


def run_kubectl(
    sim: SimCluster, work: Path, env: dict[str, str], template: str, pack: bool = False
) -> Run:
    work.mkdir()
    (work / "out").mkdir()
    script = work / "collect.sh"
    script.write_text(
        template.format(ns=NS, deployment=DEPLOYMENT, containers=" ".join(CONTAINERS))
    )
    kenv = {**env, "KUBECONFIG": sim.kubeconfig_path, "KUBECACHEDIR": str(work / "cache")}
    kenv["PACK"] = "1" if pack else "0"
    seconds, rss, cpu, _, own = timed(["bash", str(script), str(work / "out")], kenv, work)
    logs = sum(p.stat().st_size for p in (work / "out").glob("*.log"))
    if pack and not (work / "out.tar.gz.sha256").is_file():
        sys.exit("the kubectl script did not pack")
    return Run(seconds, rss, cpu, logs, own)


def report(label: str, run: Run, irkit: Run) -> None:
    print(
        f"  {label:<26}: {run.seconds:7.1f} s  {run.log_bytes / MB / run.seconds:6.1f} MB/s"
        f"  (CPU {run.cpu:5.1f} s, sim {run.sim_cpu:.1f} s)"
        f"  irkit is {run.seconds / irkit.seconds:4.1f}x faster"
    )
    if run.log_bytes != irkit.log_bytes:
        print(f"  WARNING log bytes differ: {run.log_bytes:,} vs irkit {irkit.log_bytes:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--sizes", default="1,10", help="MB of log per container, e.g. 0.1,1,10")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kubectl", default="1", help="sizes to run the kubectl scripts at too")
    parser.add_argument("--sequential", action="store_true", help="also the sequential loop")
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        sys.exit("kubectl is not on PATH")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"{args.pods} pods x {len(CONTAINERS)} containers, concurrency {args.concurrency}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
                    f"  {'irkit collect':<26}: {irkit.seconds:7.1f} s  "
                    f"{total / irkit.seconds:6.1f} MB/s  (CPU {irkit.cpu:5.1f} s, "
                    f"sim {irkit.sim_cpu:.1f} s)"
                    f"  peak RSS {irkit.peak_rss_mib:.1f} MiB"
                )
                if size not in kubectl_sizes:
                    continue
                if args.sequential:
                    loop = run_kubectl(sim, root / f"seq-{size:g}", env, KUBECTL_LOOP)
                    report("(a) kubectl loop", loop, irkit)
                par = run_kubectl(sim, root / f"par-{size:g}", env, KUBECTL_PARALLEL)
                report("(b) kubectl xargs -P 8", par, irkit)
                same = run_kubectl(sim, root / f"pack-{size:g}", env, KUBECTL_PARALLEL, True)
                report("(c) (b) + sha256, tar.gz", same, irkit)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
