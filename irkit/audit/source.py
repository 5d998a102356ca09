"""The port audit sources implement, and the window/scope every source is filtered to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

AuditEvent = dict[str, Any]  # an audit.k8s.io/v1 Event as parsed JSON


@dataclass(frozen=True)
class AuditScope:
    """Keep events in [since, until] that touch ``namespace`` or ``names`` in it, or were done by
    one of ``actors`` anywhere (e.g. ``system:serviceaccount:prod:api-server``)."""

    since: datetime | None
    until: datetime | None
    namespace: str
    names: frozenset[str] = field(default_factory=frozenset)
    actors: frozenset[str] = field(default_factory=frozenset)


class AuditSource(Protocol):
    description: (
        str  # e.g. "file /var/log/kube-apiserver/audit.log" or "cloudwatch /aws/eks/x/cluster"
    )

    def events(self, scope: AuditScope) -> Iterator[AuditEvent]:
        """Events in the scope's time window (sources may pre-filter more; ``in_scope`` decides)."""
        ...
