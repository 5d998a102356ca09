"""``irkit serve``: durable accepts per second with deduplication, alert -> NetworkPolicy latency,
and 100 concurrent alerts for distinct pods all isolated.

Not a test: a script that prints figures for docs/performance.md ("Webhook"). Everything runs on
127.0.0.1, each in its own process: ``irkit sim serve`` (a scenario of bare pods in namespace
``bench``), ``irkit serve`` (token auth on, an isolate-only runbook routed by its ``match``
block), and for PostgreSQL a throwaway server (initdb + pg_ctl in a temporary folder, a free
port, run as user postgres when this runs as root). Per backend (``--backend``):

(a0) ceiling: the same burst of POSTs with the alerts resolved (ignored: nothing committed).
(a) accepts: ``--alerts`` distinct Alertmanager webhooks (one alert each, its own fingerprint
    and pod), each sent ``1 + --duplicates`` times, shuffled, from ``--clients`` threads with
    keep-alive connections. Counts the 202s, first accepts vs duplicates; accepts/s is distinct
    durable accepts over the wall time of the whole burst (duplicates included in the work).
    The queue is then read back through irkit's own adapter: every distinct alert's key must be
    there exactly once. The workers run meanwhile (each job isolates a pod): a real load.
(a1) accepts with idle workers: as (a), after (c), the alerts routed to the same isolate behind
    an approval and all on one pod: the first job waits for approval and holds the workload,
    the others stay queued, so the workers do nothing while the intake is measured.
(b) latency: ``--latency-runs`` alerts, one at a time, each for another pod: from just before
    the POST to the NetworkPolicy create as the simulator's audit log stamps it (p50/p99).
(c) burst: ``--burst`` alerts for distinct pods posted at once; time until the last policy, and
    a check on the cluster that every pod is selected by its own irkit policy.

    .venv/bin/python bench/webhook.py [--backend sqlite,postgres] [--alerts 2000]
        [--duplicates 1] [--clients 16] [--latency-runs 50] [--burst 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _serve import PolicyWatch, Postgres, Serve, Sim, post, post_many, wait_for

from irkit.actions.isolate import policy_name
from irkit.model.target import parse_target

PHASE = 100_000
"""Pod indexes: phase (a) from 0, (b) from PHASE, (c) from 2 * PHASE; each phase's pods are in a
namespace of their own (bench-a, -b, -c), so one phase's policies do not slow the next (an
isolate lists its namespace's NetworkPolicies to find leaks)."""
PATH = "/v1/alerts/alertmanager"
RUNBOOK = """\
apiVersion: irkit.io/v1
kind: Runbook
metadata:
  name: bench-isolate
  description: Isolate the pod the alert names; nothing else.
  severity: critical
match:
  alertmanager:
    labels:
      alertname: BenchAlert
params:
  namespace:
    default: "{{ alert.labels.namespace }}"
  pod:
    default: "{{ alert.labels.pod }}"
steps:
  - id: isolate
    action: isolate
    with:
      namespace: "{{ params.namespace }}"
      target: "pod/{{ params.pod }}"
"""


# (a1): the same isolate behind an approval, every alert on one pod: the first job waits for
# an approval that never comes and holds the workload, so the workers stay idle.
HOLD = (
    RUNBOOK.replace("BenchAlert", "BenchHold")
    .replace("bench-isolate", "bench-hold")
    .replace("    action: isolate\n", "    action: isolate\n    approval: required\n")
)


def scenario(ids: list[int]) -> str:
    docs = [
        "apiVersion: irkit.io/v1\nkind: Scenario\nmetadata: {name: bench-webhook}\n"
        "spec: {description: bare pods to isolate.}",
        *(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: bench-{p}}}" for p in "abc"),
    ]
    for i in ids:
        docs.append(
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod(i)}, namespace: {ns(i)}, "
            f"labels: {{app: bench, pod: {pod(i)}}}}}\n"
            "spec: {containers: [{name: app, image: registry.example.com/bench/app:1.0}]}"
        )
    return "\n---\n".join(docs) + "\n"


def pod(i: int) -> str:
    return f"pod-{i:06d}"


def ns(i: int) -> str:
    return f"bench-{'abc'[i // PHASE]}"


def policy(i: int) -> str:
    return policy_name(parse_target(ns(i), f"pod/{pod(i)}", None))


