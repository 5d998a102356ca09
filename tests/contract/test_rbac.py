"""Authentication and RBAC: who may do what, refused in kube-apiserver's own words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import api_client, body
from kubernetes import client
from kubernetes.client import ApiException

from irkit.sim import SimCluster

from . import rawhttp

VIEWER = "oncall-viewer"
SA_USER = "system:serviceaccount:production:api-server"


def _as(sim: SimCluster, tmp_path: Path, user: str) -> Any:
    # The client splits a kubeconfig path on ":" (KUBECONFIG style): keep it out of the name.
    path = tmp_path / f"kubeconfig-{user.replace(':', '-')}"
    return api_client(sim.write_kubeconfig(path, user=user))


@pytest.fixture
def viewer(sim: SimCluster, tmp_path: Path) -> Any:
    return _as(sim, tmp_path, VIEWER)


def _forbidden(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as e:
        call(*args, **kwargs)
    assert e.value.status == 403
    status = body(e.value)
    assert (status["kind"], status["status"], status["reason"], status["code"]) == (
        "Status",
        "Failure",
        "Forbidden",
        403,
    )
    return status


def test_viewer_cannot_list_secrets(viewer: Any) -> None:
    status = _forbidden(client.CoreV1Api(viewer).list_namespaced_secret, "production")
    assert status["message"] == (
        'secrets is forbidden: User "oncall-viewer" cannot list resource "secrets" '
        'in API group "" in the namespace "production"'
    )
    assert status["details"] == {"kind": "secrets"}


def test_viewer_cannot_get_a_secret_by_name(viewer: Any) -> None:
    status = _forbidden(
        client.CoreV1Api(viewer).read_namespaced_secret, "db-credentials", "production"
    )
    assert status["message"] == (
        'secrets "db-credentials" is forbidden: User "oncall-viewer" cannot get resource '
        '"secrets" in API group "" in the namespace "production"'
    )
    assert status["details"] == {"name": "db-credentials", "kind": "secrets"}
    assert "IRKIT-CANARY" not in str(status)


def test_viewer_messages_for_groups_subresources_and_cluster_scope(viewer: Any) -> None:
    apps, core = client.AppsV1Api(viewer), client.CoreV1Api(viewer)
    scale = _forbidden(
        apps.patch_namespaced_deployment_scale,
        "api-server",
        "production",
        {"spec": {"replicas": 0}},
    )
    assert scale["message"] == (
        'deployments.apps "api-server" is forbidden: User "oncall-viewer" cannot patch resource '
        '"deployments/scale" in API group "apps" in the namespace "production"'
    )
    assert scale["details"] == {"name": "api-server", "group": "apps", "kind": "deployments"}
    nodes = _forbidden(core.list_node)
    assert nodes["message"] == (
        'nodes is forbidden: User "oncall-viewer" cannot list resource "nodes" '
        'in API group "" at the cluster scope'
    )
    pods = core.list_namespaced_pod("production").items
    delete = _forbidden(core.delete_namespaced_pod, pods[0].metadata.name, "production")
    assert delete["message"] == (
        f'pods "{pods[0].metadata.name}" is forbidden: User "oncall-viewer" cannot delete '
        'resource "pods" in API group "" in the namespace "production"'
    )


def test_viewer_may_do_what_its_role_allows(viewer: Any, sim: SimCluster) -> None:
    core, apps = client.CoreV1Api(viewer), client.AppsV1Api(viewer)
    pods = core.list_namespaced_pod("production").items
    assert len(pods) == 5
    across = core.list_pod_for_all_namespaces().items  # a ClusterRoleBinding: every namespace
    assert {p.metadata.namespace for p in across} == {"production", "kube-system"}
    frontend = next(p for p in pods if p.metadata.labels["app"] == "frontend")
    log = core.read_namespaced_pod_log(frontend.metadata.name, "production")
    assert len(log.splitlines()) > 1000  # the scenario's 256KB generated log
    assert apps.read_namespaced_deployment("api-server", "production").spec.replicas == 3
    assert "production" in {n.metadata.name for n in core.list_namespace().items}
    # Nothing the viewer did changed anything.
    assert (
        client.AppsV1Api(api_client(sim.kubeconfig_path))
        .read_namespaced_deployment("api-server", "production")
        .metadata.generation
        == 1
    )


def test_a_role_binding_created_at_run_time_takes_effect_at_once(
    sim: SimCluster, k8s: Any, tmp_path: Path
) -> None:
    sim.add_user("alice", ("dev",))
    alice = client.CoreV1Api(_as(sim, tmp_path, "alice"))
    status = _forbidden(alice.list_namespaced_config_map, "default")
    assert status["message"] == (
        'configmaps is forbidden: User "alice" cannot list resource "configmaps" '
        'in API group "" in the namespace "default"'
    )
    rbac = client.RbacAuthorizationV1Api(k8s)
    rbac.create_namespaced_role(
        "default",
        {
            "metadata": {"name": "cm-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "get"]}],
        },
    )
    binding = {
        "metadata": {"name": "alice-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    rbac.create_namespaced_role_binding("default", binding)
    assert alice.list_namespaced_config_map("default").items == []
    # Only in the binding's namespace, and only the verbs of the role.
    _forbidden(alice.list_namespaced_config_map, "production")
    _forbidden(alice.create_namespaced_config_map, "default", {"metadata": {"name": "x"}})
    rbac.delete_namespaced_role_binding("alice-reads", "default")
    _forbidden(alice.list_namespaced_config_map, "default")


def test_a_group_binding_grants_to_every_member(sim: SimCluster, k8s: Any, tmp_path: Path) -> None:
    sim.add_user("bob", ("oncall:viewers",))
    sim.add_user("carol", ("other",))
    bob = client.CoreV1Api(_as(sim, tmp_path, "bob"))
    carol = client.CoreV1Api(_as(sim, tmp_path, "carol"))
    assert len(bob.list_namespaced_pod("production").items) == 5
    _forbidden(carol.list_namespaced_pod, "production")


def test_service_account_role_is_namespaced(sim: SimCluster, tmp_path: Path) -> None:
    sim.add_user(SA_USER, ("system:serviceaccounts", "system:serviceaccounts:production"))
    sa = client.CoreV1Api(_as(sim, tmp_path, SA_USER))
    secrets = sa.list_namespaced_secret("production").items  # the scenario's too-broad Role
    assert [s.metadata.name for s in secrets] == ["db-credentials"]
    status = _forbidden(sa.list_namespaced_secret, "default")
    assert status["message"] == (
        f'secrets is forbidden: User "{SA_USER}" cannot list resource "secrets" '
        'in API group "" in the namespace "default"'
    )


def _review(api: Any, **attrs: str) -> Any:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    return api.create_self_subject_access_review(review)


def test_self_subject_access_review(viewer: Any, k8s: Any) -> None:
    mine = client.AuthorizationV1Api(viewer)
    cases = [
        ({"verb": "list", "resource": "secrets", "namespace": "production"}, False),
        ({"verb": "get", "resource": "pods", "namespace": "production"}, True),
        ({"verb": "get", "resource": "pods", "subresource": "log", "namespace": "x"}, True),
        ({"verb": "delete", "resource": "pods", "namespace": "production"}, False),
        ({"verb": "list", "group": "apps", "resource": "deployments"}, True),
        (
            {"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "scale"},
            False,
        ),
        ({"verb": "list", "resource": "nodes"}, False),
    ]
    for attrs, allowed in cases:
        answer = _review(mine, **attrs)
        assert answer.status.allowed is allowed, attrs
        assert answer.kind == "SelfSubjectAccessReview"
        assert answer.spec.resource_attributes.verb == attrs["verb"]
    admin = client.AuthorizationV1Api(k8s)
    assert _review(admin, verb="delete", resource="secrets", namespace="production").status.allowed
    assert _review(admin, verb="list", resource="nodes").status.allowed


def test_viewer_reason_names_the_binding(viewer: Any) -> None:
    answer = _review(
        client.AuthorizationV1Api(viewer), verb="list", resource="pods", namespace="production"
    )
    assert answer.status.allowed is True
    assert "oncall-viewer" in answer.status.reason


def _client_with_token(sim: SimCluster, tmp_path: Path, token: str | None) -> Any:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim.ca_pem)
    cfg = client.Configuration(host=sim.url)
    cfg.ssl_ca_cert = str(ca)
    if token is not None:
        cfg.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(cfg)


@pytest.mark.parametrize("token", [None, "wrong-token-000000"])
def test_missing_or_wrong_token_is_unauthorized(
    sim: SimCluster, tmp_path: Path, token: str | None
) -> None:
    core = client.CoreV1Api(_client_with_token(sim, tmp_path, token))
    with pytest.raises(ApiException) as e:
        core.list_namespaced_pod("production")
    assert e.value.status == 401
    assert body(e.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_the_right_token_through_a_hand_built_configuration(
    sim: SimCluster, tmp_path: Path
) -> None:
    core = client.CoreV1Api(_client_with_token(sim, tmp_path, sim.admin_token))
    assert len(core.list_namespaced_pod("production").items) == 5


def test_raw_request_without_token_is_unauthorized_but_version_is_public(
    sim: SimCluster,
) -> None:
    assert rawhttp.request(sim, "GET", "/api/v1/namespaces", token=None).status == 401
    version = rawhttp.request(sim, "GET", "/version", token=None)
    assert version.status == 200
    assert version.json()["gitVersion"].startswith("v1.")


def test_access_review_without_attributes_is_invalid(viewer: Any) -> None:
    with pytest.raises(ApiException) as e:
        client.AuthorizationV1Api(viewer).create_self_subject_access_review({"spec": {}})
    status = body(e.value)
    assert (e.value.status, status["reason"]) == (422, "Invalid")
    assert status["details"]["group"] == "authorization.k8s.io"


def test_non_resource_access_review(viewer: Any) -> None:
    api = client.AuthorizationV1Api(viewer)
    review = {"spec": {"nonResourceAttributes": {"verb": "get", "path": "/metrics"}}}
    assert api.create_self_subject_access_review(review).status.allowed is False
