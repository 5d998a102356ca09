"""The Kubernetes resource types irkit knows: group, version, plural, kind, scope, short names.

One table serves both sides: the simulator routes and answers discovery from it, and irkit's
cluster adapter builds API paths and resolves ``deploy/x``-style targets from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    singular: str = field(default="")

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def key(self) -> tuple[str, str]:
        """Identity independent of version: (group, plural)."""
        return (self.group, self.plural)


def _core(plural: str, kind: str, namespaced: bool = True, **kw: object) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, **kw)  # type: ignore[arg-type]


_ALL = ("all",)
RESOURCE_TYPES: tuple[ResourceType, ...] = (
    _core(
        "namespaces", "Namespace", False, short_names=("ns",), subresources=("status", "finalize")
    ),
    _core("pods", "Pod", short_names=("po",), subresources=("log", "status"), categories=_ALL),
    _core("services", "Service", short_names=("svc",), categories=_ALL),
    _core("events", "Event", short_names=("ev",)),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("secrets", "Secret"),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _core("nodes", "Node", False, short_names=("no",), subresources=("status",)),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        ("scale", "status"),
        categories=_ALL,
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        ("rs",),
        ("scale", "status"),
        categories=_ALL,
    ),
    ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        ("sts",),
        ("scale", "status"),
        categories=_ALL,
    ),
    ResourceType(
        "apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("status",), categories=_ALL
    ),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("status",),
        categories=_ALL,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
)

BY_GROUP_VERSION_PLURAL: dict[tuple[str, str, str], ResourceType] = {
    (rt.group, rt.version, rt.plural): rt for rt in RESOURCE_TYPES
}
BY_KIND: dict[tuple[str, str], ResourceType] = {(rt.group, rt.kind): rt for rt in RESOURCE_TYPES}


def group_versions() -> dict[str, list[str]]:
    """Every served group (core group as "") and its versions, in declaration order."""
    out: dict[str, list[str]] = {}
    for rt in RESOURCE_TYPES:
        versions = out.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
    return out


def resources_in(group: str, version: str) -> list[ResourceType]:
    return [rt for rt in RESOURCE_TYPES if rt.group == group and rt.version == version]


_BY_NAME: dict[str, ResourceType] = {}
for _rt in RESOURCE_TYPES:
    for _name in (_rt.plural, _rt.singular_name, _rt.kind.lower(), *_rt.short_names):
        _BY_NAME.setdefault(_name, _rt)


def by_name(name: str) -> ResourceType | None:
    """``deploy``, ``deployment``, ``deployments``, ``Deployment``: the type (as kubectl)."""
    return _BY_NAME.get(name.lower())


def by_resource_arg(text: str) -> ResourceType | None:
    """A type as kubectl's command line names it: ``deploy``, ``deployments``, or qualified by
    its group, ``deployment.apps``, or by version and group, ``deployments.v1.apps``. For what a
    person types; owner references and API data go through ``by_name`` only."""
    if rt := by_name(text):
        return rt
    name, _, qualifier = text.lower().partition(".")
    rt = by_name(name)
    if rt is None or not rt.group or not qualifier:
        return None
    return rt if qualifier in (rt.group, f"{rt.version}.{rt.group}") else None


def api_path(rt: ResourceType, namespace: str = "", name: str = "", subresource: str = "") -> str:
    """The REST path of a collection, an object or a subresource.

    Names and namespaces are percent-encoded whole: they come from cluster data (owner
    references, say), and ``../secrets/x`` must stay one path segment, not walk the API."""
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    if rt.namespaced and namespace:
        base += f"/namespaces/{_segment(namespace)}"
    path = f"{base}/{rt.plural}"
    if name:
        path += f"/{_segment(name)}"
        if subresource:
            path += f"/{subresource}"
    return path


def _segment(value: str) -> str:
    # "." and ".." are dot segments even when encoded by nothing else: encode their dots too
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


def for_api_version_kind(api_version: str, kind: str) -> ResourceType | None:
    group, _, version = api_version.rpartition("/")
    rt = BY_KIND.get((group, kind))
    return rt if rt is not None and rt.version == version else None
