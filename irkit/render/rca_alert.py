"""The RCA's Detection section from the alert a run recorded: Alertmanager or Falco, or raw.

Alertmanager: a webhook payload (``{"alerts": [...]}``; the first alert, the rest counted) or
one alert (``labels``, ``annotations``, ``status``, ``startsAt``). Falco (falcosidekick, the
HTTP output): ``rule``, ``priority``, ``output``, ``output_fields``, ``tags``. Anything else is
shown field by field. Values stay as sent (clipped): escaping is the template's job.
"""

from __future__ import annotations

import json
from typing import Any

from irkit.render.rca_data import Detection, Field

MAX_VALUE = 2000  # characters of one alert field in the document
MAX_FIELDS = 100


def clip(text: str, limit: int = MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: Any, limit: int = MAX_VALUE) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return clip(value, limit)
    return clip(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False), limit)


def detection(alert: Any) -> Detection:
    if not isinstance(alert, dict) or not alert:
        return Detection()
    if isinstance(alert.get("alerts"), list):
        return _alertmanager_payload(alert)
    if isinstance(alert.get("labels"), dict):
        return _alertmanager(alert, [])
    if "rule" in alert and ("priority" in alert or "output" in alert):
        return _falco(alert)
    fields = [Field(text(k, 200), text(v)) for k, v in list(alert.items())[:MAX_FIELDS]]
    return Detection(source="other", fields=tuple(fields))


def _alertmanager_payload(payload: dict[str, Any]) -> Detection:
    alerts = [a for a in payload["alerts"] if isinstance(a, dict)]
    extra = [Field("receiver", text(payload.get("receiver")))] if payload.get("receiver") else []
    if len(alerts) > 1:
        extra.append(Field("alerts in payload", str(len(alerts))))
    if not alerts:
        return Detection(source="alertmanager", status=text(payload.get("status")), fields=())
    first = alerts[0]
    merged = {
        **first,
        "labels": {**_map(payload, "commonLabels"), **_map(first, "labels")},
        "annotations": {**_map(payload, "commonAnnotations"), **_map(first, "annotations")},
        "status": first.get("status") or payload.get("status"),
    }
    return _alertmanager(merged, extra)


def _alertmanager(alert: dict[str, Any], extra: list[Field]) -> Detection:
    labels, annotations = _map(alert, "labels"), _map(alert, "annotations")
    fields = [Field(f"label {text(k, 200)}", text(v)) for k, v in labels.items()]
    fields += [Field(f"annotation {text(k, 200)}", text(v)) for k, v in annotations.items()]
    for key in ("startsAt", "endsAt", "generatorURL", "fingerprint"):
        if alert.get(key):
            fields.append(Field(key, text(alert[key])))
    return Detection(
        source="alertmanager",
        name=text(labels.get("alertname")),
        severity=text(labels.get("severity")),
        status=text(alert.get("status")),
        fired_at=text(alert.get("startsAt")),
        summary=text(annotations.get("summary") or annotations.get("description")),
        fields=tuple((fields + extra)[:MAX_FIELDS]),
    )


def _falco(event: dict[str, Any]) -> Detection:
    fields = [
        Field(key, text(event[key]))
        for key in ("rule", "priority", "time", "hostname", "source", "output")
        if event.get(key) is not None
    ]
    if isinstance(event.get("tags"), list):
        fields.append(Field("tags", ", ".join(text(t, 200) for t in event["tags"])))
    output_fields = _map(event, "output_fields") or _map(event, "outputFields")
    fields += [Field(f"field {text(k, 200)}", text(v)) for k, v in output_fields.items()]
    return Detection(
        source="falco",
        name=text(event.get("rule")),
        severity=text(event.get("priority")),
        fired_at=text(event.get("time")),
        summary=text(event.get("output")),
        fields=tuple(fields[:MAX_FIELDS]),
    )


def _map(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}
