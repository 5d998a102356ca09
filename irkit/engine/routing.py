"""Which runbook an alert starts: the ``match`` blocks of the runbooks, evaluated.

``irkit serve`` routes every received alert here, and ``irkit drill`` fires its scenario's
alert through the same code. Routing is first-match in file-name order, as Alertmanager's
routing tree without ``continue``: one alert starts at most one runbook, so two runbooks that
both match cannot answer one alert twice; the order of the files is the order of precedence.
A ``~REGEX`` value matches the whole text (anchored), so ``~prod`` does not match ``preprod``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irkit.engine.alerts import Alert
from irkit.errors import ConfigError
from irkit.runbook.loader import Loaded, load_runbook
from irkit.runbook.model import (
    FALCO_PRIORITIES,
    FALCO_PRIORITY,
    AlertmanagerMatch,
    FalcoMatch,
    Match,
)


def routes(directory: Path) -> list[Loaded]:
    """Every runbook in ``directory`` with a ``match`` block, by file name; any runbook that does
    not load is an error (a receiver must not start with a route silently missing)."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory of runbooks")
    found = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        loaded = load_runbook(path)
        if _has_match(loaded.runbook.match):
            found.append(loaded)
    return found


def route(alert: Alert, runbooks: Sequence[Loaded]) -> Loaded | None:
    for loaded in runbooks:
        if matches(loaded.runbook.match, alert):
            return loaded
    return None


def matches(match: Match, alert: Alert) -> bool:
    if alert.source == "alertmanager" and match.alertmanager is not None:
        return _alertmanager(match.alertmanager, alert)
    if alert.source == "falco" and match.falco is not None:
        return _falco(match.falco, alert)
    return False


def _has_match(match: Match) -> bool:
    return match.alertmanager is not None or match.falco is not None


def _alertmanager(rule: AlertmanagerMatch, alert: Alert) -> bool:
    if rule.status not in ("any", alert.status):
        return False
    labels = _strings(alert.payload.get("labels"))
    annotations = _strings(alert.payload.get("annotations"))
    return _all(rule.labels, labels) and _all(rule.annotations, annotations)


def _falco(rule: FalcoMatch, alert: Alert) -> bool:
    event = alert.payload
    if rule.rules and not any(_one(want, str(event.get("rule", ""))) for want in rule.rules):
        return False
    if rule.priority is not None and not _priority(rule.priority, str(event.get("priority", ""))):
        return False
    tags = event.get("tags") or []
    if not all(tag in tags for tag in rule.tags):
        return False
    fields = event.get("output_fields") or {}
    return _all(rule.output_fields, _strings(fields))


def _all(wanted: Mapping[str, str], have: Mapping[str, str]) -> bool:
    return all(name in have and _one(value, have[name]) for name, value in wanted.items())


def _one(wanted: str, value: str) -> bool:
    if wanted.startswith("~"):
        return re.fullmatch(wanted[1:], value) is not None
    return wanted == value


def _priority(rule: str, given: str) -> bool:
    """Falco priorities rank emergency (most severe) to debug; ``>= notice`` = notice or worse."""
    found = FALCO_PRIORITY.match(rule)
    if found is None:
        return False
    op = found.group(1) or "=="
    want = _rank(found.group(2))
    have = _rank(given)
    if want is None or have is None:
        return False
    severity_want, severity_have = -want, -have  # a lower index is more severe
    return {
        "==": severity_have == severity_want,
        ">=": severity_have >= severity_want,
        "<=": severity_have <= severity_want,
        ">": severity_have > severity_want,
        "<": severity_have < severity_want,
    }[op]


def _rank(name: str) -> int | None:
    word = name.strip().lower()
    if word == "info":
        word = "informational"
    return FALCO_PRIORITIES.index(word) if word in FALCO_PRIORITIES else None


def _strings(value: Any) -> dict[str, str]:
    """A mapping's values as text (Falco output_fields hold numbers too); others are dropped."""
    if not isinstance(value, dict):
        return {}
    return {
        str(k): v if isinstance(v, str) else str(v)
        for k, v in value.items()
        if isinstance(v, (str, int, float, bool))
    }
