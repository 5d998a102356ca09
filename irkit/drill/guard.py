"""A live drill's cluster port: reads anywhere, writes only inside the drill's namespace.

The sandbox (``irkit.drill.live``) deploys the scenario into ``irkit-drill-<id>``, but the
runbook under test is the team's real one: a ``namespace: production`` written into it would
have the engine act on production. Wrapping the ``Cluster`` port the engine gets in
``SandboxGuard`` makes every create, patch or delete outside that namespace (and every
cluster-scoped one: nodes, namespaces, ClusterRoles) fail as the step's error, before a request
leaves irkit; gets, lists, logs and access reviews pass through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from irkit.cluster.port import Cluster, Identity, Obj, PatchType
from irkit.errors import OutsideSandbox


class SandboxGuard:
    """``cluster`` with its writes confined to ``namespace``."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self._cluster, self.namespace = cluster, namespace
        self.identity: Identity = cluster.identity

    def _check(self, verb: str, kind: str, namespace: str, name: str) -> None:
        if namespace == self.namespace:
            return
        where = f"namespace {namespace}" if namespace else "the cluster scope"
        raise OutsideSandbox(
            f"live drill: refusing to {verb} {kind}/{name} in {where}: a live drill writes only "
            f"in its namespace {self.namespace}",
            hint="the runbook names a namespace of its own; give it {{ params.namespace }}",
        )

    def get(self, kind: str, namespace: str, name: str, subresource: str = "") -> Obj:
        return self._cluster.get(kind, namespace, name, subresource)

    def server_version(self) -> Obj:
        version = getattr(self._cluster, "server_version", None)
        return dict(version()) if callable(version) else {}

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        return self._cluster.list(kind, namespace, labels=labels, fields=fields)

    def iterate(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> Iterator[Obj]:
        return self._cluster.iterate(kind, namespace, labels=labels, fields=fields)

    def create(self, kind: str, namespace: str, obj: Obj, *, dry_run: bool = False) -> Obj:
        name = str((obj.get("metadata") or {}).get("name") or "?")
        self._check("create", kind, namespace, name)
        return self._cluster.create(kind, namespace, obj, dry_run=dry_run)

    def patch(
        self,
        kind: str,
        namespace: str,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
        dry_run: bool = False,
    ) -> Obj:
        self._check("patch", kind, namespace, name)
        return self._cluster.patch(
            kind,
            namespace,
            name,
            patch,
            patch_type=patch_type,
            subresource=subresource,
            dry_run=dry_run,
        )

    def delete(self, kind: str, namespace: str, name: str, *, dry_run: bool = False) -> None:
        self._check("delete", kind, namespace, name)
        self._cluster.delete(kind, namespace, name, dry_run=dry_run)

    def stream_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        timestamps: bool = True,
    ) -> AbstractContextManager[Iterator[bytes]]:
        return self._cluster.stream_log(
            namespace, pod, container, previous=previous, timestamps=timestamps
        )

    def can_i(
        self, verb: str, kind: str, namespace: str = "", *, subresource: str = "", name: str = ""
    ) -> bool:
        return self._cluster.can_i(verb, kind, namespace, subresource=subresource, name=name)


__all__ = ["SandboxGuard"]
