"""Which audit events of a drill's bundle count as evidence of the attacker's activity.

The runbook's own requests (list pods, patch labels, read logs) name the compromised pods too:
counted, they would satisfy ``audit_of_pod`` by the response itself. Only events by another
identity than the drill's (its cluster user, the custody record's collector) made no later than
the alert count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime


def custody_user(members: Mapping[str, str]) -> list[str]:
    """The cluster identity the bundle's custody record says collected it."""
    for path, text in members.items():
        if path.rpartition("/")[2] == "custody.json" and text:
            try:
                user = json.loads(text).get("collector", {}).get("cluster_user")
            except (ValueError, AttributeError):
                return []
            return [user] if isinstance(user, str) and user else []
    return []


def attacker_events(text: str, own: set[str], alert_at: str) -> list[str]:
    """Audit lines not made by the drill's identities and not after the alert fired."""
    since = _when(alert_at)
    out = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        user = event.get("user")
        name = user.get("username") if isinstance(user, dict) else None
        if name in own:
            continue
        at = _when(str(event.get("requestReceivedTimestamp") or event.get("stageTimestamp") or ""))
        if since is not None and (at is None or at > since):
            continue
        out.append(line)
    return out


def _when(stamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["attacker_events", "custody_user"]
