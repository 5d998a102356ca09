"""Turn a Kubernetes API path into what it addresses: group, version, resource, namespace, name.

Kept apart from the HTTP handler so the path grammar is tested on its own and used by the
authorizer, the audit log and the fault rules alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from irkit.model.kinds import BY_GROUP_VERSION_PLURAL, ResourceType


@dataclass(frozen=True)
class Target:
    """What a resource request addresses. ``name`` empty means the collection."""

    rt: ResourceType
    namespace: str
    name: str
    subresource: str

    @property
    def is_collection(self) -> bool:
        return not self.name


def parse_resource_path(path: str) -> Target | None:
    """``/api/v1/namespaces/prod/pods/web/log`` -> Target; None when not a resource path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = BY_GROUP_VERSION_PLURAL.get((group, version, rest[2]))
        # /api/v1/namespaces/x/status is the namespace's own subresource, not a resource "status".
        if candidate is not None or group:
            namespace, rest = rest[1], rest[2:]
    rt = BY_GROUP_VERSION_PLURAL.get((group, version, rest[0]))
    if rt is None or len(rest) > 3:
        return None
    if namespace and not rt.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in rt.subresources:
        return None
    return Target(rt, namespace, name, sub)


def verb_for(method: str, target: Target, watch: bool) -> str:
    """The Kubernetes verb (what RBAC and audit speak) for an HTTP method on a target."""
    method = method.upper()
    if method == "GET":
        if target.is_collection:
            return "watch" if watch else "list"
        return "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "deletecollection" if target.is_collection else "delete"
    return method.lower()
