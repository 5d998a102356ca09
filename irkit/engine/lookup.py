"""What a response command reads off the cluster before it changes anything: the incident a
release or restore belongs to (so it is journaled there from its first change), and, when a
``kind/NAME`` target is not found, the names there are ("did you mean").

Both only read, and both give way to the command itself: a lookup that fails returns "" (or
leaves the error as it was), and the command then says what matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from irkit.actions.isolate import policy_name
from irkit.actions.netpol import is_ours
from irkit.actions.scale import SCALED_BY_INCIDENT
from irkit.cluster.port import Cluster
from irkit.errors import IrkitError, NotFound, UsageError
from irkit.hints import nearest
from irkit.incident.ids import check_incident_id
from irkit.model.target import WORKLOAD_KINDS, Target


def policy_incident(cluster: Cluster, target: Target) -> str:
    """The incident recorded on irkit's quarantine policy for ``target`` (its
    ``irkit.io/incident`` annotation), so a release is journaled where the isolate was; ""
    when there is no such policy, or its annotation is not a valid incident id (cluster data)."""
    try:
        policy = cluster.get("networkpolicies", target.namespace, policy_name(target))
        if not is_ours(policy):
            return ""
        recorded = (policy["metadata"].get("annotations") or {}).get("irkit.io/incident")
        return check_incident_id(recorded) if isinstance(recorded, str) and recorded else ""
    except IrkitError:  # not found, forbidden, invalid id: release itself says what matters
        return ""


def scaled_incident(incidents: str) -> str:
    """The incident of a restore: ``ScaleResult.incident`` when it names exactly one valid id
    (the workloads' ``irkit.io/scaled-by-incident``), else ""."""
    if not incidents or "," in incidents:
        return ""
    try:
        return check_incident_id(incidents)
    except UsageError:
        return ""


def restore_incident(cluster: Cluster, target: Target) -> str:
    """The incident of a restore, read before it runs so that it is journaled there from its
    first change: the one ``irkit.io/scaled-by-incident`` the target's workloads name (see
    ``scaled_incident``), else ""."""
    kinds = ("deployments", "statefulsets")
    try:
        if target.kind is not None and target.name is not None:
            found = [cluster.get(target.kind, target.namespace, target.name)]
        else:
            found = [
                o for k in kinds for o in cluster.list(k, target.namespace, labels=target.selector)
            ]
    except IrkitError:  # restore itself says what matters
        return ""
    named = {
        (o.get("metadata", {}).get("annotations") or {}).get(SCALED_BY_INCIDENT) for o in found
    }
    return scaled_incident(",".join(sorted(n for n in named if isinstance(n, str) and n)))


@contextmanager
def names_suggested(cluster: Cluster, target: Target) -> Iterator[None]:
    """A 404 for ``kind/NAME`` says which names there are (the nearest first). The kind is
    listed only then: one extra request, on the error path only."""
    try:
        yield
    except NotFound as e:
        better = _not_found_message(cluster, target)
        if better is None:
            raise
        raise NotFound(better, status=e.status, hint=e.hint) from e


def _not_found_message(cluster: Cluster, target: Target) -> str | None:
    if target.kind is None or target.name is None:
        return None
    try:
        names = sorted(
            str(o["metadata"]["name"]) for o in cluster.list(target.kind, target.namespace)
        )
    except (IrkitError, KeyError, TypeError):
        return None
    if not names or target.name in names:
        return None  # a missing namespace, or the 404 was about something else: as it was
    what = (
        f"{WORKLOAD_KINDS[target.kind]} {target.name!r} not found in namespace {target.namespace}"
    )
    if close := nearest(target.name, names):
        return what + close
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"{what}; {target.kind} there: {shown}"
