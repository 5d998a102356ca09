"""RBAC evaluation of the simulated API server, checked against upstream's semantics and wording."""

from __future__ import annotations

from typing import Any

import pytest

from irkit.sim.rbac import (
    Decision,
    RbacObjects,
    RequestAttributes,
    UserInfo,
    authorize,
    evaluate,
    forbidden_message,
    rules_for,
    self_subject_access_review,
)

RBAC_GROUP = "rbac.authorization.k8s.io"
JANE = UserInfo("jane")
CI = UserInfo.for_service_account("prod", "ci")


def rule(
    verbs: list[str],
    resources: list[str] | None = None,
    groups: list[str] | None = None,
    names: list[str] | None = None,
    urls: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": verbs}
    if resources is not None:
        out["apiGroups"] = [""] if groups is None else groups
        out["resources"] = resources
    if names is not None:
        out["resourceNames"] = names
    if urls is not None:
        out["nonResourceURLs"] = urls
    return out


def role(namespace: str, name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "Role", "metadata": meta, "rules": rules}


def cluster_role(name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name}
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": rules,
    }


def binding(
    name: str, role_kind: str, role_name: str, *subjects: dict[str, Any], namespace: str = ""
) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": RBAC_GROUP, "name": name}


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "apiGroup": RBAC_GROUP, "name": name}


def service_account(name: str, namespace: str | None = None) -> dict[str, Any]:
    out = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def req(
    verb: str, resource: str, namespace: str = "", name: str = "", *, group: str = "", sub: str = ""
) -> RequestAttributes:
    return RequestAttributes(verb, group, resource, sub, namespace, name)


def url(verb: str, path: str) -> RequestAttributes:
    return RequestAttributes(verb, "", "", path=path, resource_request=False)


POD_READER = role("prod", "pod-reader", rule(["get", "list", "watch"], ["pods"]))
JANE_READS_PODS = RbacObjects(
    roles=[POD_READER],
    role_bindings=[binding("read-pods", "Role", "pod-reader", user("jane"), namespace="prod")],
)


def test_role_binding_grants_its_role_in_its_namespace_only() -> None:
    assert authorize(JANE, req("list", "pods", "prod"), JANE_READS_PODS)
    assert not authorize(JANE, req("list", "pods", "staging"), JANE_READS_PODS)
    assert not authorize(JANE, req("list", "pods"), JANE_READS_PODS)
    assert not authorize(JANE, req("delete", "pods", "prod", "web-1"), JANE_READS_PODS)
    assert not authorize(UserInfo("bob"), req("list", "pods", "prod"), JANE_READS_PODS)


def test_cluster_role_binding_grants_everywhere_and_at_cluster_scope() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("node-reader", rule(["list"], ["nodes", "pods"]))],
        cluster_role_bindings=[binding("jane-nodes", "ClusterRole", "node-reader", user("jane"))],
    )
    assert authorize(JANE, req("list", "nodes"), objects)
    assert authorize(JANE, req("list", "pods", "any-namespace"), objects)
    assert not authorize(JANE, req("get", "nodes", name="n1"), objects)


def test_role_binding_to_cluster_role_is_limited_to_the_binding_namespace() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("view", rule(["list"], ["pods", "nodes"]))],
        role_bindings=[binding("view", "ClusterRole", "view", user("jane"), namespace="prod")],
    )
    assert authorize(JANE, req("list", "pods", "prod"), objects)
    assert not authorize(JANE, req("list", "pods", "staging"), objects)
    assert not authorize(JANE, req("list", "nodes"), objects)


def test_role_reference_resolves_in_the_binding_namespace_only() -> None:
    objects = RbacObjects(
        roles=[role("staging", "pod-reader", rule(["list"], ["pods"]))],
        role_bindings=[binding("rb", "Role", "pod-reader", user("jane"), namespace="prod")],
    )
    decision = evaluate(JANE, req("list", "pods", "prod"), objects)
    assert decision == Decision(
        allowed=False, reason='RBAC: role.rbac.authorization.k8s.io "pod-reader" not found'
    )


