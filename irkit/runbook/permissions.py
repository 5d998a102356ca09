"""The Kubernetes API permissions each runbook action needs, as data read off the action code.

``irkit preflight`` asks the cluster about each of them (a SelfSubjectAccessReview) and ``irkit
rbac`` turns them into a Role and a ClusterRole, so the tables must say exactly what the code
does: ``tests/unit/test_permissions.py`` runs every action against ``irkit.sim`` and checks its
audit log against them, both ways (nothing used that is not declared, nothing declared that no
run uses). Change an action's calls, change its table.

Some needs depend on the step: on the target's kind (``kinds``: plural names, or ``SELECTOR``
for ``-l``) or on a boolean ``with:`` option being on (``option``). Unknown before the
incident means "assume it": see ``irkit.runbook.needed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from irkit.model.kinds import by_name
from irkit.runbook.model import Action

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


def _needs(
    verb: str,
    plurals: Iterable[str],
    kinds: Iterable[str] | None = None,
    *,
    option: str | None = None,
    note: str = "",
) -> tuple[Need, ...]:
    only = frozenset(kinds) if kinds is not None else None
    return tuple(Need(perm(verb, p), only, option, note) for p in plurals)


def _by_kind(verb: str, kinds: Iterable[str]) -> tuple[Need, ...]:
    """``verb`` on the target's own kind (get deployments for deployment/NAME, ...)."""
    return tuple(Need(perm(verb, k), frozenset({k})) for k in kinds)


def _resolve() -> tuple[Need, ...]:
    """``irkit.actions.targets.resolve``: the namespace, the target, its pods, their owners."""
    return (
        Need(
            perm("get", "namespaces"),
            note="only when the target is not found: is it the namespace that is missing?",
        ),
        *_by_kind("get", WORKLOADS),
        *_needs("list", ["pods"], ANY_KIND - {"pods"}),
        *_needs(
            "get",
            ["replicasets"],
            ["deployments"],
            note="a Deployment's pods lead back to it through their ReplicaSet",
        ),
        *_needs("get", OWNER_KINDS, ["pods"], note="a pod's owners, upwards"),
    )


_SCALABLE = ("deployments", "statefulsets")
_SCALE_TARGETS = frozenset({SELECTOR, *_SCALABLE})


def _scaling(option_wait: str = "wait") -> tuple[Need, ...]:
    """What scale and restore share: the workloads, chosen by name or by their own labels,
    patched (records) and scaled through the ``scale`` subresource."""
    return (
        Need(perm("get", "namespaces"), _SCALE_TARGETS),
        *_by_kind("get", _SCALABLE),
        *_needs("list", _SCALABLE, [SELECTOR], note="-l matches the workloads' own labels"),
        *_by_kind("patch", _SCALABLE),
        *_needs("patch", _SCALABLE, [SELECTOR]),
        *(Need(perm("patch", k, "scale"), frozenset({k, SELECTOR})) for k in _SCALABLE),
        # --wait resolves each workload again to count its pods
        *_needs("list", ["pods"], _SCALE_TARGETS, option=option_wait),
        *_needs("get", ["replicasets"], ["deployments", SELECTOR], option=option_wait),
        *_needs("get", _SCALABLE, [SELECTOR], option=option_wait),
    )


_HPA = "horizontalpodautoscalers"

