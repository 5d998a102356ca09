"""Cluster state around the target, under ``state/``: what the pods were and what surrounded
them (owners, Services, NetworkPolicies, Events, Nodes, HPAs, RBAC exposure). Objects are YAML
files; the namespace's Events, which may number hundreds of thousands, are
``state/events.jsonl`` (one Event per line), streamed page by page. Lists are iterated, never
held whole: what is kept is only what matches the target.

Secrets are the one thing never written: a referenced Secret is read only to list its key
names, and ``secret_summary`` keeps name, type and keys, never ``data``, ``stringData`` or the
annotations (``last-applied-configuration`` holds the values too). ConfigMaps are named only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from irkit.actions.collect_rbac import collect_rbac
from irkit.actions.gather import guarded, guarded_iter, source, write_lines, write_object
from irkit.actions.targets import MAX_OWNER_DEPTH, Resolved, controller_ref
from irkit.cluster.port import Cluster, Obj
from irkit.errors import IrkitError
from irkit.evidence.bundle import BundleWriter
from irkit.model.evidence import safe_name
from irkit.model.kinds import by_name


def collect_state(cluster: Cluster, writer: BundleWriter, resolved: Resolved) -> list[Obj]:
    """Write the state files; returns the owner chain found (nearest first, deduplicated)."""
    ns, pods = resolved.target.namespace, resolved.pods
    for pod in pods:
        write_object(writer, "state/pods", pod, "pods")
    owners = _owners(cluster, writer, ns, pods)
    workload = resolved.workload
    uids = {o["metadata"].get("uid") for o in owners}
    if workload is not None and workload["metadata"].get("uid") not in uids:
        # scaled to zero (by the attacker, say): no pod leads to it, its state still matters
        owners.append({**workload, "kind": workload.get("kind") or _kind_of(resolved)})
    for owner in owners:
        plural = _plural(owner["kind"])
        write_object(writer, f"state/owners/{plural}", owner, plural)
    _matching_services(cluster, writer, ns, pods)
    for policy in _listed(cluster, writer, "networkpolicies", ns):
        write_object(writer, "state/networkpolicies", policy, "networkpolicies")
    write_lines(writer, "state/events.jsonl", cluster.iterate("events", ns), source("events", ns))
    for node in sorted({p.get("spec", {}).get("nodeName") or "" for p in pods} - {""}):
        obj = guarded(
            writer,
            f"state/nodes/{safe_name(node)}.yaml",
            source("nodes", "", node),
            partial(cluster.get, "nodes", "", node),
        )
        if obj is not None:
            write_object(writer, "state/nodes", obj, "nodes")
    targets = {(o["kind"], o["metadata"]["name"]) for o in owners}
    for hpa in _listed(cluster, writer, "horizontalpodautoscalers", ns):
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if (ref.get("kind"), ref.get("name")) in targets:
            write_object(writer, "state/horizontalpodautoscalers", hpa, "horizontalpodautoscalers")
    # No pods (scaled to zero): the workload's pod template says what its pods would use.
    template = ((workload or {}).get("spec") or {}).get("template")
    specs = pods or ([template] if isinstance(template, dict) else [])
    _references(cluster, writer, ns, specs)
    accounts = sorted({(p.get("spec") or {}).get("serviceAccountName") or "default" for p in specs})
    collect_rbac(cluster, writer, ns, accounts)
    return owners


def _owners(cluster: Cluster, writer: BundleWriter, ns: str, pods: list[Obj]) -> list[Obj]:
    """The controllers above the pods (ReplicaSet, Deployment, ...), each read once."""
    seen: dict[tuple[str, str], Obj | None] = {}
    chain: list[Obj] = []
    frontier = [controller_ref(p) for p in pods]
    for _ in range(MAX_OWNER_DEPTH):
        next_frontier = []
        for ref in frontier:
            if ref is None or ref in seen:
                continue
            plural, name = ref
            src = source(plural, ns, name)
            seen[ref] = obj = guarded(
                writer,
                f"state/owners/{safe_name(plural)}/{safe_name(name)}.yaml",
                src,
                partial(cluster.get, plural, ns, name),
            )
            if obj is not None:
                rt = by_name(plural)
                obj.setdefault("kind", rt.kind if rt is not None else plural)
                chain.append(obj)
                next_frontier.append(controller_ref(obj))
        frontier = next_frontier
    return chain


def _kind_of(resolved: Resolved) -> str:
    rt = by_name(resolved.target.kind or "")
    return rt.kind if rt is not None else ""


def _plural(kind: str) -> str:
    rt = by_name(kind)
    return rt.plural if rt is not None else kind.lower()


def _listed(cluster: Cluster, writer: BundleWriter, kind: str, ns: str) -> Iterator[Obj]:
    return guarded_iter(writer, f"state/{kind}", source(kind, ns), cluster.iterate(kind, ns))


def _matching_services(cluster: Cluster, writer: BundleWriter, ns: str, pods: list[Obj]) -> None:
    labels = [(p["metadata"].get("labels") or {}) for p in pods]
    for svc in _listed(cluster, writer, "services", ns):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if selector and any(selector.items() <= pod.items() for pod in labels):
            write_object(writer, "state/services", svc, "services")


def _add_yaml(writer: BundleWriter, relpath: str, obj: Any, src: str) -> None:
    try:
        writer.add_yaml(relpath, obj, src)
    except IrkitError as e:
        writer.record_failure(relpath, src, str(e))


# ---- referenced ConfigMaps and Secrets: names (and Secret key names) only ----------------------
def _references(cluster: Cluster, writer: BundleWriter, ns: str, pods: list[Obj]) -> None:
    configmaps: dict[str, set[str]] = {}
    secrets: dict[str, set[str]] = {}
    for pod in pods:
        for kind, name, via in pod_references(pod):
            (configmaps if kind == "ConfigMap" else secrets).setdefault(name, set()).add(via)
    summary: list[dict[str, Any]] = []
    for name in sorted(secrets):
        src = source("secrets", ns, name)
        obj = guarded(
            writer,
            f"state/references.yaml#secret/{name}",
            src,
            partial(cluster.get, "secrets", ns, name),
        )
        summary.append({**secret_summary(name, obj), "referencedBy": sorted(secrets[name])})
    doc = {
        "configMaps": [
            {"name": n, "referencedBy": sorted(v)} for n, v in sorted(configmaps.items())
        ],
        "secrets": summary,
    }
    _add_yaml(writer, "state/references.yaml", doc, "derived from the pods' specs")


def secret_summary(name: str, secret: Obj | None) -> dict[str, Any]:
    """Name, type and key names of a Secret; never a value. ``None``: it could not be read."""
    if secret is None:
        return {"name": name, "keys": None}
    keys = set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())
    return {"name": name, "type": secret.get("type", ""), "keys": sorted(str(k) for k in keys)}


def pod_references(pod: Obj) -> Iterable[tuple[str, str, str]]:
    """``(ConfigMap|Secret, name, where)`` for every volume, envFrom, env and pull secret."""
    spec = pod.get("spec") or {}
    for vol in spec.get("volumes") or []:
        where = f"volume {vol.get('name', '')}"
        if name := (vol.get("configMap") or {}).get("name"):
            yield "ConfigMap", name, where
        if name := (vol.get("secret") or {}).get("secretName"):
            yield "Secret", name, where
        for src in (vol.get("projected") or {}).get("sources") or []:
            if name := (src.get("configMap") or {}).get("name"):
                yield "ConfigMap", name, where
            if name := (src.get("secret") or {}).get("name"):
                yield "Secret", name, where
    for pull in spec.get("imagePullSecrets") or []:
        if pull.get("name"):
            yield "Secret", pull["name"], "imagePullSecrets"
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            where = f"container {c.get('name', '')}"
            for env_from in c.get("envFrom") or []:
                if name := (env_from.get("configMapRef") or {}).get("name"):
                    yield "ConfigMap", name, f"{where} envFrom"
                if name := (env_from.get("secretRef") or {}).get("name"):
                    yield "Secret", name, f"{where} envFrom"
            for env in c.get("env") or []:
                value_from = env.get("valueFrom") or {}
                for kind, ref_key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    ref = value_from.get(ref_key) or {}
                    if ref.get("name"):
                        yield (
                            kind,
                            ref["name"],
                            f"{where} env {env.get('name', '')} (key {ref.get('key', '')})",
                        )
