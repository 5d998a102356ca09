"""The scenario's alert as ``irkit serve`` would receive and route it.

A drill proves the runbook answers the alert, so the alert goes through the same parsing
(``irkit.engine.alerts``) and routing (``irkit.engine.routing``, the runbook's folder in
file-name order) as the server's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irkit.engine.alerts import Alert, alertmanager_alerts, falco_alert
from irkit.engine.routing import route, routes
from irkit.errors import ConfigError
from irkit.runbook.loader import Loaded


def parse_alert(source: str, payload: dict[str, Any]) -> Alert:
    """The scenario's alert as ``irkit serve`` would receive it (the first of a group)."""
    if source == "falco":
        return falco_alert(payload)
    return alertmanager_alerts(payload)[0]


def route_problem(alert: Alert, loaded: Loaded) -> str:
    """ "" when the alert routes to ``loaded`` as ``irkit serve`` with its folder would route it;
    else why not."""
    if not (loaded.runbook.match.alertmanager or loaded.runbook.match.falco):
        return f"the runbook {loaded.path} has no match: block, so no alert starts it"
    try:
        folder = routes(Path(loaded.path).parent)
    except ConfigError:
        folder = []
    chosen = route(alert, folder) if folder else None
    mine = route(alert, [loaded])
    if mine is None:
        return f"its match.{alert.source} does not match the alert {alert.name or ''}".rstrip()
    if chosen is not None and Path(chosen.path).resolve() != Path(loaded.path).resolve():
        return f"{chosen.path} matches the alert first (file-name order), so serve starts that one"
    return ""


__all__ = ["parse_alert", "route_problem"]
