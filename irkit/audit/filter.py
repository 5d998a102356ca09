"""Which audit events belong to an incident: the one decision every audit source defers to.

Sources pre-filter by time (and CloudWatch by a server-side pattern) only to read less;
``in_scope`` is the rule, so a file and CloudWatch give the same answer for the same events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from irkit.audit.source import AuditEvent, AuditScope

TIME_FIELDS = ("requestReceivedTimestamp", "stageTimestamp")


def actor_for_service_account(namespace: str, name: str) -> str:
    """The username Kubernetes gives a service account's requests."""
    return f"system:serviceaccount:{namespace}:{name}"


def event_time(event: AuditEvent) -> datetime | None:
    """When the API server received the request (``stageTimestamp`` if that is missing), UTC;
    None if neither is a timestamp."""
    for name in TIME_FIELDS:
        value = event.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` with a time zone; a naive one is taken as UTC, as audit timestamps are."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def in_window(when: datetime | None, scope: AuditScope) -> bool:
    """``when`` in [since, until] (open ends where None); an unknown time is outside any window."""
    since, until = aware(scope.since), aware(scope.until)
    if since is None and until is None:
        return True
    if when is None:
        return False
    return (since is None or when >= since) and (until is None or when <= until)


def in_scope(event: AuditEvent, scope: AuditScope) -> bool:
    """In the time window, and either about the scope's namespace (an object in it, a named one
    in it, or the Namespace object itself) or done by, or as, one of the scope's actors
    (``user.username`` or ``impersonatedUser.username``) anywhere in the cluster."""
    if not in_window(event_time(event), scope):
        return False
    ref = _mapping(event.get("objectRef"))
    namespace, name = ref.get("namespace"), ref.get("name")
    if namespace == scope.namespace:
        return True  # includes every name in scope.names, which live in that namespace
    if ref.get("resource") == "namespaces" and not namespace and name == scope.namespace:
        return True
    users = (_mapping(event.get("user")), _mapping(event.get("impersonatedUser")))
    return any(isinstance(u.get("username"), str) and u["username"] in scope.actors for u in users)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
