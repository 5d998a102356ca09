"""Ask the cluster, before the incident, whether irkit may do everything a runbook needs.

One SelfSubjectAccessReview per permission (``Cluster.can_i``): the API server answers for the
identity irkit runs as, with every binding, group and aggregated role taken into account, which
no reading of RBAC objects by hand could promise.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from irkit.cluster.port import Cluster
from irkit.runbook.needed import ResolvedPermission

CONCURRENCY = 8  # reviews in flight; each is one small POST


@dataclass(frozen=True)
class Check:
    need: ResolvedPermission
    allowed: bool

    def to_json(self) -> dict[str, Any]:
        p = self.need.permission
        return {
            "verb": p.verb,
            "group": p.group,
            "resource": p.resource,
            "subresource": p.subresource,
            "namespace": self.need.namespace,
            "allowed": self.allowed,
            "steps": list(self.need.steps),
            "notes": list(self.need.notes),
            "unresolved": list(self.need.unresolved),
        }


def check_access(cluster: Cluster, needed: list[ResolvedPermission]) -> list[Check]:
    def review(need: ResolvedPermission) -> Check:
        p = need.permission
        allowed = cluster.can_i(
            p.verb, p.resource, need.review_namespace, subresource=p.subresource
        )
        return Check(need, allowed)

    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="preflight") as pool:
        return list(pool.map(review, needed))


def denial_summary(checks: list[Check], user: str) -> str:
    """One line naming every denial: ``3 of 24 permissions denied to jane: create ...``."""
    denied = [c for c in checks if not c.allowed]
    items = ", ".join(f"{c.need.permission} {c.need.scope}" for c in denied)
    return f"{len(denied)} of {len(checks)} permissions denied to {user}: {items}"
