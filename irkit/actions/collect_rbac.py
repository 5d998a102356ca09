"""The RBAC exposure of the pods' ServiceAccounts: what a stolen token of theirs could do.

Every ClusterRoleBinding and RoleBinding (all namespaces when allowed, else the target's) whose
subjects include the ServiceAccount, by name, as ``system:serviceaccount:ns:name``, or through
the groups every ServiceAccount is in; the Roles and ClusterRoles they reference; and
``state/rbac/exposure.yaml``, a summary a responder reads first (``risks``: secrets readable,
exec, pod creation, impersonation, RBAC escalation, full wildcards).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from irkit.actions.gather import guarded, guarded_iter, source, write_object
from irkit.cluster.port import Cluster, Obj
from irkit.errors import Forbidden, IrkitError
from irkit.evidence.bundle import BundleWriter
from irkit.model.evidence import safe_name

READ = frozenset({"get", "list", "watch", "*"})


def collect_rbac(
    cluster: Cluster, writer: BundleWriter, namespace: str, accounts: list[str]
) -> None:
    for account in accounts:
        sa = guarded(
            writer,
            f"state/serviceaccounts/{safe_name(account)}.yaml",
            source("serviceaccounts", namespace, account),
            partial(cluster.get, "serviceaccounts", namespace, account),
        )
        if sa is not None:
            write_object(writer, "state/serviceaccounts", sa, "serviceaccounts")
    bindings = _bindings(cluster, writer, namespace, accounts)
    roles: dict[tuple[str, str, str], Obj | None] = {}
    exposure: list[dict[str, Any]] = []
    for account in accounts:
        grants = [
            _grant(cluster, writer, b, roles) for b in bindings if _binds(b, namespace, account)
        ]
        exposure.append(
            {
                "serviceAccount": f"system:serviceaccount:{namespace}:{account}",
                "grants": grants,
                "can": [line for g in grants for line in _can(g)],
                "risks": sorted({risk for g in grants for risk in _risks(g)}),
            }
        )
    for binding in [b for b in bindings if any(_binds(b, namespace, a) for a in accounts)]:
        folder = (
            "clusterrolebindings" if binding["kind"] == "ClusterRoleBinding" else "rolebindings"
        )
        write_object(writer, f"state/rbac/{folder}", binding, folder, qualified=True)
    for (kind, ns, _), role in sorted(roles.items(), key=lambda kv: kv[0]):
        if role is not None:
            folder = "clusterroles" if kind == "ClusterRole" else "roles"
            write_object(writer, f"state/rbac/{folder}", role, folder, qualified=bool(ns))
    try:
        writer.add_yaml("state/rbac/exposure.yaml", {"serviceAccounts": exposure}, "derived")
    except IrkitError as e:
        writer.record_failure("state/rbac/exposure.yaml", "derived", str(e))


def _bindings(
    cluster: Cluster, writer: BundleWriter, namespace: str, accounts: list[str]
) -> list[Obj]:
    """The bindings that bind one of ``accounts``; the lists are iterated, only these are kept
    (a cluster may hold tens of thousands of RoleBindings)."""

    def binding_ours(binding: Obj) -> bool:
        return any(_binds(binding, namespace, a) for a in accounts)

    found: list[Obj] = []
    crbs = guarded_iter(
        writer,
        "state/rbac/clusterrolebindings",
        source("clusterrolebindings"),
        cluster.iterate("clusterrolebindings"),
    )
    found += [{**b, "kind": "ClusterRoleBinding"} for b in crbs if binding_ours(b)]
    ours: dict[tuple[str, str], Obj] = {}
    try:  # a RoleBinding anywhere may grant the account rights in that namespace
        for b in cluster.iterate("rolebindings"):
            if binding_ours(b):
                ours[_key(b)] = b
    except Forbidden as e:
        writer.record_failure("state/rbac/rolebindings", source("rolebindings"), str(e))
        local = guarded_iter(
            writer,
            "state/rbac/rolebindings",
            source("rolebindings", namespace),
            cluster.iterate("rolebindings", namespace),
        )
        ours.update((_key(b), b) for b in local if binding_ours(b))
    except IrkitError as e:
        writer.record_failure("state/rbac/rolebindings", source("rolebindings"), str(e))
    found += [{**b, "kind": "RoleBinding"} for _, b in sorted(ours.items())]
    return found


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _binds(binding: Obj, namespace: str, account: str) -> bool:
    own_ns = (binding.get("metadata") or {}).get("namespace") or ""
    groups = {
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    }
    for s in binding.get("subjects") or []:
        kind, name = s.get("kind"), s.get("name")
        if (
            kind == "ServiceAccount"
            and name == account
            and (s.get("namespace") or own_ns) == namespace
        ):
            return True
        if kind == "User" and name == f"system:serviceaccount:{namespace}:{account}":
            return True
        if kind == "Group" and name in groups:
            return True
    return False


def _grant(
    cluster: Cluster,
    writer: BundleWriter,
    binding: Obj,
    roles: dict[tuple[str, str, str], Obj | None],
) -> dict[str, Any]:
    meta = binding.get("metadata") or {}
    ref = binding.get("roleRef") or {}
    bns = meta.get("namespace") or ""
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    role_ns = bns if kind == "Role" else ""
    key = (kind, role_ns, name)
    if key not in roles:
        plural = "roles" if kind == "Role" else "clusterroles"
        roles[key] = guarded(
            writer,
            f"state/rbac/{plural}/{safe_name(f'{role_ns}.{name}' if role_ns else name)}.yaml",
            source(plural, role_ns, name),
            partial(cluster.get, plural, role_ns, name),
        )
    role = roles[key]
    return {
        "binding": f"{binding['kind']} {bns + '/' if bns else ''}{meta.get('name', '')}",
        "role": f"{kind} {role_ns + '/' if role_ns else ''}{name}",
        "scope": f"namespace {bns}" if bns else "cluster-wide",
        "rules": (role or {}).get("rules") if role is not None else "unreadable (see failures)",
    }


def _rules(grant: dict[str, Any]) -> list[dict[str, Any]]:
    rules = grant.get("rules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _can(grant: dict[str, Any]) -> list[str]:
    lines = []
    for rule in _rules(grant):
        verbs = ", ".join(rule.get("verbs") or [])
        groups = rule.get("apiGroups") or [""]
        resources = ", ".join(
            f"{g}/{r}" if g else r for g in groups for r in rule.get("resources") or []
        )
        what = resources or ", ".join(rule.get("nonResourceURLs") or [])
        names = rule.get("resourceNames")
        only = f" (only {', '.join(names)})" if names else ""
        lines.append(f"{verbs} {what}{only} in {grant['scope']}, via {grant['binding']}")
    return lines


def _risks(grant: dict[str, Any]) -> set[str]:
    risks: set[str] = set()
    scope = grant["scope"]
    for rule in _rules(grant):
        verbs = set(rule.get("verbs") or [])
        resources = set(rule.get("resources") or [])
        core = bool({"", "*"} & set(rule.get("apiGroups") or []))
        create = bool({"create", "*"} & verbs)
        if "*" in verbs and "*" in resources:
            risks.add(f"full access (*) in {scope}")
        if core and {"secrets", "*"} & resources and READ & verbs:
            risks.add(f"can read Secrets in {scope}")
        if create and {"pods/exec", "pods/attach", "*"} & resources:
            risks.add(f"can exec into pods in {scope}")
        if create and {"pods", "*"} & resources:
            risks.add(f"can create pods (and run them as any ServiceAccount) in {scope}")
        if {"impersonate", "*"} & verbs:
            risks.add(f"can impersonate users, groups or ServiceAccounts in {scope}")
        rbac_write = {"escalate", "bind", "*"} & verbs and {
            "roles",
            "clusterroles",
            "*",
        } & resources
        if rbac_write or (create and {"rolebindings", "clusterrolebindings", "*"} & resources):
            risks.add(f"can grant RBAC rights (escalation) in {scope}")
    return risks
