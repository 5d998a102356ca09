"""The server's Prometheus metrics, in a registry of its own per app (so two apps in one
process, as in tests, do not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "irkit_alerts_received", "Alert requests received", ["source"], registry=r
        )
        self.accepted = Counter(
            "irkit_alerts_accepted", "Alerts committed as new jobs", ["source"], registry=r
        )
        self.deduplicated = Counter(
            "irkit_alerts_deduplicated", "Alerts already known (same key)", ["source"], registry=r
        )
        self.ignored = Counter(
            "irkit_alerts_ignored",
            "Alerts that start nothing (resolved, no route)",
            ["reason"],
            registry=r,
        )
        self.rejected = Counter(
            "irkit_alerts_rejected", "Requests or alerts refused", ["reason"], registry=r
        )
        self.unauthenticated = Counter(
            "irkit_requests_unauthenticated",
            "Requests accepted without authentication (--insecure-no-auth)",
            registry=r,
        )
        self.runs = Counter(
            "irkit_runs", "Runs ended, by runbook and result", ["runbook", "result"], registry=r
        )
        self.step_seconds = Histogram(
            "irkit_step_seconds",
            "Seconds per step, by action",
            ["action"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("irkit_queue_depth", "Jobs queued or running", registry=r)
