"""How long the CLI takes to start: the first thing a responder waits for.

Three figures, each the median of --runs subprocess runs of ``python -m irkit``:

* ``irkit --help`` and ``irkit isolate --help``: the CLI itself. Target: at most 0.25 s.
* ``irkit isolate deployment/api-server -n production`` against irkit.sim (in this process,
  on loopback): a real command, kubeconfig loading and every request included. The first run
  isolates; the rest find it in place, as a second responder would.
* the import of the cluster adapter alone (``irkit.cluster.kube``), and which heavy modules a
  real ``irkit isolate`` loads: the official client's ``kubernetes.config`` pulls requests and
  oauthlib, and irkit no longer needs it for token or certificate kubeconfigs.

    .venv/bin/python bench/cli_start.py [--runs 20]

To compare with another checkout, run it from outside the source tree (the current folder
comes first on the path) with PYTHONPATH pointing at that checkout's tree.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_SECONDS = 0.25
ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"
HEAVY = ("kubernetes", "kubernetes.config", "requests", "oauthlib", "pydantic", "boto3")


def _median(argv: Sequence[str], runs: int, env: dict[str, str]) -> tuple[float, float, str]:
    """Median wall time, median CPU time (user + system: what a busy machine does not inflate
    much) and a note if any run failed."""
    times, cpu, codes = [], [], set()
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        codes.add(subprocess.run(argv, check=False, capture_output=True, env=env).returncode)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    failed = f" FAILED (exit {sorted(codes)})" if codes != {0} else ""
    return statistics.median(times), statistics.median(cpu), failed


def _heavy_after(code: str, env: dict[str, str]) -> str:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, env=env
    )
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    from irkit.sim import SimCluster

    irkit = [sys.executable, "-m", "irkit"]
    env = dict(os.environ)
    ok = True
    for label, extra in (
        ("irkit --help", ["--help"]),
        ("irkit isolate --help", ["isolate", "--help"]),
    ):
        median, cpu, failed = _median([*irkit, *extra], args.runs, env)
        ok &= median <= TARGET_SECONDS and not failed
        print(
            f"{label:<28} median {median:.3f} s wall, {cpu:.3f} s CPU "
            f"(target <= {TARGET_SECONDS} s){failed}"
        )
    median, cpu, failed = _median(
        [sys.executable, "-c", "import irkit.cluster.kube"], args.runs, env
    )
    print(f"{'import irkit.cluster.kube':<28} median {median:.3f} s wall, {cpu:.3f} s CPU{failed}")
    with tempfile.TemporaryDirectory() as tmp, SimCluster(SCENARIO) as sim:
        env["IRKIT_JOURNAL"] = str(Path(tmp) / "journal.jsonl")
        argv = [*irkit, "isolate", "deployment/api-server", "-n", "production"]
        argv += ["-i", "bench-1", "--kubeconfig", sim.kubeconfig_path]
        median, cpu, failed = _median(argv, args.runs, env)
        print(
            f"{'irkit isolate (irkit.sim)':<28} median {median:.3f} s wall, {cpu:.3f} s CPU{failed}"
        )
        code = (
            "from irkit.cluster.kube import connect\nfrom irkit.settings import ClusterSettings\n"
            f"connect(ClusterSettings(kubeconfig={sim.kubeconfig_path!r}))"
            ".get('namespaces', '', 'production')"
        )
        heavy = _heavy_after(code, env)
    print(f"heavy modules after connecting and one request: {heavy}")
    at_start = _heavy_after("import irkit.cli.app", env)
    print(f"heavy modules imported by the CLI at start-up: {at_start}")
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
