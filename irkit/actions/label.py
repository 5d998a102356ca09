"""``label`` and ``annotate``: mark a target's pods during an incident (``suspect=true``, a ticket).

One merge patch per pod that needs it, and none for a pod that already looks as asked, so a
re-run (or ``irkit run --resume``) changes nothing twice. Keys and values are checked against
Kubernetes' syntax before anything is sent, so a typo is a UsageError naming the key rather
than a 422 half-way through 200 pods.

``irkit.io/*`` keys are refused: isolate, scale and cordon keep their records there, and a
runbook that set or removed them could break the undo of those actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from irkit.actions.targets import resolve
from irkit.cluster.port import Cluster
from irkit.errors import NotFound
from irkit.model.journal import Change
from irkit.model.labels import check
from irkit.model.target import Target


@dataclass(frozen=True)
class LabelResult:
    field: str  # labels or annotations
    namespace: str
    pods: list[str]  # every pod of the target
    changed: list[str]  # the pods patched (would be, with dry_run)
    gone: list[str]  # pods deleted between listing and patching
    changes: list[Change]
    dry_run: bool

    @property
    def status(self) -> str:
        return "changed" if self.changed else "unchanged"


def label(
    cluster: Cluster,
    target: Target,
    *,
    set: dict[str, str],  # the runbook's ``with: {set: ...}``, passed as is
    remove: list[str],
    annotate: bool = False,
    dry_run: bool = False,
    changes: list[Change] | None = None,
) -> LabelResult:
    """Set ``set`` and delete ``remove`` in the labels (or annotations) of the target's pods.

    ``changes`` (when given) is filled pod by pod; each entry holds the touched keys only,
    before and after (``None``: absent), which is exactly what undoing needs."""
    field = "annotations" if annotate else "labels"
    check(set, remove, annotate=annotate)
    changes = [] if changes is None else changes
    pods = resolve(cluster, target).pods
    changed, gone = [], []
    for pod in pods:
        name = pod["metadata"]["name"]
        current: dict[str, str] = pod["metadata"].get(field) or {}
        delta: dict[str, Any] = {k: v for k, v in set.items() if current.get(k) != v}
        delta |= {k: None for k in remove if k in current}
        if not delta:
            continue
        patch = {"metadata": {field: delta}}
        try:
            cluster.patch("pods", target.namespace, name, patch, dry_run=dry_run)
        except NotFound:
            gone.append(name)  # replaced while we worked: its successor was not in the list
            continue
        changed.append(name)
        before = {k: current.get(k) for k in delta}
        changes.append(
            Change("patch", "Pod", target.namespace, name, {field: before}, {field: delta})
        )
    names = [p["metadata"]["name"] for p in pods]
    return LabelResult(field, target.namespace, names, changed, gone, changes, dry_run)


def outputs(result: LabelResult) -> dict[str, Any]:
    """``steps.<id>.outputs`` for label and annotate."""
    return {"pods": result.pods}
