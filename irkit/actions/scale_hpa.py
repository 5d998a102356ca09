"""The HorizontalPodAutoscaler side of ``scale`` and ``restore``.

Its own module because it is its own question: which HPAs fight a scale, how an HPA is saved in
the workload's ``irkit.io/original-hpas`` annotation, and how ``restore`` checks and recreates
it. ``irkit.actions.scale`` decides when; this module knows the HPA objects and their saved form.

An HPA keeps its target between minReplicas and maxReplicas and minReplicas cannot be 0 (without
the HPAScaleToZero feature gate), so no HPA spec says "hold at 0": ``scale`` refuses (Conflict)
while one targets the workload, and with ``force`` saves and deletes it. An HPA owned by another
controller (e.g. a KEDA ScaledObject) would be recreated by its owner at once, so it is refused
even with ``force``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, NotFound
from irkit.model.journal import Change

ORIGINAL_HPAS = "irkit.io/original-hpas"
HPA = "horizontalpodautoscalers"
HPA_KIND = "HorizontalPodAutoscaler"


@dataclass(frozen=True)
class HpaChange:
    name: str
    action: str  # removed (scale --force) or recreated (restore)
    min_replicas: int | None
    max_replicas: int | None


@dataclass(frozen=True)
class Scaled:
    """The workload an HPA may target: what the checks and messages need of it."""

    kind: str  # Deployment or StatefulSet
    namespace: str
    name: str
    ref: str  # deployment/NAME, as messages name it


def blocking(w: Scaled, hpas: list[Obj], force: bool) -> list[Obj]:
    """The HPAs that target ``w``; raises unless ``force`` may remove them all."""
    mine = [h for h in hpas if _targets(h, w)]
    if not mine:
        return []
    names = ", ".join(f'"{h["metadata"]["name"]}"' for h in mine)
    if not force:
        raise Conflict(
            f"horizontalpodautoscaler {names} manages the replicas of {w.ref} in namespace "
            f'"{w.namespace}" and can scale it straight back up',
            hint="--force saves and removes the HPA for the incident; irkit restore recreates it",
        )
    for h in mine:
        owner = next(iter(h["metadata"].get("ownerReferences") or []), None)
        if owner is not None:
            raise Conflict(
                f'horizontalpodautoscaler "{h["metadata"]["name"]}" belongs to '
                f"{owner.get('kind')}/{owner.get('name')}, which would recreate it at once",
                hint=f"pause or scale {owner.get('kind')}/{owner.get('name')} itself",
            )
    return mine


def _targets(hpa: Obj, w: Scaled) -> bool:
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    group = str(ref.get("apiVersion", "")).rpartition("/")[0]
    return ref.get("kind") == w.kind and ref.get("name") == w.name and group == "apps"


def saved_form(hpa: Obj) -> Obj:
    meta = hpa["metadata"]
    return {
        "name": meta["name"],
        "labels": meta.get("labels") or {},
        "annotations": meta.get("annotations") or {},
        "spec": hpa.get("spec") or {},
    }


def saved_hpas(ref: str, annotations: dict[str, str]) -> list[Obj]:
    """The HPAs recorded on the workload ``ref``; refuses an annotation irkit did not write."""
    raw = annotations.get(ORIGINAL_HPAS)
    if raw is None:
        return []
    try:
        saved = json.loads(raw)
        if not isinstance(saved, list) or not all(
            isinstance(s, dict)
            and isinstance(s.get("name"), str)
            and isinstance(s.get("spec"), dict)
            for s in saved
        ):
            raise ValueError("not a list of HPAs")
    except ValueError:
        raise Conflict(
            f"{ref}: annotation {ORIGINAL_HPAS} is not what irkit wrote; not touching it",
            hint="read the saved HPAs from the incident's journal.jsonl and fix it by hand",
        ) from None
    return saved


def record_text(ref: str, annotations: dict[str, str], hpas: list[Obj]) -> str:
    """The ``irkit.io/original-hpas`` value: what is already saved plus ``hpas``."""
    saved = {s["name"]: s for s in saved_hpas(ref, annotations)}
    saved |= {h["metadata"]["name"]: saved_form(h) for h in hpas}
    return json.dumps(list(saved.values()), sort_keys=True, separators=(",", ":"))


def hpa_change(saved: Obj, action: str) -> HpaChange:
    spec = saved.get("spec") or {}
    return HpaChange(saved["name"], action, spec.get("minReplicas"), spec.get("maxReplicas"))


def _fields(saved: Obj) -> dict[str, Any]:
    spec = saved.get("spec") or {}
    return {"minReplicas": spec.get("minReplicas"), "maxReplicas": spec.get("maxReplicas")} | {
        k: saved.get(k) for k in ("labels", "annotations", "spec")
    }


def remove(
    cluster: Cluster, namespace: str, hpas: list[Obj], dry_run: bool, changes: list[Change]
) -> None:
    for hpa in hpas:
        name = hpa["metadata"]["name"]
        try:
            cluster.delete(HPA, namespace, name, dry_run=dry_run)
        except NotFound:  # gone since we listed it: that is what we wanted
            continue
        changes.append(Change("delete", HPA_KIND, namespace, name, _fields(saved_form(hpa))))


def missing(cluster: Cluster, w: Scaled, annotations: dict[str, str]) -> list[Obj]:
    """The saved HPAs to recreate; refuses one that exists again with another spec."""
    out = []
    for saved in saved_hpas(w.ref, annotations):
        try:
            existing = cluster.get(HPA, w.namespace, saved["name"])
        except NotFound:
            out.append(saved)
            continue
        if (existing.get("spec") or {}) != saved["spec"]:
            raise Conflict(
                f'horizontalpodautoscaler "{saved["name"]}" exists again with another spec; '
                f"not overwriting it to restore {w.ref}",
                hint=f"delete it or remove the annotation {ORIGINAL_HPAS} from {w.ref}",
            )
    return out


def recreate(
    cluster: Cluster, namespace: str, saved_list: list[Obj], dry_run: bool, changes: list[Change]
) -> None:
    for saved in saved_list:
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": HPA_KIND,
            "metadata": {
                "name": saved["name"],
                "labels": saved.get("labels") or {},
                "annotations": saved.get("annotations") or {},
            },
            "spec": saved["spec"],
        }
        cluster.create(HPA, namespace, hpa, dry_run=dry_run)
        changes.append(Change("create", HPA_KIND, namespace, saved["name"], None, _fields(saved)))
