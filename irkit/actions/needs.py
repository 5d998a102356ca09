"""The Kubernetes API permissions an action needs, as data read off the action code.

Each action's spec (``irkit.actions.specs``) lists its ``Need``s next to the code that makes
the calls; ``irkit preflight`` asks the cluster about them (a SelfSubjectAccessReview) and
``irkit rbac`` turns them into a Role and a ClusterRole, so the lists must say exactly what the
code does: ``tests/unit/test_permissions.py`` runs every action against ``irkit.sim`` and
checks its audit log against them, both ways (nothing used that is not declared, nothing
declared that no run uses). Change an action's calls, change its needs.

Some needs depend on the step: on the target's kind (``kinds``: plural names, or ``SELECTOR``
for ``-l``) or on a boolean ``with:`` option being on (``option``). Unknown before the
incident means "assume it": see ``irkit.runbook.needed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from irkit.model.kinds import by_name

SELECTOR = "-l"  # a target given as a label selector rather than KIND/NAME
WORKLOADS = ("pods", "deployments", "statefulsets", "daemonsets", "replicasets")
ANY_KIND = frozenset({SELECTOR, *WORKLOADS})
OWNER_KINDS = ("replicasets", "deployments", "statefulsets", "daemonsets")
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


@dataclass(frozen=True, order=True)
class Permission:
    """One kind of API request. ``namespaced`` is False for cluster-scoped resources (nodes)
    and for requests across all namespaces (``list rolebindings`` with no namespace)."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool = True

    @property
    def rbac_resource(self) -> str:
        """How an RBAC rule names it: ``pods`` or ``pods/log``."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def qualified(self) -> str:
        """kubectl's spelling: ``deployments.apps/scale``, ``pods/log``."""
        name = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{name}/{self.subresource}" if self.subresource else name

    def __str__(self) -> str:
        return f"{self.verb} {self.qualified}"


@dataclass(frozen=True)
class Need:
    permission: Permission
    kinds: frozenset[str] | None = None  # only for these target kinds; None: any target
    option: str | None = None  # only when this boolean ``with:`` option is on
    note: str = ""

    def applies(self, kind: str | None, options: Mapping[str, bool | None]) -> bool:
        """``kind`` None: unknown (any kind applies); an option None: unknown (assumed on)."""
        if self.kinds is not None and kind is not None and kind not in self.kinds:
            return False
        return self.option is None or options.get(self.option) is not False


def perm(verb: str, plural: str, subresource: str = "", *, everywhere: bool = False) -> Permission:
    """A permission on a kind from ``irkit.model.kinds``, so the API group cannot be mistyped.
    ``everywhere``: a namespaced resource read across all namespaces."""
    rt = by_name(plural)
    if rt is None:
        raise ValueError(f"unknown resource {plural!r}")
    return Permission(verb, rt.group, rt.plural, subresource, rt.namespaced and not everywhere)


def on(
    verb: str,
    plurals: Iterable[str],
    kinds: Iterable[str] | None = None,
    *,
    option: str | None = None,
    note: str = "",
) -> tuple[Need, ...]:
    """``verb`` on each of ``plurals``; only for targets of ``kinds`` (None: any), only with
    ``option`` on (None: always)."""
    only = frozenset(kinds) if kinds is not None else None
    return tuple(Need(perm(verb, p), only, option, note) for p in plurals)


def by_kind(verb: str, kinds: Iterable[str]) -> tuple[Need, ...]:
    """``verb`` on the target's own kind (get deployments for deployment/NAME, ...)."""
    return tuple(Need(perm(verb, k), frozenset({k})) for k in kinds)


def resolving() -> tuple[Need, ...]:
    """``irkit.actions.targets.resolve``: the namespace, the target, its pods, their owners."""
    return (
        Need(
            perm("get", "namespaces"),
            note="only when the target is not found: is it the namespace that is missing?",
        ),
        *by_kind("get", WORKLOADS),
        *on("list", ["pods"], ANY_KIND - {"pods"}),
        *on(
            "get",
            ["replicasets"],
            ["deployments"],
            note="a Deployment's pods lead back to it through their ReplicaSet",
        ),
        *on("get", OWNER_KINDS, ["pods"], note="a pod's owners, upwards"),
    )


def sort_key(p: Permission) -> tuple[str, str, str, int, bool]:
    verb = VERB_ORDER.index(p.verb) if p.verb in VERB_ORDER else len(VERB_ORDER)
    return (p.group, p.resource, p.subresource, verb, p.namespaced)
