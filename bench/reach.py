"""``irkit.model.reach.open_paths`` on a large cluster's worth of NetworkPolicies: wall time.

Not a test: a script that prints figures. A drill evaluates containment once per check, over
every NetworkPolicy and Namespace of the cluster; this says how long that takes when the
cluster has many of them. Each policy selects one of 20 apps in one of 50 namespaces and lets
in ``app=web`` pods from the half of the namespaces labelled ``team=x``; the compromised pods
are one app's pods in one namespace (so 1 policy in 100 selects them).

    .venv/bin/python bench/reach.py [--policies 1000,5000,20000] [--namespaces 500] \
        [--pods 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from irkit.model.reach import open_paths


def cluster(policies: int, namespaces: int, pods: int) -> tuple[list[Any], list[Any], list[Any]]:
    peer = {
        "namespaceSelector": {"matchLabels": {"team": "x"}},
        "podSelector": {"matchLabels": {"app": "web"}},
    }
    pols = [
        {
            "metadata": {"name": f"p{i}", "namespace": f"ns{i % 50}"},
            "spec": {
                "podSelector": {"matchLabels": {"app": f"a{i % 20}"}},
                "ingress": [{"from": [peer], "ports": [{"port": 80}]}],
            },
        }
        for i in range(policies)
    ]
    nss = [
        {"metadata": {"name": f"ns{i}", "labels": {"team": "x" if i % 2 else "y"}}}
        for i in range(namespaces)
    ]
    compromised = [
        {"metadata": {"name": f"pod{i}", "namespace": "ns1", "labels": {"app": "a1"}}, "spec": {}}
        for i in range(pods)
    ]
    return compromised, pols, nss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", default="1000,5000,20000")
    parser.add_argument("--namespaces", type=int, default=500)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("policies  namespaces  pods  paths  median ms  max ms")
    for n in (int(x) for x in args.policies.split(",")):
        pods, pols, nss = cluster(n, args.namespaces, args.pods)
        times, found = [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            found = len(open_paths(pods, pols, nss))
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"{n:>8}  {args.namespaces:>10}  {args.pods:>4}  {found:>5}"
            f"  {statistics.median(times):>9.1f}  {max(times):>6.1f}"
        )


if __name__ == "__main__":
    main()
