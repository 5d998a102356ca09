"""``snapshot``: the target's state as it is now, before containment changes it (RFC 3227).

``isolate`` labels the pods (``irkit.io/quarantine``) and adds a NetworkPolicy; once it has run,
a ``collect`` shows the pods and the namespace's policies as isolate left them. A snapshot
taken first records them as the incident found them: the target's pods, their owner chain, the
namespace's NetworkPolicies and Services. No logs, no audit events, no RBAC walk: it must be
quick, because containment waits for it. Objects are redacted (``irkit.evidence.redact``, in
``write_object``) and the bundle is sealed like any other (manifest, custody, tarball, sha256),
named ``irkit-snapshot-...``: ``collect(..., state_only=True)`` writes it.
"""

from __future__ import annotations

from functools import partial

from irkit.actions.gather import guarded, source, write_object
from irkit.actions.targets import Resolved, owner_chain
from irkit.cluster.port import Cluster, Obj
from irkit.evidence.bundle import BundleWriter
from irkit.model.kinds import by_name


def snapshot_state(cluster: Cluster, writer: BundleWriter, resolved: Resolved) -> list[Obj]:
    """Write the snapshot's state files; returns the owners found (nearest first, once each)."""
    ns = resolved.target.namespace
    for pod in resolved.pods:
        write_object(writer, "state/pods", pod, "pods")
    owners: dict[str, Obj] = {}
    seen_controllers: set[str] = set()
    for pod in resolved.pods:
        ref = _controller_uid(pod)
        if ref is None or ref in seen_controllers:
            continue
        seen_controllers.add(ref)
        for owner in owner_chain(cluster, pod):
            owners.setdefault(str((owner.get("metadata") or {}).get("uid")), owner)
    workload = resolved.workload
    if workload is not None:
        owners.setdefault(str(workload["metadata"].get("uid")), workload)
    for owner in owners.values():
        plural = _plural(owner, resolved)
        write_object(writer, f"state/owners/{plural}", owner, plural)
    for kind in ("networkpolicies", "services"):
        listed = guarded(writer, f"state/{kind}", source(kind, ns), partial(cluster.list, kind, ns))
        for obj in listed or []:
            write_object(writer, f"state/{kind}", obj, kind)
    return list(owners.values())


def _controller_uid(pod: Obj) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _plural(owner: Obj, resolved: Resolved) -> str:
    rt = by_name(str(owner.get("kind") or resolved.target.kind or ""))
    return rt.plural if rt is not None else str(owner.get("kind", "")).lower() or "owners"