def test_unresolvable_references_are_aggregated_like_upstream() -> None:
    objects = RbacObjects(
        cluster_role_bindings=[
            binding("a", "ClusterRole", "gone", user("jane")),
            binding("b", "ClusterRole", "gone", group("system:authenticated")),
            binding("c", "Whatever", "x", user("jane")),
            binding("d", "ClusterRole", "not-for-jane", user("bob")),
        ],
    )
    reason = evaluate(JANE, req("list", "pods", "prod"), objects).reason
    assert reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'unsupported role reference kind: "Whatever"]'
    )


def test_service_account_subject_defaults_to_the_binding_namespace() -> None:
    objects = RbacObjects(
        roles=[POD_READER],
        role_bindings=[
            binding("ci", "Role", "pod-reader", service_account("ci"), namespace="prod")
        ],
    )
    assert authorize(CI, req("get", "pods", "prod", "web-1"), objects)
    other = UserInfo.for_service_account("staging", "ci")
    assert not authorize(other, req("get", "pods", "prod", "web-1"), objects)


def test_service_account_subject_of_another_namespace() -> None:
    objects = RbacObjects(
        roles=[POD_READER],
        role_bindings=[
            binding("ops", "Role", "pod-reader", service_account("bot", "ops"), namespace="prod")
        ],
    )
    bot = UserInfo.for_service_account("ops", "bot")
    assert authorize(bot, req("list", "pods", "prod"), objects)
    assert not authorize(
        UserInfo.for_service_account("prod", "bot"), req("list", "pods", "prod"), objects
    )


def test_cluster_role_binding_service_account_needs_a_namespace() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("all", rule(["*"], ["*"], ["*"]))],
        cluster_role_bindings=[binding("ci", "ClusterRole", "all", service_account("ci"))],
    )
    assert not authorize(CI, req("list", "pods", "prod"), objects)


def test_group_subjects_and_implicit_authenticated_group() -> None:
    objects = RbacObjects(
        cluster_roles=[
            cluster_role("read", rule(["get"], ["pods"])),
            cluster_role("list", rule(["list"], ["pods"])),
        ],
        cluster_role_bindings=[
            binding("sre", "ClusterRole", "list", group("sre")),
            binding("everyone", "ClusterRole", "read", group("system:authenticated")),
        ],
    )
    assert authorize(UserInfo("ann", ("sre",)), req("list", "pods", "prod"), objects)
    assert not authorize(JANE, req("list", "pods", "prod"), objects)
    assert authorize(JANE, req("get", "pods", "prod", "web-1"), objects)
    anonymous = UserInfo("system:anonymous", ("system:unauthenticated",))
    assert not authorize(anonymous, req("get", "pods", "prod", "web-1"), objects)


def test_service_account_helper_gives_upstream_identity() -> None:
    assert CI.name == "system:serviceaccount:prod:ci"
    assert CI.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:prod",
        "system:authenticated",
    )
    assert UserInfo("jane").effective_groups == ("system:authenticated",)


def test_wildcards_for_verbs_groups_and_resources() -> None:
    objects = RbacObjects(
        cluster_roles=[
            cluster_role("apps-all", rule(["*"], ["*"], ["apps"])),
            cluster_role("any-group-pods", rule(["get"], ["pods"], ["*"])),
        ],
        cluster_role_bindings=[
            binding("a", "ClusterRole", "apps-all", user("jane")),
            binding("b", "ClusterRole", "any-group-pods", user("jane")),
        ],
    )
    assert authorize(JANE, req("delete", "deployments", "prod", "api", group="apps"), objects)
    assert authorize(
        JANE, req("patch", "deployments", "prod", "api", group="apps", sub="scale"), objects
    )
    assert not authorize(
        JANE, req("delete", "deployments", "prod", "api", group="extensions"), objects
    )
    assert authorize(JANE, req("get", "pods", "prod", "x", group="metrics.k8s.io"), objects)
    assert not authorize(JANE, req("list", "pods", "prod"), objects)


