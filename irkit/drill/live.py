"""A live drill's sandbox: one namespace ``irkit-drill-<id>`` on a real cluster, and nothing else.

The scenario's namespaced manifests are deployed there with their namespace rewritten (and the
namespaces inside them: RoleBinding subjects, the drill's params and alert); cluster-scoped
manifests (Namespaces, ClusterRoles, Nodes, ...) are skipped with a note, never created, so a
drill cannot change what other teams run on. The namespace is deleted at the end, also when the
drill fails or is interrupted (``sandbox``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from irkit.cluster.port import Cluster, Obj
from irkit.errors import IrkitError, NotFound, UsageError
from irkit.model.kinds import for_api_version_kind

PREFIX = "irkit-drill-"
DRILL_LABEL = "irkit.io/drill"
SKIPPED_KINDS = frozenset({"Event"})
"""Namespaced kinds not deployed: Events are the cluster's to write."""


def namespace_for(drill_id: str) -> str:
    name = PREFIX + drill_id.removeprefix("drill-").lower()
    return name[:63].rstrip("-")


def namespaced(
    manifests: Sequence[Obj], namespace: str
) -> tuple[list[tuple[str, Obj]], list[str], set[str]]:
    """(resource plural, manifest rewritten into ``namespace``) for each namespaced manifest;
    notes on those skipped; the namespaces the manifests used (to rewrite elsewhere)."""
    out: list[tuple[str, Obj]] = []
    notes: list[str] = []
    used: set[str] = set()
    for manifest in manifests:
        rt = for_api_version_kind(str(manifest.get("apiVersion")), str(manifest.get("kind")))
        name = (manifest.get("metadata") or {}).get("name", "?")
        if rt is None or not rt.namespaced:
            if manifest.get("kind") != "Namespace":
                notes.append(f"skipped cluster-scoped {manifest.get('kind')} {name}")
            continue
        if rt.kind in SKIPPED_KINDS:
            continue
        used.add(str((manifest.get("metadata") or {}).get("namespace") or "default"))
        out.append((rt.plural, manifest))
    rewritten = [(plural, _rewrite(m, used, namespace)) for plural, m in out]
    return rewritten, notes, used


def _rewrite(manifest: Obj, old: set[str], new: str) -> Obj:
    obj = copy.deepcopy(manifest)
    meta = obj.setdefault("metadata", {})
    meta["namespace"] = new
    for key in ("uid", "resourceVersion", "creationTimestamp", "ownerReferences"):
        meta.pop(key, None)
    obj.pop("status", None)
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and subject.get("namespace") in old:
            subject["namespace"] = new
    return obj


def rewrite_values(data: Any, old: set[str], new: str) -> Any:
    """``data`` with every string equal to one of the ``old`` namespaces replaced by ``new``."""
    if isinstance(data, str):
        return new if data in old else data
    if isinstance(data, Mapping):
        return {k: rewrite_values(v, old, new) for k, v in data.items()}
    if isinstance(data, list):
        return [rewrite_values(v, old, new) for v in data]
    return data


def rename_pod(payload: Any, pod: str) -> Any:
    """The alert's pod fields (``labels.pod``, Falco's ``k8s.pod.name``) naming ``pod``: a live
    cluster names its pods itself."""
    if isinstance(payload, Mapping):
        out = {}
        for k, v in payload.items():
            if k in ("pod", "k8s.pod.name") and isinstance(v, str):
                out[k] = pod
            else:
                out[k] = rename_pod(v, pod)
        return out
    if isinstance(payload, list):
        return [rename_pod(v, pod) for v in payload]
    return payload


@contextmanager
def sandbox(
    cluster: Cluster, namespace: str, drill_id: str, say: Callable[[str], None]
) -> Iterator[str]:
    """Create ``namespace`` (refusing one that exists), yield, delete it whatever happens."""
    if not namespace.startswith(PREFIX):
        raise UsageError(f"a live drill runs only in a namespace named {PREFIX}*")
    try:
        cluster.get("namespaces", "", namespace)
    except NotFound:
        pass
    else:
        raise UsageError(f"namespace {namespace} exists already: refusing to drill in it")
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {DRILL_LABEL: drill_id}},
    }
    cluster.create("namespaces", "", ns)
    say(f"live drill: namespace {namespace} created")
    try:
        yield namespace
    finally:
        try:
            cluster.delete("namespaces", "", namespace)
            say(f"live drill: namespace {namespace} deleted")
        except IrkitError as e:
            say(f"live drill: could not delete namespace {namespace}: {e}; delete it by hand")


def deploy(cluster: Cluster, namespace: str, manifests: Sequence[tuple[str, Obj]]) -> None:
    """Create the manifests in ``namespace`` (never anywhere else)."""
    for plural, manifest in manifests:
        if manifest["metadata"]["namespace"] != namespace:  # pragma: no cover - _rewrite's job
            raise UsageError(f"refusing to create outside {namespace}")
        cluster.create(plural, namespace, manifest)


__all__ = ["PREFIX", "deploy", "namespace_for", "namespaced", "rename_pod", "rewrite_values"]
