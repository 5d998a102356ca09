"""``label`` and ``annotate``: mark a target's pods during an incident (``suspect=true``, a ticket).

One merge patch per pod that needs it, and none for a pod that already looks as asked, so a
re-run (or ``irkit run --resume``) changes nothing twice. Keys and values are checked against
Kubernetes' syntax before anything is sent, so a typo is a UsageError naming the key rather
than a 422 half-way through 200 pods.

``irkit.io/*`` keys are refused: isolate, scale and cordon keep their records there, and a
runbook that set or removed them could break the undo of those actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from irkit.actions.targets import resolve
from irkit.cluster.port import Cluster
from irkit.errors import NotFound, UsageError
from irkit.model.journal import Change
from irkit.model.target import Target

RESERVED_DOMAIN = "irkit.io"
ANNOTATIONS_MAX_BYTES = 256 * 1024  # the API server's limit on all of an object's annotations
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


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


def check(set: dict[str, str], remove: list[str], *, annotate: bool) -> None:
    """Raise UsageError for anything the API server (or irkit's own rules) would refuse."""
    what = "annotation" if annotate else "label"
    if not set and not remove:
        raise UsageError(f"{what}: nothing to do (give 'set' and/or 'remove')")
    both = sorted(k for k in remove if k in set)
    if both:
        raise UsageError(f"{what} key {both[0]!r} is both set and removed; pick one")
    for key in [*set, *remove]:
        problem = key_problem(key)
        if problem:
            raise UsageError(f"{what} key {key!r}: {problem}")
        if _domain(key) == RESERVED_DOMAIN or _domain(key).endswith("." + RESERVED_DOMAIN):
            raise UsageError(
                f"{what} key {key!r}: {RESERVED_DOMAIN}/ keys are irkit's own records "
                "(isolate, scale, cordon keep what their undo needs there); choose another key",
                hint="to undo an irkit action, use its counterpart (release, restore, uncordon)",
            )
    if annotate:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in set.items())
        if size > ANNOTATIONS_MAX_BYTES:
            raise UsageError(f"annotations: {size} bytes, more than the API's 256 KiB limit")
        return
    for key, value in set.items():
        if len(value) > 63:
            raise UsageError(f"label {key!r}: the value is {len(value)} characters; 63 at most")
        if value and not _NAME.match(value):
            raise UsageError(
                f"label {key!r}: value {value[:63]!r} must be empty or alphanumeric characters, "
                "'-', '_' or '.', starting and ending with an alphanumeric character",
                hint="free text belongs in an annotation (action: annotate)",
            )


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "the prefix before '/' is empty"
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return "the prefix must be a lower-case DNS subdomain (e.g. example.com), 253 at most"
    if not name:
        return "the name is empty"
    if len(name) > 63:
        return f"the name is {len(name)} characters; 63 at most"
    if not _NAME.match(name):
        return (
            "the name must be alphanumeric characters, '-', '_' or '.', starting and ending "
            "with an alphanumeric character"
        )
    return None


def _domain(key: str) -> str:
    return key.rpartition("/")[0].lower()


def outputs(result: LabelResult) -> dict[str, Any]:
    """``steps.<id>.outputs`` for label and annotate."""
    return {"pods": result.pods}