def webhook(i: int, run: str, status: str = "firing", alertname: str = "BenchAlert") -> bytes:
    """An Alertmanager webhook (version 4) with one alert for pod ``i`` (BenchHold: all for
    the first pod, whatever ``i``)."""
    target = 0 if alertname == "BenchHold" else i
    labels = {"alertname": alertname, "namespace": ns(target), "pod": pod(target), "run": run}
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"bench alert {i}"},
        "startsAt": "2026-12-04T10:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.bench:9090/graph",
        "fingerprint": f"{run}{i:011x}",
    }
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{fingerprint="{run}{i:011x}"}}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "irkit",
            "groupLabels": {"pod": pod(target)},
            "commonLabels": labels,
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": [alert],
        }
    ).encode()


def key(i: int, run: str) -> str:
    return f"am:{run}{i:011x}:2026-12-04T10:00:00.000Z"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ceiling(serve: Serve, args: argparse.Namespace) -> None:
    """(a0) the same burst as (a), the alerts resolved: authenticated, parsed, routed and
    ignored, nothing committed: what the HTTP side alone takes."""
    bodies = [webhook(i, "r0", "resolved") for i in range(args.alerts * (1 + args.duplicates))]
    answers, seconds = post_many(serve.url, PATH, bodies, serve.token, args.clients)
    ignored = sum(len((b or {}).get("ignored", [])) for s, b in answers if s == 202)
    print(f"  (a0) {len(bodies)} resolved alerts (ignored, no commit): {ignored} ignored, "
          f"{len(bodies) / seconds:.0f} requests/s")  # fmt: skip


def accepts(
    serve: Serve, args: argparse.Namespace, ids: list[int], run: str = "a0", alertname: str = ""
) -> list[str]:
    """(a), or (a1) with ``alertname`` BenchHold; the keys of the distinct alerts sent, to be
    found in the queue afterwards."""
    sends = [i for i in ids for _ in range(1 + args.duplicates)]
    random.Random(7).shuffle(sends)
    bodies = [webhook(i, run, alertname=alertname or "BenchAlert") for i in sends]
    answers, seconds = post_many(serve.url, PATH, bodies, serve.token, args.clients)
    statuses: dict[int, int] = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    firsts = sum(len((body or {}).get("accepted", [])) for s, body in answers if s == 202)
    dups = sum(len((body or {}).get("duplicates", [])) for s, body in answers if s == 202)
    phase = "a1" if alertname else "a"
    print(f"  ({phase}) {len(sends)} POSTs ({args.alerts} distinct x{1 + args.duplicates}) "
          f"from {args.clients} clients in {seconds:.2f} s: statuses {statuses}")  # fmt: skip
    print(f"      accepted first {firsts}, duplicates {dups}: {firsts / seconds:.0f} durable "
          f"accepts/s, {len(sends) / seconds:.0f} requests/s")  # fmt: skip
    if firsts != args.alerts or dups != args.alerts * args.duplicates:
        print("      MISMATCH: every distinct alert must be accepted once, every copy a duplicate")
    return [key(i, run) for i in ids]


def drained(watch: PolicyWatch, ids: list[int], began: float) -> None:
    """Wait until (a)'s jobs have all run (their policies exist), so (b) starts on an idle queue."""
    names = [policy(i) for i in ids]
    wait_for(lambda: all(n in watch.added for n in names), 600, f"{len(names)} isolations")
    seconds = max(watch.added[n] for n in names) - began
    print(f"      all {len(names)} pods isolated {seconds:.1f} s after the first POST: "
          f"{len(names) / seconds:.0f} isolations/s")  # fmt: skip


def verify_queue(queue: Any, keys: list[str]) -> None:
    jobs = queue.jobs(limit=len(keys) * 4 + 1000)
    found: dict[str, int] = {}
    for job in jobs:
        found[job.key] = found.get(job.key, 0) + 1
    missing = [k for k in keys if k not in found]
    twice = [k for k in keys if found.get(k, 0) > 1]
    verdict = "OK" if not missing and not twice else "FAILED"
    print(f"      queue read back: {len(keys)} keys, missing {len(missing)}, more than once "
          f"{len(twice)}: {verdict}")  # fmt: skip


def latency(serve: Serve, watch: PolicyWatch, ids: list[int]) -> None:
    """(b)"""
    conn = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
    took, answered = [], []
    for i in ids:
        name = policy(i)
        sent = time.time()
        status, _ = post(conn, PATH, webhook(i, "b0"), serve.token)
        answered.append((time.time() - sent) * 1000)
        assert status == 202, status
        wait_for(lambda name=name: name in watch.added, 30, f"NetworkPolicy {name}")
        took.append((watch.added[name] - sent) * 1000)
    conn.close()
    print(f"  (b) alert POST -> NetworkPolicy created, {len(took)} runs one at a time: "
          f"p50 {statistics.median(took):.1f} ms, p99 {percentile(took, 99):.1f} ms, "
          f"max {max(took):.1f} ms (202 answered: p50 {statistics.median(answered):.1f} ms, "
          f"p99 {percentile(answered, 99):.1f} ms)")  # fmt: skip


