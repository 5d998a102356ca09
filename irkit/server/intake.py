"""An alert request -> committed jobs: parse, route, fill the runbook's params from the alert,
apply the server's policy (protected namespaces, blast-radius cap, queue depth), submit.

Everything here answers in neutral words and never quotes the payload: the reply to a sender
says which param, namespace policy or field stopped an alert, not what the alert said.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.cluster.port import Cluster
from irkit.engine.alerts import Alert, alertmanager_alerts, falco_alert
from irkit.engine.params import check_alert, resolve_params
from irkit.engine.prepare import template_context
from irkit.engine.routing import route
from irkit.errors import IrkitError
from irkit.incident.ids import check_incident_id
from irkit.queue.port import NewJob, Overloaded, Queue, Refused
from irkit.runbook.loader import Loaded
from irkit.server.config import ServeSettings
from irkit.server.logs import log
from irkit.server.metrics import Metrics
from irkit.server.workloads import TARGET_PARAMS, WorkloadKeys, whole

KEY_PARAMS = TARGET_PARAMS
"""The params that name what a runbook acts on: an alert must not leave them empty."""
_PARAM = re.compile(r"param '([A-Za-z_][A-Za-z0-9_]*)'")
_SLUG = re.compile(r"[^a-z0-9-]+")


class Rejected(IrkitError):
    """One alert the server does not take; ``code`` is the reason counted and answered
    (params, protected, cap, namespace)."""


@dataclass
class Outcome:
    accepted: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "refused": self.refused,
        }

    @property
    def all_refused(self) -> bool:
        return bool(self.refused) and not (self.accepted or self.duplicates or self.ignored)


class Intake:
    def __init__(
        self,
        settings: ServeSettings,
        queue: Queue,
        routes: Sequence[Loaded],
        metrics: Metrics,
        *,
        cluster: Cluster | None = None,
        keys: WorkloadKeys | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.routes = list(routes)
        self.metrics = metrics
        self.submitted: Callable[[], None] = _nothing
        """Called after a new job is committed: wakes this server's idle workers at once
        (other replicas find it at their next poll)."""
        self.keys = keys or WorkloadKeys(
            cluster, timeout=settings.owner_timeout, ttl=settings.owner_ttl
        )

    def alerts(self, source: str, body: object) -> list[Alert]:
        """The alerts of a request; AlertError (-> 422) on an unknown shape."""
        if source == "alertmanager":
            return alertmanager_alerts(body)
        return [falco_alert(body, bucket_seconds=self.settings.falco_window)]

    def take(self, source: str, body: object) -> Outcome:
        """Route and submit every alert of the request; Overloaded (-> 503) before any submit
        when the queue is too deep (the sender retries the whole request: keys dedup it)."""
        outcome = Outcome()
        jobs: list[tuple[int, NewJob, str]] = []
        for index, alert in enumerate(self.alerts(source, body)):
            if alert.status != "firing":
                self._ignore(outcome, index, "resolved")
                continue
            loaded = route(alert, self.routes)
            if loaded is None:
                self._ignore(outcome, index, "no-route")
                continue
            try:
                jobs.append((index, self.job(alert, loaded), loaded.runbook.metadata.name))
            except Rejected as e:
                self._refuse(outcome, index, e)
        new = [self._new(job) for _, job, _ in jobs]
        if any(new):  # a known alert needs no room
            depth = self.queue.depth()
            if depth >= self.settings.max_depth:
                raise Overloaded(
                    f"{depth} jobs queued or running (limit {self.settings.max_depth})"
                )
        # only a new alert asks the cluster for its workload's owner (all of them at once)
        fresh_jobs = [job for (_, job, _), fresh in zip(jobs, new, strict=True) if fresh]
        keys = iter(self.keys.keys([(job.namespace, job.params) for job in fresh_jobs]))
        for (index, routed, name), fresh in zip(jobs, new, strict=True):
            job = replace(routed, workload=next(keys)) if fresh else routed
            try:
                done = self.queue.submit(
                    job, cap=self.settings.cap, window_s=self.settings.cap_window
                )
            except Refused as e:
                self._refuse(outcome, index, Rejected(str(e), code=e.code or "cap"))
                continue
            entry = {"incident": done.job.incident, "job": done.job.id, "runbook": name}
            if done.duplicate:
                self.metrics.deduplicated.labels(source).inc()
                outcome.duplicates.append(entry)
            else:
                self.metrics.accepted.labels(source).inc()
                outcome.accepted.append(entry)
                self.submitted()
                log(
                    logging.INFO,
                    "alert accepted",
                    incident=job.incident,
                    job=done.job.id,
                    source=source,
                )
        return outcome

    def job(self, alert: Alert, loaded: Loaded) -> NewJob:
        """The job for a routed alert: params filled and checked, policy checked; its workload
        is ``NAMESPACE/*`` until ``take`` finds it is new and keys it (``WorkloadKeys``)."""
        runbook = loaded.runbook
        name = runbook.metadata.name
        incident = incident_for(name, alert.key)
        try:
            payload = check_alert(alert.payload, self.settings.run.alert_max_bytes)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            base = template_context({}, payload, incident, now, {})
            values = resolve_params(runbook.params, _from_labels(alert, loaded), base)
        except IrkitError as e:
            raise Rejected(_params_problem(name, e), code="params") from None
        namespace = _text(values.get("namespace")) or alert.namespace
        if not namespace:
            raise Rejected(
                f"runbook {name}: the alert names no namespace (param namespace)", code="params"
            )
        if namespace in self.settings.protect:
            raise Rejected(
                f"namespace {namespace} is protected: no automatic response there", code="protected"
            )
        workload = workload_key(namespace, values, alert, name)  # NAMESPACE/*, refined in take
        return NewJob(
            key=alert.key,
            incident=incident,
            runbook=str(Path(loaded.path)),
            source=alert.source,
            alert=payload,
            namespace=namespace,
            workload=workload,
            params={k: v for k, v in values.items() if v is not None},
        )

    def _new(self, job: NewJob) -> bool:
        known = self.queue.get(job.incident)
        return known is None or known.key != job.key

    def _ignore(self, outcome: Outcome, index: int, reason: str) -> None:
        self.metrics.ignored.labels(reason).inc()
        outcome.ignored.append({"index": index, "reason": reason})

    def _refuse(self, outcome: Outcome, index: int, e: Rejected) -> None:
        reason = e.code or "params"
        self.metrics.rejected.labels(reason).inc()
        outcome.refused.append({"index": index, "reason": reason, "error": str(e)})
        log(logging.WARNING, "alert refused", reason=reason, error=str(e))


def incident_for(runbook: str, key: str) -> str:
    """``<runbook name>-<hash of the alert key>``: one incident per alert, the same on every
    redelivery and on every replica."""
    slug = _SLUG.sub("-", runbook.lower()).strip("-")[:40].strip("-") or "alert"
    return check_incident_id(f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}")


def _nothing() -> None:
    pass


def workload_key(namespace: str, values: Mapping[str, Any], alert: Alert, runbook: str) -> str:
    """The job's workload lock before the cluster is asked: ``NAMESPACE/*`` (the whole
    namespace). ``Intake.take`` replaces it for a NEW alert only (a duplicate costs no API
    call) with ``WorkloadKeys.key``: ``NAMESPACE/KIND/NAME`` of the top controller owner of the
    target the params name (``deploy/api``, ``deployments/api`` and a Falco event on one of
    its pods all key ``NAMESPACE/deployment/api``), ``NAMESPACE/pod/NAME`` when the cluster
    cannot tell, ``NAMESPACE/*`` for a selector or no target; the queues treat ``NAMESPACE/*``
    as overlapping every key of its namespace. A key param (``workload``, ``target``, ``pod``)
    that the alert leaves empty is an error naming it."""
    for name in KEY_PARAMS:
        if name in values and not _text(values[name]):
            raise Rejected(
                f"runbook {runbook}: the alert does not fill param {name} (empty)", code="params"
            )
    return whole(namespace)


def _from_labels(alert: Alert, loaded: Loaded) -> dict[str, Any]:
    """Required params without a default, taken from the Alertmanager labels of the same name
    (``workload: deployment/api``); params with a default are never set by a sender."""
    labels = alert.payload.get("labels")
    if not isinstance(labels, dict):
        return {}
    return {
        name: labels[name]
        for name, param in loaded.runbook.params.items()
        if param.required and param.default is None and isinstance(labels.get(name), str)
    }


def _params_problem(runbook: str, e: IrkitError) -> str:
    """The engine's words when they quote only runbook names, else the param's name alone (a
    coercion error would quote the alert's value)."""
    text = str(e)
    if text.startswith(("missing required param", "unknown param")):
        return f"runbook {runbook}: the alert cannot fill its params: {text}"
    if text.startswith("the alert payload is"):
        return f"runbook {runbook}: {text.split(':', maxsplit=1)[0]}"
    found = _PARAM.search(text)
    what = f"param {found.group(1)}" if found else "a param"
    return f"runbook {runbook}: {what} cannot be filled from the alert"


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
