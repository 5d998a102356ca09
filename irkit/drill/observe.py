"""What a drill reads back to be scored: the journal's steps, the sealed bundle, the cluster.

The scorecard (``irkit.drill.score``) is pure; this module does its reading. Steps and their
times come from the incident's journal (the engine's own record, stamped by the drill's clock),
the evidence from the collect step's tarball through the strict reader
(``irkit.evidence.untrusted``: a bundle is opened as if hostile), containment from the pods,
NetworkPolicies and Namespaces in force, evaluated by ``irkit.model.reach``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from irkit.cluster.port import Cluster
from irkit.drill.scenario import Compromised
from irkit.drill.score import PathFact, StepFact
from irkit.errors import IrkitError, NotFound
from irkit.evidence.untrusted import iter_members
from irkit.incident.reader import run_events
from irkit.model.journal import RUN_START, STEP_END, STEP_START
from irkit.model.reach import is_dns, open_paths
from irkit.model.selectors import parse_label_selector

MAX_MEMBER = 4 * 1024 * 1024
"""Bytes of one bundle member searched for ``expect.evidence`` (logs are cut, not refused)."""


def compromised_pods(cluster: Cluster, spec: Compromised, namespace: str) -> list[str]:
    """The pods containment must cut off, by name, as they are when the alert fires: a pod
    named in ``spec.pods`` that does not exist is left out (``never_found`` says which)."""
    if spec.pods:
        return [name for name in spec.pods if _exists(cluster, namespace, name)]
    selector = parse_label_selector(spec.selector or "")
    pods = cluster.list("pods", namespace, labels=str(selector) or None)
    return sorted(str(p["metadata"]["name"]) for p in pods)


def never_found(spec: Compromised, found: Sequence[str]) -> list[str]:
    """The pods ``spec.pods`` names that were not there when the alert fired."""
    return [name for name in spec.pods if name not in found]


def _exists(cluster: Cluster, namespace: str, name: str) -> bool:
    try:
        cluster.get("pods", namespace, name)
    except NotFound:
        return False
    return True


def step_facts(journal: Path, alert_at: datetime) -> tuple[list[StepFact], list[str]]:
    """The runbook run's steps (not the commands run around it), with their end in seconds
    after ``alert_at``; and notes on lines the reader skipped."""
    notes: list[str] = []
    events = run_events(journal, notes)
    runs = [e.run for e in events if e.event == RUN_START and e.data.get("kind") != "command"]
    run = runs[0] if runs else None
    targets: dict[str, str] = {}
    steps: list[StepFact] = []
    for e in events:
        if e.run != run:
            continue
        if e.event == STEP_START:
            targets[e.step] = _target(e.data.get("with"))
        elif e.event == STEP_END:
            outputs = e.data.get("outputs")
            steps.append(
                StepFact(
                    e.step,
                    e.action,
                    e.status,
                    _seconds(e.time, alert_at),
                    targets.get(e.step, ""),
                    outputs if isinstance(outputs, dict) else {},
                )
            )
    return steps, notes


def _target(given: Any) -> str:
    if not isinstance(given, Mapping):
        return ""
    what = given.get("target") or (f"-l {given['selector']}" if given.get("selector") else "")
    return f"{given.get('namespace', '')}/{what}" if what else ""


def _seconds(stamp: str, since: datetime) -> float | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((moment - since).total_seconds(), 3)


def evidence_members(
    steps: Sequence[StepFact], wanted: Sequence[str] = ("*",)
) -> tuple[dict[str, str] | None, str]:
    """Member path -> text of the first collect step's sealed bundle (read strictly, every
    member checked); the text only of members matching a glob of ``wanted``, "" for others."""
    tarballs = [s.outputs.get("tarball") for s in steps if s.action == "collect"]
    found = [t for t in tarballs if isinstance(t, str) and t]
    if not found:
        return None, "no collect step sealed a bundle"
    members: dict[str, str] = {}
    try:
        for path, stream in iter_members(Path(found[0])):
            if any(fnmatch.fnmatchcase(path, glob) for glob in wanted):
                members[path] = stream.read(MAX_MEMBER).decode("utf-8", errors="replace")
            else:
                members[path] = ""
    except IrkitError as e:
        return None, f"the bundle cannot be read: {e}"
    return members, ""


def containment(
    cluster: Cluster, namespace: str, names: Iterable[str]
) -> tuple[list[str], list[PathFact]]:
    """The compromised pods still there, and the NetworkPolicy paths left open to them."""
    pods = []
    for name in names:
        try:
            pods.append(cluster.get("pods", namespace, name))
        except NotFound:
            continue
    running = [str(p["metadata"]["name"]) for p in pods]
    if not pods:
        return running, []
    policies = cluster.list("networkpolicies", None)
    namespaces = cluster.list("namespaces", None)
    paths = open_paths(pods, policies, namespaces)
    facts = [
        PathFact(p.direction, p.pod, p.peer, p.ports, tuple(p.policies), is_dns(p)) for p in paths
    ]
    return running, facts


def replicas(cluster: Cluster, namespace: str, refs: Iterable[str]) -> dict[str, int | None]:
    """``spec.replicas`` of each ``deployment/NAME`` or ``statefulset/NAME`` (None: gone)."""
    out: dict[str, int | None] = {}
    for ref in refs:
        kind, _, name = ref.partition("/")
        try:
            obj = cluster.get(f"{kind}s", namespace, name)
        except NotFound:
            out[ref] = None
            continue
        value = (obj.get("spec") or {}).get("replicas")
        out[ref] = int(value) if isinstance(value, int) else 1
    return out


def workloads(cluster: Cluster, namespace: str) -> list[str]:
    """Every Deployment and StatefulSet of ``namespace``, as ``kind/NAME``."""
    refs = []
    for kind in ("deployments", "statefulsets"):
        refs += [f"{kind[:-1]}/{o['metadata']['name']}" for o in cluster.list(kind, namespace)]
    return sorted(refs)


def quarantine_left(cluster: Cluster, namespace: str, incident: str) -> tuple[list[str], list[str]]:
    """irkit's quarantine policies and labelled pods of ``incident`` still in ``namespace``."""
    from irkit.actions.isolate import INCIDENT_KEY
    from irkit.actions.netpol import QUARANTINE_LABEL, is_ours

    policies = [
        str(p["metadata"]["name"])
        for p in cluster.list("networkpolicies", namespace)
        if is_ours(p) and (p["metadata"].get("labels") or {}).get(INCIDENT_KEY) == incident
    ]
    pods = [
        str(p["metadata"]["name"])
        for p in cluster.list("pods", namespace)
        if (p["metadata"].get("labels") or {}).get(QUARANTINE_LABEL) == incident
    ]
    return policies, pods


__all__ = [
    "compromised_pods",
    "containment",
    "evidence_members",
    "never_found",
    "quarantine_left",
    "replicas",
    "step_facts",
    "workloads",
]
