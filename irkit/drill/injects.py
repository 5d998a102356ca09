"""Injects: trouble a drill adds at a step, to see whether the runbook survives it.

    second-pod  the cluster gets another pod matching the compromised selector (a copy of the
                first compromised pod): does the response reach it too?
    throttle    the simulated API server answers 429 to a few list calls
    s3-denied   collect's S3 store answers AccessDenied (an ``EvidenceStore`` that raises the
                ``UploadError`` the S3 adapter would; no AWS needed)
    fault       any simulator fault rule (``irkit.sim.faults``), as in a scenario's spec.faults

Each arrives just before its step runs (``Injector.before``). throttle and fault need the
simulator; in a live drill they are recorded as not delivered, with the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irkit.actions.netpol import QUARANTINE_LABEL
from irkit.cluster.port import Cluster, Obj
from irkit.drill.scenario import Inject
from irkit.drill.score import InjectFact
from irkit.errors import IrkitError, UploadError
from irkit.evidence.store import EvidenceStore, StoredObject
from irkit.sim.cluster import SimCluster
from irkit.sim.faults import FaultRule

THROTTLE = FaultRule(
    method="GET",
    path=r"/(pods|events|networkpolicies|services|replicasets|deployments|statefulsets)(\?|$)",
    status=429,
    retry_after=0,
    count=3,
    message="drill inject: too many requests",
)
"""Three list calls answered 429 (Retry-After 0): a control plane under load."""


SIM_ONLY = frozenset({"throttle", "fault"})
SIM_ONLY_NOTE = "a simulator fault: a live drill cannot inject it"


class DeniedStore:
    """The S3 store of an account whose policy denies the upload."""

    name = "s3-denied"

    def put(self, local: Path, key: str, *, sha256: str, tags: dict[str, str]) -> StoredObject:
        raise UploadError(
            f"s3://drill-evidence/{key}: AccessDenied (drill inject s3-denied)",
            kept={"tarball": str(local), "sha256": sha256},
        )


@dataclass
class Injector:
    """Delivers each inject before its step; ``facts`` says what arrived."""

    injects: Sequence[Inject]
    cluster: Cluster
    namespace: str
    compromised: list[str]  # grows with second-pod
    sim: SimCluster | None = None
    say: Callable[[str], None] = lambda line: None
    denied: bool = False  # s3-denied arrived: collect's stores answer AccessDenied
    _delivered: dict[int, str] = field(default_factory=dict)  # index -> note
    _failed: dict[int, str] = field(default_factory=dict)

    def before(self, step_id: str) -> None:
        for i, inject in enumerate(self.injects):
            if inject.before != step_id or i in self._delivered or i in self._failed:
                continue
            if self.sim is None and inject.kind in SIM_ONLY:
                self.say(f"inject {inject.label}: skipped: {SIM_ONLY_NOTE}")
                continue
            try:
                note = self._deliver(inject)
            except (IrkitError, ValueError) as e:
                self._failed[i] = str(e)
                self.say(f"inject {inject.label}: not delivered: {e}")
                continue
            self._delivered[i] = note
            self.say(f"inject {inject.label}: {note}")

    def stores(self, given: Sequence[EvidenceStore]) -> Sequence[EvidenceStore]:
        return [*given, DeniedStore()] if self.denied else given

    def facts(self) -> list[InjectFact]:
        out = []
        for i, inject in enumerate(self.injects):
            if self.sim is None and inject.kind in SIM_ONLY:
                out.append(InjectFact(inject.label, False, SIM_ONLY_NOTE, skipped=True))
            elif i in self._delivered:
                out.append(InjectFact(inject.label, True, self._delivered[i]))
            else:
                out.append(InjectFact(inject.label, False, self._failed.get(i, "")))
        return out

    def _deliver(self, inject: Inject) -> str:
        match inject.kind:
            case "second-pod":
                return self._second_pod()
            case "s3-denied":
                self.denied = True
                return "collect's S3 store now answers AccessDenied"
            case "throttle":
                self._need_sim(inject).inject(**_fields(THROTTLE))
                return "the API server answers 429 to the next 3 list calls"
            case "fault":
                rule = FaultRule.from_dict(inject.fault or {})
                self._need_sim(inject).faults.add(rule)
                return f"fault rule added: {inject.fault}"
        raise ValueError(f"unknown inject kind {inject.kind}")  # pragma: no cover

    def _need_sim(self, inject: Inject) -> SimCluster:
        if self.sim is None:  # pragma: no cover - skipped in before()
            raise ValueError(SIM_ONLY_NOTE)
        return self.sim

    def _second_pod(self) -> str:
        if not self.compromised:
            raise ValueError("no compromised pod to copy")
        model = self.cluster.get("pods", self.namespace, self.compromised[0])
        pod = second_pod(model, f"{self.compromised[0][:50]}-drill2")
        created = self.cluster.create("pods", self.namespace, pod)
        name = str(created["metadata"]["name"])
        self.compromised.append(name)
        return f"pod {self.namespace}/{name} created, matching the compromised pods' labels"


def second_pod(model: Obj, name: str) -> Obj:
    """A bare copy of ``model`` (labels and containers, no owner, no irkit quarantine)."""
    labels = {
        k: v for k, v in (model["metadata"].get("labels") or {}).items() if k != QUARANTINE_LABEL
    }
    spec = copy.deepcopy(model.get("spec") or {})
    spec.pop("nodeName", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels | {"irkit.io/drill-inject": "second-pod"}},
        "spec": spec,
    }


def _fields(rule: FaultRule) -> dict[str, Any]:
    return {k: getattr(rule, k) for k in rule.__dataclass_fields__}


__all__ = ["THROTTLE", "DeniedStore", "Injector", "second_pod"]
