"""``scale`` and ``restore``: contain by taking workloads' replicas down, and put them back.

``scale`` takes Deployments and StatefulSets (one, or several whose OWN labels match ``-l``) to
``replicas`` through the ``scale`` subresource. Before the first change it records on the
workload what ``restore`` needs, so undoing asks nothing but the cluster:

    irkit.io/original-replicas   replicas before the first scale; never overwritten, so a second
                                 scale (to 0, or to 1 after 0) still remembers the real original
    irkit.io/scaled-by-incident  the incident that scaled it
    irkit.io/original-hpas       JSON: the HorizontalPodAutoscalers removed by ``--force``

DaemonSets have no replicas, a bare pod is not a workload and a ReplicaSet is put back by its
Deployment: those are refused (UsageError) in favour of ``irkit isolate``.

HorizontalPodAutoscalers. An HPA keeps its target between minReplicas and maxReplicas and
minReplicas cannot be 0 (without the HPAScaleToZero feature gate), so no HPA spec says "hold at
0". A stock HPA goes idle while its target sits at 0, but one with minReplicas 0 or driven by
KEDA scales it up again, and any HPA undoes a scale to 1 or more. So ``scale`` refuses (Conflict)
while an HPA targets the workload. With ``force`` it saves each such HPA (labels, annotations,
spec) in the workload's ``irkit.io/original-hpas`` annotation and deletes it; ``restore``
recreates it exactly. An HPA owned by another controller (e.g. a KEDA ScaledObject) would be
recreated by its owner at once, so it is refused even with ``force``.

Order makes a failure half-way safe to re-run: scale records first, then removes HPAs, then
scales; restore checks everything, scales back, recreates HPAs and removes its records last.
Every write honours ``dry_run`` (server-side dryRun). ``changes`` (when given) is filled as the
work is done, so a caller can journal what happened even when a later step fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from irkit.actions.targets import ensure_namespace, resolve
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Conflict, Forbidden, NotFound, PartialError, UsageError
from irkit.model.journal import Change
from irkit.model.target import WORKLOAD_KINDS, Target

ORIGINAL_REPLICAS = "irkit.io/original-replicas"
SCALED_BY_INCIDENT = "irkit.io/scaled-by-incident"
ORIGINAL_HPAS = "irkit.io/original-hpas"
RECORDS = (ORIGINAL_REPLICAS, SCALED_BY_INCIDENT, ORIGINAL_HPAS)
HPA = "horizontalpodautoscalers"
HPA_KIND = "HorizontalPodAutoscaler"
SCALABLE = {"deployments": "Deployment", "statefulsets": "StatefulSet"}
POLL_SECONDS = 0.5
_NOT_SCALABLE = {
    "daemonsets": "a DaemonSet runs one pod per node and has no replicas",
    "pods": "a bare pod has no replicas (scale the Deployment or StatefulSet that owns it)",
    "replicasets": "a ReplicaSet is owned by its Deployment, which would scale it straight back "
    "(scale the Deployment)",
}


@dataclass(frozen=True)
class HpaChange:
    name: str
    action: str  # removed (scale --force) or recreated (restore)
    min_replicas: int | None
    max_replicas: int | None


@dataclass(frozen=True)
class WorkloadChange:
    kind: str  # deployment or statefulset
    name: str
    before: int
    after: int
    status: str  # scaled, unchanged or restored
    hpas: tuple[HpaChange, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class ScaleResult:
    command: str  # scale or restore
    namespace: str
    incident: str
    dry_run: bool
    workloads: tuple[WorkloadChange, ...]
    skipped: tuple[str, ...] = ()  # daemonset/NAME matched by -l: cannot be scaled

    @property
    def changed(self) -> bool:
        return any(w.status != "unchanged" for w in self.workloads)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"changed": self.changed}


@dataclass(frozen=True)
class _Workload:
    plural: str
    obj: Obj

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def ref(self) -> str:
        return f"{WORKLOAD_KINDS[self.plural]}/{self.name}"

    @property
    def replicas(self) -> int:
        return int((self.obj.get("spec") or {}).get("replicas", 1))

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.obj["metadata"].get("annotations") or {})


def scale(
    cluster: Cluster,
    target: Target,
    *,
    replicas: int = 0,
    force: bool = False,
    wait: bool = False,
    wait_timeout: float = 120.0,
    dry_run: bool = False,
    incident: str,
    changes: list[Change] | None = None,
) -> ScaleResult:
    if replicas < 0:
        raise UsageError(f"--replicas must be 0 or more, not {replicas}")
    changes = [] if changes is None else changes
    workloads, skipped = _select(cluster, target, scaling=True)
    hpas = cluster.list(HPA, target.namespace)
    # Every check before the first write: a refusal for one workload leaves all of them alone.
    plans = [(w, _hpas_blocking(w, hpas, force)) for w in workloads]
    done = tuple(_scale_one(cluster, w, h, replicas, incident, dry_run, changes) for w, h in plans)
    if wait and not dry_run:
        _wait(cluster, [(w, replicas) for w in workloads], wait_timeout, up=False)
    return ScaleResult("scale", target.namespace, incident, dry_run, done, skipped)


def restore(
    cluster: Cluster,
    target: Target,
    *,
    wait: bool = False,
    wait_timeout: float = 120.0,
    dry_run: bool = False,
    changes: list[Change] | None = None,
) -> ScaleResult:
    """Put back exactly what ``scale`` recorded; a workload with no records is left alone."""
    changes = [] if changes is None else changes
    workloads, _ = _select(cluster, target, scaling=False)
    plans = [(w, _restore_plan(cluster, w)) for w in workloads]
    done = tuple(_restore_one(cluster, w, plan, dry_run, changes) for w, plan in plans)
    incidents = sorted({w.annotations.get(SCALED_BY_INCIDENT, "") for w in workloads} - {""})
    if wait and not dry_run:
        wanted = [(w, plan[0]) for w, plan in plans if plan is not None and plan[0] is not None]
        _wait(cluster, wanted, wait_timeout, up=True)
    return ScaleResult("restore", target.namespace, ",".join(incidents), dry_run, done)


# ---- choosing workloads ------------------------------------------------------------------------
def check_scalable(target: Target, verb: str = "scale") -> None:
    """Refuse kinds without replicas before anything talks to the cluster."""
    if target.kind is not None and target.kind not in SCALABLE:
        ref = f"{WORKLOAD_KINDS[target.kind]}/{target.name}"
        raise UsageError(
            f"cannot {verb} {ref}: {_NOT_SCALABLE[target.kind]}; "
            "use irkit isolate to cut it off the network instead",
            hint=f"irkit isolate {ref} -n {target.namespace}",
        )


def _select(
    cluster: Cluster, target: Target, *, scaling: bool
) -> tuple[list[_Workload], tuple[str, ...]]:
    check_scalable(target, "scale" if scaling else "restore")
    ensure_namespace(cluster, target.namespace)
    if target.selector is None:
        assert target.kind is not None and target.name is not None
        try:
            return [
                _Workload(target.kind, cluster.get(target.kind, target.namespace, target.name))
            ], ()
        except NotFound:
            raise NotFound(
                f'{WORKLOAD_KINDS[target.kind]} "{target.name}" not found '
                f'in namespace "{target.namespace}"'
            ) from None
    found = [
        _Workload(plural, obj)
        for plural in SCALABLE
        for obj in cluster.list(plural, target.namespace, labels=target.selector)
    ]
    skipped = _daemonsets(cluster, target) if scaling else ()
    if not found:
        where = f"-l {target.selector} in namespace {target.namespace}"
        if skipped:
            raise UsageError(
                f"only DaemonSets match {where} ({', '.join(skipped)}): they cannot be scaled; "
                "use irkit isolate to cut them off the network instead"
            )
        raise NotFound(
            f"no deployment or statefulset has labels matching {where}",
            hint="-l matches the workloads' own labels, not their pods': "
            f"kubectl get deploy,sts -n {target.namespace} --show-labels",
        )
    return found, skipped


def _daemonsets(cluster: Cluster, target: Target) -> tuple[str, ...]:
    """DaemonSets the selector also matches, to say they were left running. A courtesy: not
    being allowed to list them must not stop the containment."""
    try:
        found = cluster.list("daemonsets", target.namespace, labels=target.selector)
    except Forbidden:
        return ()
    return tuple(f"daemonset/{d['metadata']['name']}" for d in found)


# ---- HorizontalPodAutoscalers ------------------------------------------------------------------
def _hpas_blocking(w: _Workload, hpas: list[Obj], force: bool) -> list[Obj]:
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


def _targets(hpa: Obj, w: _Workload) -> bool:
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    group = str(ref.get("apiVersion", "")).rpartition("/")[0]
    return ref.get("kind") == SCALABLE[w.plural] and ref.get("name") == w.name and group == "apps"


def _saved_form(hpa: Obj) -> Obj:
    meta = hpa["metadata"]
    return {
        "name": meta["name"],
        "labels": meta.get("labels") or {},
        "annotations": meta.get("annotations") or {},
        "spec": hpa.get("spec") or {},
    }


def _saved_hpas(w: _Workload) -> list[Obj]:
    raw = w.annotations.get(ORIGINAL_HPAS)
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
            f"{w.ref}: annotation {ORIGINAL_HPAS} is not what irkit wrote; not touching it",
            hint="read the saved HPAs from the incident's journal.jsonl and fix it by hand",
        ) from None
    return saved


def _hpa_change(saved: Obj, action: str) -> HpaChange:
    spec = saved.get("spec") or {}
    return HpaChange(saved["name"], action, spec.get("minReplicas"), spec.get("maxReplicas"))


def _fields(saved: Obj) -> dict[str, Any]:
    spec = saved.get("spec") or {}
    return {"minReplicas": spec.get("minReplicas"), "maxReplicas": spec.get("maxReplicas")} | {
        k: saved.get(k) for k in ("labels", "annotations", "spec")
    }


# ---- scale -------------------------------------------------------------------------------------
def _scale_one(
    cluster: Cluster,
    w: _Workload,
    hpas: list[Obj],
    replicas: int,
    incident: str,
    dry_run: bool,
    changes: list[Change],
) -> WorkloadChange:
    kind = WORKLOAD_KINDS[w.plural]
    if w.replicas == replicas and not hpas:
        return WorkloadChange(kind, w.name, w.replicas, replicas, "unchanged")

    def records(current: _Workload) -> dict[str, str]:
        ann = current.annotations
        wanted = {ORIGINAL_REPLICAS: str(current.replicas), SCALED_BY_INCIDENT: incident}
        out = {k: v for k, v in wanted.items() if k not in ann}
        if hpas:
            saved = {s["name"]: s for s in _saved_hpas(current)}
            saved |= {h["metadata"]["name"]: _saved_form(h) for h in hpas}
            text = json.dumps(list(saved.values()), sort_keys=True, separators=(",", ":"))
            if ann.get(ORIGINAL_HPAS) != text:
                out[ORIGINAL_HPAS] = text
        return out

    w = _record(cluster, w, records, dry_run, changes)
    for hpa in hpas:
        name = hpa["metadata"]["name"]
        try:
            cluster.delete(HPA, w.namespace, name, dry_run=dry_run)
        except NotFound:  # gone since we listed it: that is what we wanted
            continue
        changes.append(Change("delete", HPA_KIND, w.namespace, name, _fields(_saved_form(hpa))))
    after = _set_replicas(cluster, w, replicas, dry_run, changes)
    removed = tuple(_hpa_change(_saved_form(h), "removed") for h in hpas)
    return WorkloadChange(kind, w.name, w.replicas, after, "scaled", removed)


def _record(
    cluster: Cluster,
    w: _Workload,
    records: Callable[[_Workload], dict[str, str]],
    dry_run: bool,
    changes: list[Change],
) -> _Workload:
    """Add annotations computed from the object as read, guarded by its resourceVersion: two
    responders scaling at once must not both record "original" replicas (one would record 0)."""
    conflicts = 0
    while wanted := records(w):
        rv = w.obj["metadata"].get("resourceVersion")
        patch = {"metadata": {"resourceVersion": rv, "annotations": wanted}}
        try:
            cluster.patch(w.plural, w.namespace, w.name, patch, dry_run=dry_run)
        except Conflict:
            conflicts += 1
            if conflicts == 3:
                raise
            w = _Workload(w.plural, cluster.get(w.plural, w.namespace, w.name))
            continue
        before = {k: w.annotations.get(k) for k in wanted}
        changes.append(_patched(w, {"annotations": before}, {"annotations": dict(wanted)}))
        break
    return w


def _set_replicas(
    cluster: Cluster, w: _Workload, replicas: int, dry_run: bool, changes: list[Change]
) -> int:
    if w.replicas == replicas:
        return replicas
    patch = {"spec": {"replicas": replicas}}
    scaled = cluster.patch(
        w.plural, w.namespace, w.name, patch, subresource="scale", dry_run=dry_run
    )
    after = int((scaled.get("spec") or {}).get("replicas", replicas))
    changes.append(_patched(w, {"replicas": w.replicas}, {"replicas": after}))
    return after


def _patched(w: _Workload, before: dict[str, Any], after: dict[str, Any]) -> Change:
    return Change("patch", SCALABLE[w.plural], w.namespace, w.name, before, after)


# ---- restore -----------------------------------------------------------------------------------
_Plan = tuple[int | None, list[Obj]]  # replicas to put back, HPAs to recreate


def _restore_plan(cluster: Cluster, w: _Workload) -> _Plan | None:
    """What to put back, checked before anything is written; None: nothing was recorded."""
    ann = w.annotations
    if not any(k in ann for k in RECORDS):
        return None
    original: int | None = None
    if ORIGINAL_REPLICAS in ann:
        raw = ann[ORIGINAL_REPLICAS]
        if not (raw.isascii() and raw.isdigit()):
            raise Conflict(
                f"{w.ref}: annotation {ORIGINAL_REPLICAS}={raw!r} is not a replica count",
                hint=f"set the replicas by hand, then remove the annotation from {w.ref}",
            )
        original = int(raw)
    missing = []
    for saved in _saved_hpas(w):
        try:
            existing = cluster.get(HPA, w.namespace, saved["name"])
        except NotFound:
            missing.append(saved)
            continue
        if (existing.get("spec") or {}) != saved["spec"]:
            raise Conflict(
                f'horizontalpodautoscaler "{saved["name"]}" exists again with another spec; '
                f"not overwriting it to restore {w.ref}",
                hint=f"delete it or remove the annotation {ORIGINAL_HPAS} from {w.ref}",
            )
    return original, missing


def _restore_one(
    cluster: Cluster, w: _Workload, plan: _Plan | None, dry_run: bool, changes: list[Change]
) -> WorkloadChange:
    kind = WORKLOAD_KINDS[w.plural]
    if plan is None:
        return WorkloadChange(kind, w.name, w.replicas, w.replicas, "unchanged")
    original, missing = plan
    after = (
        w.replicas if original is None else _set_replicas(cluster, w, original, dry_run, changes)
    )
    for saved in missing:
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
        cluster.create(HPA, w.namespace, hpa, dry_run=dry_run)
        changes.append(Change("create", HPA_KIND, w.namespace, saved["name"], None, _fields(saved)))
    ann = w.annotations
    present = {k: ann[k] for k in RECORDS if k in ann}
    patch = {"metadata": {"annotations": dict.fromkeys(present)}}
    cluster.patch(w.plural, w.namespace, w.name, patch, dry_run=dry_run)
    changes.append(_patched(w, {"annotations": present}, {"annotations": dict.fromkeys(present)}))
    recreated = tuple(_hpa_change(s, "recreated") for s in missing)
    return WorkloadChange(kind, w.name, w.replicas, after, "restored", recreated)


# ---- waiting -----------------------------------------------------------------------------------
def _wait(
    cluster: Cluster, wanted: list[tuple[_Workload, int]], timeout: float, *, up: bool
) -> None:
    """Poll the workloads' pods until scaled down (at most ``n`` left, terminating ones count)
    or back up (``n`` ready)."""
    deadline = time.monotonic() + timeout
    while True:
        behind = []
        for w, n in wanted:
            pods = resolve(cluster, Target(w.namespace, w.plural, w.name)).pods
            have = sum(_ready(p) for p in pods) if up else len(pods)
            if (have < n) if up else (have > n):
                behind.append((w, n, have))
        if not behind:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            what = "; ".join(
                f"{w.ref} has {have} of {n} pods ready"
                if up
                else f"{w.ref} still has {have} pod{'' if have == 1 else 's'} (want {n})"
                for w, n, have in behind
            )
            done = "restored" if up else "scaled"
            raise PartialError(
                f"{done}, but after {timeout:g}s {what}",
                hint=f"kubectl get pods -n {behind[0][0].namespace} to see what holds them",
            )
        time.sleep(min(POLL_SECONDS, left))


def _ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
