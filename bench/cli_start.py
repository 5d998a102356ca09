"""How long ``irkit --help`` takes to start: the first thing a responder waits for.

Target: at most 0.25 s. The CLI imports the Kubernetes client and boto3 only inside the
commands that need them; this benchmark keeps that honest.

    .venv/bin/python bench/cli_start.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    exe = shutil.which("irkit") or str(Path(sys.executable).with_name("irkit"))
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    times.sort()
    median = statistics.median(times)
    p90 = times[int(0.9 * (len(times) - 1))]
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import irkit.cli.app, sys; "
            "print(sorted(m for m in ('kubernetes', 'boto3', 'botocore') if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(
        f"irkit --help over {args.runs} runs: median {median:.3f} s, p90 {p90:.3f} s, "
        f"min {times[0]:.3f} s (target <= {TARGET_SECONDS} s)"
    )
    print(f"heavy modules imported by the CLI at start-up: {heavy}")
    print("PASS" if median <= TARGET_SECONDS and heavy == "[]" else "FAIL")


if __name__ == "__main__":
    main()
