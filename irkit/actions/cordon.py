"""``cordon`` and ``uncordon``: stop new pods landing on a suspect node, and undo exactly that.

cordon sets ``spec.unschedulable`` and, in the same patch, records the value it found in the
node's ``irkit.io/was-unschedulable`` annotation ("true" or "false"). uncordon puts that value
back and removes the record, so a node someone had cordoned for maintenance before the incident
stays cordoned. A node cordoned by someone else with no record is left alone (Conflict): irkit
does not know why it was cordoned.

Patches carry the resourceVersion read, so a concurrent change cannot slip between reading the
old value and recording it; on such a conflict the node is read again (a few times).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, NotFound, UsageError
from irkit.model.journal import Change

WAS_UNSCHEDULABLE = "irkit.io/was-unschedulable"
ATTEMPTS = 3
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_Plan = Callable[[Obj], tuple[str, dict[str, Any] | None]]


@dataclass(frozen=True)
class CordonResult:
    node: str
    status: str  # cordoned, uncordoned, unchanged
    unschedulable: bool  # after (would be after, with dry_run)
    changes: list[Change]
    dry_run: bool


def cordon(
    cluster: Cluster, node: str, *, dry_run: bool = False, changes: list[Change] | None = None
) -> CordonResult:
    return _apply(cluster, node, _cordon_patch, dry_run, [] if changes is None else changes)


def uncordon(
    cluster: Cluster, node: str, *, dry_run: bool = False, changes: list[Change] | None = None
) -> CordonResult:
    return _apply(cluster, node, _uncordon_patch, dry_run, [] if changes is None else changes)


def outputs(result: CordonResult) -> dict[str, Any]:
    """``steps.<id>.outputs`` for cordon and uncordon."""
    return {"node": result.node}


def _apply(
    cluster: Cluster, node: str, plan: _Plan, dry_run: bool, changes: list[Change]
) -> CordonResult:
    if not _NODE_NAME.match(node):
        raise UsageError(f"node name {node!r} is not a valid Kubernetes node name")
    for attempt in range(ATTEMPTS):
        obj = _get(cluster, node)
        status, patch = plan(obj)
        if patch is None:
            return CordonResult(node, "unchanged", _unschedulable(obj), changes, dry_run)
        patch["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
        try:
            after = cluster.patch("nodes", "", node, patch, dry_run=dry_run)
        except Conflict:
            if attempt == ATTEMPTS - 1:
                raise
            continue
        except NotFound:
            raise NotFound(f'node "{node}" not found') from None
        changes.append(Change("patch", "Node", "", node, _record(obj), _record(after)))
        return CordonResult(node, status, _unschedulable(after), changes, dry_run)
    raise AssertionError("unreachable")  # pragma: no cover


def _cordon_patch(node: Obj) -> tuple[str, dict[str, Any] | None]:
    was = _unschedulable(node)
    if WAS_UNSCHEDULABLE in _annotations(node) and was:
        return "unchanged", None  # cordoned by irkit already: the record holds the real original
    patch: dict[str, Any] = {"metadata": {}, "spec": {"unschedulable": True}}
    if WAS_UNSCHEDULABLE not in _annotations(node):
        # Recorded even when the node was cordoned already, so uncordon knows to leave it so.
        patch["metadata"]["annotations"] = {WAS_UNSCHEDULABLE: "true" if was else "false"}
    return ("unchanged" if was else "cordoned"), patch


def _uncordon_patch(node: Obj) -> tuple[str, dict[str, Any] | None]:
    name = node["metadata"]["name"]
    record = _annotations(node).get(WAS_UNSCHEDULABLE)
    if record is None:
        if not _unschedulable(node):
            return "unchanged", None
        raise Conflict(
            f'node "{name}" is cordoned, but not by irkit (no {WAS_UNSCHEDULABLE} annotation); '
            "leaving it cordoned",
            hint=f"if it should take pods again: kubectl uncordon {name}",
        )
    if record not in ("true", "false"):
        raise Conflict(
            f'node "{name}": annotation {WAS_UNSCHEDULABLE}={record[:20]!r} is not "true" or '
            '"false"; leaving the node as it is',
            hint=f"check the node's history, then kubectl uncordon {name} (or not)",
        )
    original = record == "true"
    patch = {
        "metadata": {"annotations": {WAS_UNSCHEDULABLE: None}},
        # ``None`` deletes the field, as kubectl uncordon does: false is the API's default.
        "spec": {"unschedulable": True if original else None},
    }
    status = "uncordoned" if _unschedulable(node) and not original else "unchanged"
    return status, patch


def _get(cluster: Cluster, node: str) -> Obj:
    try:
        return cluster.get("nodes", "", node)
    except NotFound:
        raise NotFound(f'node "{node}" not found') from None


def _unschedulable(node: Obj) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def _annotations(node: Obj) -> dict[str, str]:
    return dict(node["metadata"].get("annotations") or {})


def _record(node: Obj) -> dict[str, Any]:
    return {
        "unschedulable": _unschedulable(node),
        WAS_UNSCHEDULABLE: _annotations(node).get(WAS_UNSCHEDULABLE),
    }
