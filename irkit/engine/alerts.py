"""Alert payloads -> ``Alert`` records: what ``irkit serve`` and ``irkit drill`` route to runbooks.

Both sources are untrusted: a payload is checked field by field (types, sizes), an error names
the field and never quotes the payload, and nothing here evaluates alert text. The idempotency
key makes a redelivered alert a duplicate:

* Alertmanager (webhook version 4) sends a group; each alert in it is its own record, keyed by
  (fingerprint, startsAt): a re-notification of the same firing alert has the same key, the
  same alert firing again later (a new startsAt) is a new incident.
* Falco (``http_output`` or Falcosidekick's webhook) sends one event, whose ``uuid`` is new on
  every event, so the key is (rule, pod or host, time bucket): a shell opened ten times in five
  minutes is one incident, not ten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from irkit.errors import AlertError

MAX_TEXT = 4096
"""Longest label value, rule name or time string read from an alert."""
ENVELOPE = (
    "receiver",
    "externalURL",
    "groupKey",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
)
"""Alertmanager group fields copied into each alert's ``payload`` (runbooks read them too)."""


@dataclass(frozen=True)
class Alert:
    source: str
    """alertmanager or falco"""
    status: str
    """firing or resolved (Falco events always fire)"""
    key: str
    """Idempotency key: equal keys are one alert delivered again."""
    payload: dict[str, Any]
    """What runbook templates see as ``alert``."""
    namespace: str
    """The namespace the alert is about, "" when it does not say."""
    pod: str
    """The pod it is about, "" when it does not say."""
    name: str
    """alertname or Falco rule: for logs and metrics."""


def alertmanager_alerts(body: object) -> list[Alert]:
    """Every alert of an Alertmanager webhook (version 4) payload, in order."""
    envelope = _mapping(body, "payload")
    version = envelope.get("version")
    if version != "4":
        raise AlertError(f'version: expected "4" (Alertmanager webhook), got {_kind(version)}')
    items = envelope.get("alerts")
    if not isinstance(items, list) or not items:
        raise AlertError("alerts: expected a non-empty list")
    shared = {k: envelope[k] for k in ENVELOPE if k in envelope}
    for name in ("groupLabels", "commonLabels", "commonAnnotations"):
        if name in shared:
            _strings(shared[name], name)
    return [_one_alertmanager(item, f"alerts[{i}]", shared) for i, item in enumerate(items)]


def _one_alertmanager(item: object, where: str, shared: Mapping[str, Any]) -> Alert:
    alert = _mapping(item, where)
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise AlertError(f"{where}.status: expected firing or resolved, got {_kind(status)}")
    labels = _strings(alert.get("labels"), f"{where}.labels")
    _strings(alert.get("annotations", {}), f"{where}.annotations")
    starts = _text(alert.get("startsAt"), f"{where}.startsAt")
    _when(starts, f"{where}.startsAt")
    fingerprint = alert.get("fingerprint")
    if isinstance(fingerprint, str) and fingerprint:
        identity = _text(fingerprint, f"{where}.fingerprint")
    else:  # older senders: the label set is what Alertmanager fingerprints
        identity = _digest(sorted(labels.items()))
    payload = dict(shared) | dict(alert)
    return Alert(
        source="alertmanager",
        status=str(status),
        key=f"am:{identity}:{starts}",
        payload=payload,
        namespace=labels.get("namespace", ""),
        pod=labels.get("pod", ""),
        name=labels.get("alertname", ""),
    )


def falco_alert(body: object, *, bucket_seconds: int = 300) -> Alert:
    """One Falco event; ``bucket_seconds`` is the deduplication window of its key."""
    if bucket_seconds < 1:
        raise AlertError("the Falco deduplication window must be at least 1 second")
    event = _mapping(body, "payload")
    rule = _text(event.get("rule"), "rule")
    when = _when(_text(event.get("time"), "time"), "time")
    _text(event.get("priority"), "priority")
    fields = event.get("output_fields", {})
    if not isinstance(fields, dict):
        raise AlertError(f"output_fields: expected an object, got {_kind(fields)}")
    tags = event.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise AlertError("tags: expected a list of strings")
    namespace = _field(fields, "k8s.ns.name")
    pod = _field(fields, "k8s.pod.name")
    host = _field(event, "hostname")
    bucket = int(when.timestamp()) // bucket_seconds
    where = f"{namespace}/{pod}" if pod else f"host:{host}"
    return Alert(
        source="falco",
        status="firing",
        key=f"falco:{_digest([rule, where])}:{bucket}",
        payload=dict(event),
        namespace=namespace,
        pod=pod,
        name=rule,
    )


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AlertError(f"{where}: expected a JSON object, got {_kind(value)}")
    return value


def _strings(value: object, where: str) -> dict[str, str]:
    found = _mapping(value, where)
    for key, item in found.items():
        if not isinstance(item, str) or len(item) > MAX_TEXT:
            raise AlertError(
                f"{where}: every value must be a string of at most {MAX_TEXT} characters"
            )
        if len(key) > MAX_TEXT:
            raise AlertError(f"{where}: a name is longer than {MAX_TEXT} characters")
    return found


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise AlertError(f"{where}: expected a non-empty string, got {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise AlertError(f"{where}: longer than {MAX_TEXT} characters")
    return value


def _field(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_TEXT else ""


def _when(text: str, where: str) -> datetime:
    """RFC 3339 as both sources write it (Falco with nanoseconds, Alertmanager with or without)."""
    head, _, rest = text.partition(".")
    if rest:
        digits = rest.rstrip("Z").split("+")[0].split("-")[0]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AlertError(f"{where}: not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise AlertError(f"{where}: the time has no zone (RFC 3339 needs Z or an offset)")
    return moment


def _digest(parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _kind(value: object) -> str:
    """What a wrong value is, without quoting it."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    return f"a {type(value).__name__}"