@pytest.mark.parametrize(
    ("resources", "allowed_get_pod", "allowed_get_log"),
    [
        (["pods/log"], False, True),
        (["pods"], True, False),
        (["*/log"], False, True),
        (["*"], True, True),
        # Upstream compares "pods/*" literally: it is no wildcard.
        (["pods/*"], False, False),
    ],
)
def test_subresources_are_separate_grants(
    resources: list[str], allowed_get_pod: bool, allowed_get_log: bool
) -> None:
    objects = RbacObjects(
        roles=[role("prod", "r", rule(["get"], resources))],
        role_bindings=[binding("rb", "Role", "r", user("jane"), namespace="prod")],
    )
    assert authorize(JANE, req("get", "pods", "prod", "web-1"), objects) is allowed_get_pod
    log = req("get", "pods", "prod", "web-1", sub="log")
    assert authorize(JANE, log, objects) is allowed_get_log


def test_star_slash_subresource_matches_any_resource() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("scaler", rule(["patch"], ["*/scale"], ["apps"]))],
        cluster_role_bindings=[binding("s", "ClusterRole", "scaler", user("jane"))],
    )
    assert authorize(
        JANE, req("patch", "deployments", "p", "api", group="apps", sub="scale"), objects
    )
    assert authorize(
        JANE, req("patch", "statefulsets", "p", "db", group="apps", sub="scale"), objects
    )
    assert not authorize(JANE, req("patch", "deployments", "p", "api", group="apps"), objects)


def test_resource_names_constrain_and_never_match_nameless_requests() -> None:
    objects = RbacObjects(
        roles=[role("prod", "one", rule(["get", "list", "delete"], ["pods"], names=["web-1"]))],
        role_bindings=[binding("rb", "Role", "one", user("jane"), namespace="prod")],
    )
    assert authorize(JANE, req("get", "pods", "prod", "web-1"), objects)
    assert authorize(JANE, req("delete", "pods", "prod", "web-1"), objects)
    assert not authorize(JANE, req("get", "pods", "prod", "web-2"), objects)
    assert not authorize(JANE, req("list", "pods", "prod"), objects)


def test_empty_resource_names_do_not_constrain() -> None:
    objects = RbacObjects(
        roles=[role("prod", "any", rule(["list"], ["pods"], names=[]))],
        role_bindings=[binding("rb", "Role", "any", user("jane"), namespace="prod")],
    )
    assert authorize(JANE, req("list", "pods", "prod"), objects)


def test_system_masters_bypass_rbac_without_a_reason() -> None:
    admin = UserInfo("kubernetes-admin", ("system:masters",))
    assert evaluate(admin, req("delete", "nodes", name="n1"), RbacObjects()) == Decision(True)
    assert authorize(admin, url("get", "/metrics"), RbacObjects())
    assert not authorize(JANE, req("get", "nodes", name="n1"), RbacObjects())


def test_non_resource_urls_exact_and_prefix() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("probe", rule(["get"], urls=["/healthz", "/api/*"]))],
        cluster_role_bindings=[binding("probe", "ClusterRole", "probe", user("jane"))],
    )
    assert authorize(JANE, url("get", "/healthz"), objects)
    assert not authorize(JANE, url("get", "/healthz/etcd"), objects)
    assert authorize(JANE, url("get", "/api/v1"), objects)
    assert not authorize(JANE, url("get", "/apis"), objects)
    assert not authorize(JANE, url("post", "/api/v1"), objects)
    # A resource rule never covers a URL and vice versa.
    assert not authorize(JANE, req("get", "pods", "prod", "x"), objects)


def test_non_resource_urls_are_not_granted_by_role_bindings() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("metrics", rule(["get"], urls=["/metrics"]))],
        role_bindings=[binding("m", "ClusterRole", "metrics", user("jane"), namespace="prod")],
    )
    attrs = RequestAttributes(
        "get", "", "", namespace="prod", path="/metrics", resource_request=False
    )
    assert not authorize(JANE, attrs, objects)