PERMISSIONS: dict[Action, tuple[Need, ...]] = {
    Action.ISOLATE: (
        *_resolve(),
        *_needs("list", ["networkpolicies"], note="other policies that would still let traffic in"),
        *_needs("get", ["networkpolicies"], note="irkit's own policy, read again after a 409"),
        *_needs("create", ["networkpolicies"]),
        *_needs("patch", ["networkpolicies"], note="updates irkit's own policy on new options"),
        *_needs("patch", ["pods"], note="the quarantine label"),
        *_needs("list", ["services"], option="detach", note="the labels Services select by"),
    ),
    Action.RELEASE: (
        *_resolve(),
        *_needs("get", ["networkpolicies"]),
        *_needs("delete", ["networkpolicies"], note="only a policy irkit created"),
        *_needs(
            "list", ["networkpolicies"], note="irkit's other quarantines that still hold a pod"
        ),
        *_needs("patch", ["pods"], note="removes the quarantine label"),
    ),
    Action.COLLECT: (
        *_resolve(),
        Need(perm("get", "pods", "log"), note="every container's log, and the previous one"),
        # The owners above the pods: which kinds depends on what owns them.
        *_needs("get", ["replicasets", "deployments"], ["deployments", "replicasets"]),
        *_needs("get", ["statefulsets"], ["statefulsets"]),
        *_needs("get", ["daemonsets"], ["daemonsets"]),
        *_needs("get", OWNER_KINDS, [SELECTOR, "pods"], note="the pods' owners, upwards"),
        *_needs("list", ["services", "networkpolicies", "events", _HPA]),
        Need(perm("get", "nodes"), note="the nodes the pods run on"),
        Need(perm("get", "serviceaccounts"), note="the pods' ServiceAccounts"),
        # Secrets: collect reads each referenced Secret only to record its KEY NAMES (never a
        # value is written). RBAC cannot grant key names without values: this grants reading
        # the values of every Secret in the namespace. ConfigMaps are named from the pod spec
        # and never read.
        Need(perm("get", "secrets"), note="key names only are recorded; RBAC grants the values"),
        Need(perm("list", "clusterrolebindings"), note="the ServiceAccounts' RBAC exposure"),
        Need(
            perm("list", "rolebindings", everywhere=True),
            note="a RoleBinding in any namespace may grant the ServiceAccounts rights; "
            "when refused, collect falls back to the target's namespace",
        ),
        Need(perm("get", "roles", everywhere=True), note="the Roles those RoleBindings name"),
        Need(perm("get", "clusterroles"), note="the ClusterRoles the bindings name"),
    ),
    Action.SNAPSHOT: (
        *_resolve(),
        *_needs("get", OWNER_KINDS, note="the pods' owners, upwards"),
        *_needs("list", ["networkpolicies", "services"], note="as they were before isolate"),
    ),
    Action.SCALE: (
        *_scaling(),
        *_needs("get", _SCALABLE, [SELECTOR], note="re-read after a conflicting write"),
        *_needs(
            "list",
            ["daemonsets"],
            [SELECTOR],
            note="optional: names DaemonSets -l also matches (a refusal is ignored)",
        ),
        *_needs("list", [_HPA], _SCALE_TARGETS, note="an HPA would scale the workload back up"),
        *_needs("delete", [_HPA], _SCALE_TARGETS, option="force", note="saved on the workload"),
    ),
    Action.RESTORE: (
        *_scaling(),
        *_needs("get", [_HPA], _SCALE_TARGETS, note="HPAs scale --force saved"),
        *_needs("create", [_HPA], _SCALE_TARGETS, note="recreates the saved HPAs"),
    ),
    Action.LABEL: (*_resolve(), *_needs("patch", ["pods"])),
    Action.ANNOTATE: (*_resolve(), *_needs("patch", ["pods"])),
    Action.CORDON: (Need(perm("get", "nodes")), Need(perm("patch", "nodes"))),
    Action.UNCORDON: (Need(perm("get", "nodes")), Need(perm("patch", "nodes"))),
    Action.NOTIFY: (),  # Slack, webhooks, SNS: no Kubernetes API
    Action.WAIT: (),
    Action.RCA: (),  # reads the journal and the bundle on disk
}


def permissions(
    action: Action, kind: str | None = None, options: Mapping[str, bool | None] | None = None
) -> list[Permission]:
    """What one step needs: ``kind`` None and options left out mean unknown (assume all)."""
    opts = options or {}
    found = {n.permission for n in PERMISSIONS[action] if n.applies(kind, opts)}
    return sorted(found, key=sort_key)


def needs(
    action: Action, kind: str | None = None, options: Mapping[str, bool | None] | None = None
) -> list[Need]:
    opts = options or {}
    return [n for n in PERMISSIONS[action] if n.applies(kind, opts)]


def options_of(action: Action) -> frozenset[str]:
    """The boolean ``with:`` options an action's needs depend on."""
    return frozenset(n.option for n in PERMISSIONS[action] if n.option is not None)


def sort_key(p: Permission) -> tuple[str, str, str, int, bool]:
    verb = VERB_ORDER.index(p.verb) if p.verb in VERB_ORDER else len(VERB_ORDER)
    return (p.group, p.resource, p.subresource, verb, p.namespaced)
