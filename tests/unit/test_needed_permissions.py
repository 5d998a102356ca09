"""What a runbook needs, worked out before the incident: namespaces, target kinds, options, RBAC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from irkit.errors import UsageError
from irkit.runbook.loader import load_runbook
from irkit.runbook.model import Runbook
from irkit.runbook.needed import (
    ALL_NAMESPACES,
    CLUSTER,
    ResolvedPermission,
    analyse,
    needed_permissions,
)
from irkit.runbook.rbac import PLACEHOLDER, Subject, manifests, render, rules

VALID = Path(__file__).resolve().parent.parent / "fixtures" / "runbooks" / "valid"


def runbook(*steps: dict[str, Any], params: dict[str, Any] | None = None) -> Runbook:
    return Runbook.model_validate(
        {
            "apiVersion": "irkit.io/v1",
            "kind": "Runbook",
            "metadata": {"name": "t"},
            "params": params or {},
            "steps": list(steps),
        }
    )


def step(action: str, **with_: Any) -> dict[str, Any]:
    return {"id": f"s_{action}", "action": action, "with": with_}


def table(needed: list[ResolvedPermission]) -> set[tuple[str, str, str]]:
    """(verb, resource[/sub], namespace) of each permission."""
    return {(n.permission.verb, n.permission.rbac_resource, n.namespace) for n in needed}


def test_params_resolve_every_namespace_and_nothing_is_assumed() -> None:
    book = load_runbook(VALID / "contain-workload.yaml").runbook
    params = {"namespace": "production", "workload": "deployment/api-server", "scale_down": True}
    assert all(not s.assumptions for s in analyse(book, params))
    needed = needed_permissions(book, params)
    spaces = {n.namespace for n in needed}
    assert spaces == {CLUSTER, ALL_NAMESPACES, "production"}
    # Only what collect reads across namespaces by design is everywhere, and unresolved is empty.
    everywhere = {n.permission.resource for n in needed if n.namespace == ALL_NAMESPACES}
    assert everywhere == {"rolebindings", "roles"}
    assert all(not n.unresolved for n in needed)
    assert ("create", "networkpolicies", "production") in table(needed)
    assert ("delete", "horizontalpodautoscalers", "production") in table(needed)  # force: true
    # A deployment target: nothing about StatefulSets, DaemonSets or single pods.
    resources = {n.permission.resource for n in needed}
    assert not {"statefulsets", "daemonsets"} & resources
    assert ("get", "pods", "production") not in table(needed)


def test_set_moves_the_namespace() -> None:
    book = load_runbook(VALID / "contain-workload.yaml").runbook
    needed = needed_permissions(book, {"namespace": "staging", "workload": "statefulset/db"})
    assert {n.namespace for n in needed} - {CLUSTER, ALL_NAMESPACES} == {"staging"}
    assert ("patch", "statefulsets/scale", "staging") in table(needed)
    assert ("patch", "deployments/scale", "staging") not in table(needed)


def test_a_namespace_from_the_alert_is_asked_for_everywhere_and_said_so() -> None:
    book = load_runbook(VALID / "falco-shell-pod.yaml").runbook
    scopes = analyse(book, {})
    assert "defaults to alert data" in scopes[0].assumptions[0]
    needed = needed_permissions(book, {})
    patch_pods = next(n for n in needed if str(n.permission) == "patch pods")
    assert patch_pods.namespace == ALL_NAMESPACES
    assert patch_pods.steps == ("isolate", "label")
    assert any("alert" in why for why in patch_pods.unresolved)
    # pod/{{ alert... }}: the kind is written down, so no list of pods and no other kinds' gets
    assert scopes[0].kind == "pods"
    assert ("list", "pods", ALL_NAMESPACES) not in table(needed)
    assert ("list", "services", ALL_NAMESPACES) in table(needed)  # detach: true
    assert {("get", "nodes", CLUSTER), ("patch", "nodes", CLUSTER)} <= table(needed)


def test_a_set_param_overrides_an_alert_default() -> None:
    book = load_runbook(VALID / "falco-shell-pod.yaml").runbook
    needed = needed_permissions(book, {"namespace": "production"})
    assert ("patch", "pods", "production") in table(needed)
    assert all(not n.unresolved for n in needed)


def test_a_target_from_the_alert_includes_every_kind() -> None:
    book = runbook(step("isolate", namespace="web", target="{{ alert.labels.workload }}"))
    [scope] = analyse(book, {})
    assert scope.kind is None and "every target kind" in scope.assumptions[0]
    gets = {n.permission.resource for n in needed_permissions(book, {}) if n.namespace == "web"}
    assert {"pods", "deployments", "statefulsets", "daemonsets", "replicasets"} <= gets


@pytest.mark.parametrize("selector", ["app=x", "app={{ alert.labels.app }}"])
def test_selector_targets_list_pods_and_get_no_workload(selector: str) -> None:
    book = runbook(step("label", namespace="web", selector=selector, set={"k": "v"}))
    assert table(needed_permissions(book, {})) == {
        ("get", "namespaces", CLUSTER),
        ("list", "pods", "web"),
        ("patch", "pods", "web"),
    }


@pytest.mark.parametrize(
    ("force", "params", "deletes"),
    [
        (False, {}, False),
        (True, {}, True),
        ("{{ params.force }}", {"force": False}, False),
        ("{{ params.force }}", {"force": True}, True),
        ("{{ alert.labels.force }}", {}, True),  # unknown: assumed on
    ],
)
def test_options_narrow_the_needs(force: Any, params: dict[str, Any], deletes: bool) -> None:
    book = runbook(
        step("scale", namespace="web", target="deploy/api", force=force),
        params={"force": {"type": "boolean"}},
    )
    found = ("delete", "horizontalpodautoscalers", "web") in table(needed_permissions(book, params))
    assert found is deletes


def test_a_required_param_not_given_is_named() -> None:
    book = runbook(
        step("release", namespace="{{ params.ns }}", target="pod/x"),
        params={"ns": {"required": True}},
    )
    [scope] = analyse(book, {})
    assert scope.namespace is None
    assert "--set ns=..." in scope.assumptions[0]


def test_a_bad_target_names_the_step() -> None:
    book = runbook(step("isolate", namespace="web", target="{{ params.t }}"), params={"t": {}})
    with pytest.raises(UsageError, match=r"step 's_isolate': with\.target"):
        needed_permissions(book, {"t": "widget/x"})


def test_one_permission_everywhere_covers_it_in_one_namespace() -> None:
    book = runbook(
        {**step("release", namespace="web", target="pod/a"), "id": "one"},
        {**step("release", namespace="{{ alert.ns }}", target="pod/b"), "id": "two"},
    )
    patch_pods = [n for n in needed_permissions(book, {}) if str(n.permission) == "patch pods"]
    assert [(n.namespace, n.steps) for n in patch_pods] == [(ALL_NAMESPACES, ("two", "one"))]


def test_actions_without_the_api_need_nothing() -> None:
    book = runbook(step("wait", seconds=1), step("rca"))
    assert needed_permissions(book, {}) == []


# ---- RBAC ------------------------------------------------------------------------------------
def test_rules_one_per_group_and_resource_with_ordered_verbs() -> None:
    book = load_runbook(VALID / "contain-workload.yaml").runbook
    needed = needed_permissions(book, {"namespace": "production", "workload": "deploy/api"})
    prod = [n for n in needed if n.namespace == "production"]
    got = {(r["apiGroups"][0], r["resources"][0]): r["verbs"] for r in rules(prod)}
    assert got[("networking.k8s.io", "networkpolicies")] == [
        "get",
        "list",
        "create",
        "patch",
        "delete",
    ]
    assert got[("apps", "deployments/scale")] == ["patch"]
    assert all(len(r["apiGroups"]) == len(r["resources"]) == 1 for r in rules(prod))


def test_manifests_put_cluster_wide_needs_in_a_cluster_role() -> None:
    book = load_runbook(VALID / "contain-workload.yaml").runbook
    needed = needed_permissions(book, {"namespace": "production", "workload": "deploy/api"})
    docs = manifests(needed, name="r", subject=Subject.service_account("ir/bot"), runbook="t")
    kinds = [(d["kind"], d["metadata"].get("namespace")) for d in docs]
    assert kinds == [
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("Role", "production"),
        ("RoleBinding", "production"),
    ]
    cluster_role = {r["resources"][0] for r in docs[0]["rules"]}
    assert cluster_role == {"namespaces", "nodes", "clusterrolebindings", "clusterroles"} | {
        "rolebindings",
        "roles",
    }
    assert docs[1]["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "ir"}]
    assert docs[3]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "r",
    }


def test_render_is_yaml_with_a_header_that_cannot_be_escaped() -> None:
    book = load_runbook(VALID / "contain-workload.yaml").runbook
    params = {"namespace": "production", "workload": "deploy/api\nkind: Secret"}
    needed = needed_permissions(book, {"namespace": "production", "workload": "deploy/api"})
    text = render(
        needed, name="r", subject=PLACEHOLDER, runbook="t", params=params, assumptions=["x"]
    )
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    assert "RBAC grants the values" in text  # the secrets note reaches the reviewer
    assert docs[1]["subjects"][0]["name"] == "irkit:responders"


@pytest.mark.parametrize("text", ["bot", "/bot", "ns/", "a/b/c"])
def test_service_account_needs_namespace_and_name(text: str) -> None:
    with pytest.raises(UsageError, match="NAMESPACE/NAME"):
        Subject.service_account(text)