def test_allow_reason_names_binding_role_and_subject_like_upstream() -> None:
    assert evaluate(JANE, req("list", "pods", "prod"), JANE_READS_PODS).reason == (
        'RBAC: allowed by RoleBinding "read-pods/prod" of Role "pod-reader" to User "jane"'
    )
    objects = RbacObjects(
        cluster_roles=[cluster_role("edit", rule(["*"], ["*"], ["*"]))],
        cluster_role_bindings=[
            binding("ci-edit", "ClusterRole", "edit", service_account("ci", "prod"))
        ],
    )
    assert evaluate(CI, req("list", "pods", "prod"), objects).reason == (
        'RBAC: allowed by ClusterRoleBinding "ci-edit" of ClusterRole "edit" '
        'to ServiceAccount "ci/prod"'
    )


@pytest.mark.parametrize(
    ("who", "attrs", "expected"),
    [
        (
            JANE,
            req("list", "pods", "production"),
            'pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
            'in the namespace "production"',
        ),
        (
            JANE,
            req("get", "pods", "production", "web-1", sub="log"),
            'pods "web-1" is forbidden: User "jane" cannot get resource "pods/log" in API group "" '
            'in the namespace "production"',
        ),
        (
            JANE,
            req("list", "nodes"),
            'nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" '
            "at the cluster scope",
        ),
        (
            CI,
            req("patch", "deployments", "prod", "api", group="apps", sub="scale"),
            'deployments.apps "api" is forbidden: User "system:serviceaccount:prod:ci" cannot '
            'patch resource "deployments/scale" in API group "apps" in the namespace "prod"',
        ),
        (JANE, url("get", "/metrics"), 'forbidden: User "jane" cannot get path "/metrics"'),
    ],
)
def test_forbidden_message_matches_kube_apiserver(
    who: UserInfo, attrs: RequestAttributes, expected: str
) -> None:
    assert forbidden_message(who, attrs) == expected


def test_forbidden_message_appends_reason_and_escapes_html() -> None:
    reason = 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    assert forbidden_message(JANE, req("list", "pods", "prod"), reason) == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
        'in the namespace "prod": RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    )
    assert forbidden_message(UserInfo("<b>&"), url("get", "/x")) == (
        'forbidden: User "&lt;b&gt;&amp;" cannot get path "/x"'
    )


def test_self_subject_access_review_allowed_with_reason() -> None:
    spec = {"resourceAttributes": {"namespace": "prod", "verb": "list", "resource": "pods"}}
    assert self_subject_access_review(JANE, spec, JANE_READS_PODS) == {
        "allowed": True,
        "reason": (
            'RBAC: allowed by RoleBinding "read-pods/prod" of Role "pod-reader" to User "jane"'
        ),
    }


def test_self_subject_access_review_denied_and_subresource() -> None:
    spec = {
        "resourceAttributes": {
            "namespace": "prod",
            "verb": "get",
            "resource": "pods",
            "subresource": "log",
            "name": "web-1",
        }
    }
    assert self_subject_access_review(JANE, spec, JANE_READS_PODS) == {"allowed": False}


def test_self_subject_access_review_non_resource() -> None:
    objects = RbacObjects(
        cluster_roles=[cluster_role("probe", rule(["get"], urls=["/healthz"]))],
        cluster_role_bindings=[
            binding("probe", "ClusterRole", "probe", group("system:authenticated"))
        ],
    )
    spec = {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    assert self_subject_access_review(JANE, spec, objects)["allowed"] is True
    spec = {"nonResourceAttributes": {"path": "/livez", "verb": "get"}}
    assert self_subject_access_review(JANE, spec, objects) == {"allowed": False}


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/x"}},
    ],
)
def test_self_subject_access_review_rejects_ambiguous_specs(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="resourceAttributes"):
        self_subject_access_review(JANE, spec, RbacObjects())


def test_rules_for_lists_cluster_and_namespace_rules() -> None:
    cluster_rule = rule(["get"], urls=["/healthz"])
    objects = RbacObjects(
        roles=list(JANE_READS_PODS.roles),
        role_bindings=list(JANE_READS_PODS.role_bindings),
        cluster_roles=[cluster_role("probe", cluster_rule)],
        cluster_role_bindings=[binding("probe", "ClusterRole", "probe", user("jane"))],
    )
    assert rules_for(JANE, "prod", objects) == [cluster_rule, *POD_READER["rules"]]
    assert rules_for(JANE, "staging", objects) == [cluster_rule]