def burst(serve: Serve, sim: Sim, watch: PolicyWatch, ids: list[int]) -> None:
    """(c)"""
    names = {policy(i): i for i in ids}
    sent = time.time()
    answers, _ = post_many(serve.url, PATH, [webhook(i, "c0") for i in ids], serve.token, len(ids))
    accepted = sum(1 for status, _ in answers if status == 202)
    wait_for(lambda: all(n in watch.added for n in names), 120, f"{len(names)} NetworkPolicies")
    last = max(watch.added[name] for name in names) - sent
    isolated = verify_isolated(sim, names)
    print(f"  (c) {len(ids)} alerts for distinct pods at once: {accepted} answered 202; all "
          f"{len(names)} policies created within {last * 1000:.0f} ms of the first POST; "
          f"pods selected by their own policy: {isolated}/{len(names)}")  # fmt: skip


def verify_isolated(sim: Sim, names: dict[str, int]) -> int:
    """How many pods an irkit policy of their own selects, read from the cluster."""
    from irkit.cluster.kube import connect
    from irkit.settings import ClusterSettings

    cluster = connect(ClusterSettings(kubeconfig=str(sim.kubeconfig)))
    namespaces = {ns(i) for i in names.values()}
    found = [p for n in namespaces for p in cluster.list("networkpolicies", n)]
    policies = {p["metadata"]["name"]: p for p in found}
    pods = {p["metadata"]["name"]: p for n in namespaces for p in cluster.list("pods", n)}
    good = 0
    for name, i in names.items():
        own = policies.get(name)
        labels = pods[pod(i)]["metadata"].get("labels") or {}
        if own is None:
            continue
        wanted = own["spec"]["podSelector"].get("matchLabels") or {}
        denies = sorted(own["spec"].get("policyTypes", [])) == ["Egress", "Ingress"]
        if wanted and denies and all(labels.get(k) == v for k, v in wanted.items()):
            good += 1
    return good


def open_queue(backend: str, folder: Path, pg: Postgres | None) -> Any:
    if backend == "sqlite":
        from irkit.queue.sqlite import SqliteQueue

        return SqliteQueue(folder / "state" / "serve.sqlite3")
    from irkit.queue.postgres import open_postgres

    assert pg is not None
    return open_postgres(pg.url)[0]


def bench(backend: str, args: argparse.Namespace, root: Path) -> None:
    folder = root / backend
    folder.mkdir()
    runbooks = folder / "runbooks"
    runbooks.mkdir()
    (runbooks / "bench-isolate.yaml").write_text(RUNBOOK)
    (runbooks / "bench-hold.yaml").write_text(HOLD)
    if max(args.alerts, args.latency_runs, args.burst) >= PHASE:
        sys.exit(f"at most {PHASE - 1} alerts per phase")
    phase_a = list(range(args.alerts))
    phase_b = list(range(PHASE, PHASE + args.latency_runs))
    phase_c = list(range(2 * PHASE, 2 * PHASE + args.burst))
    (folder / "scenario.yaml").write_text(scenario(phase_a + phase_b + phase_c))
    pg = Postgres(root / "postgres") if backend == "postgres" else None
    sim = Sim(folder / "scenario.yaml", folder)
    store = ["--database", pg.url] if pg else ["--state", str(folder / "state")]
    # no blast-radius cap and room for the whole burst: the bench measures the intake
    store += ["--cap", "0", "--max-depth", "1000000", "--workers", str(args.workers)]
    watch = PolicyWatch(sim.kubeconfig)
    print(f"{backend}:")
    try:
        serve = Serve(folder, runbooks, sim.kubeconfig, store)
        try:
            ceiling(serve, args)
            began = time.time()
            keys = accepts(serve, args, phase_a)
            drained(watch, phase_a, began)
            latency(serve, watch, phase_b)
            burst(serve, sim, watch, phase_c)
            keys += accepts(serve, args, phase_a, run="h0", alertname="BenchHold")
        finally:
            serve.stop()
        queue = open_queue(backend, folder, pg)
        try:
            verify_queue(queue, keys)
        finally:
            queue.close()
    finally:
        watch.stop()
        sim.stop()
        if pg:
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite,postgres")
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--duplicates", type=int, default=1)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="irkit serve --workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="irkit-bench-webhook-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the postgres user reaches its folder inside
        for backend in args.backend.split(","):
            if backend not in ("sqlite", "postgres"):
                sys.exit(f"--backend: sqlite or postgres, not {backend!r}")
            bench(backend, args, root)


if __name__ == "__main__":
    main()
