"""Target parsing: kubectl-style kinds, strict names, selectors, and the slug irkit names by."""

from __future__ import annotations

import pytest

from irkit.errors import UsageError
from irkit.model.target import (
    Target,
    parse_target,
    selector_to_object,
    selector_to_string,
)


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ("pod/web-1", "pods"),
        ("po/web-1", "pods"),
        ("deployment/api", "deployments"),
        ("deploy/api", "deployments"),
        ("deployments/api", "deployments"),
        ("sts/db", "statefulsets"),
        ("daemonset/agent", "daemonsets"),
        ("rs/api-123", "replicasets"),
        ("deployment.apps/api", "deployments"),
        ("deployments.apps/api", "deployments"),
        ("deployments.v1.apps/api", "deployments"),
        ("deploy.apps/api", "deployments"),
        ("Deployment/api", "deployments"),
        ("statefulsets.apps/db", "statefulsets"),
        ("sts/db", "statefulsets"),
        ("pods/web-1", "pods"),
        ("ds.apps/agent", "daemonsets"),
        ("replicaset.v1.apps/api-123", "replicasets"),
    ],
)
def test_kinds_accept_kubectl_spellings(ref: str, kind: str) -> None:
    target = parse_target("prod", ref, None)
    assert target.kind == kind and target.name == ref.split("/")[1]


@pytest.mark.parametrize(
    ("namespace", "ref", "selector", "message"),
    [
        ("prod", "cronjob/x", None, "unknown target 'cronjob/x'"),
        ("prod", "deploymnet/x", None, "did you mean 'deployment'"),
        ("prod", "api", None, "unknown target 'api'"),
        ("prod", "service/x", None, "unknown target"),
        ("prod", "deployment.extensions/x", None, "unknown target"),
        ("prod", "deployments.v2.apps/x", None, "unknown target"),
        ("prod", "pods.apps/x", None, "unknown target"),
        ("prod", "networkpolicy.networking.k8s.io/x", None, "unknown target"),
        ("prod", "pod/Bad_Name", None, "invalid pod name"),
        ("prod", None, None, "exactly one target"),
        ("prod", "pod/x", "a=b", "exactly one target"),
        ("Prod", "pod/x", None, "invalid namespace"),
        ("", "pod/x", None, "invalid namespace"),
        ("prod", None, "a in (", "invalid label selector"),
        ("prod", None, " ", "empty label selector"),
    ],
)
def test_bad_targets_are_usage_errors(
    namespace: str, ref: str | None, selector: str | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_target(namespace, ref, selector)


def test_slug_is_short_stable_and_dns_safe() -> None:
    assert parse_target("p", "deploy/api", None).slug == "deployment-api"
    assert parse_target("p", "pod/a.b", None).slug == "pod-a-b"
    long = parse_target("p", "deployment/" + "x" * 200, None).slug
    assert len(long) <= 40 and long == parse_target("p", "deployment/" + "x" * 200, None).slug
    sel = Target("p", selector="app=x").slug
    assert sel.startswith("selector-") and sel != Target("p", selector="app=y").slug
    assert str(parse_target("p", "deploy/api", None)) == "deployment/api -n p"


def test_selectors_round_trip_between_text_and_objects() -> None:
    obj = {
        "matchLabels": {"app": "api"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    text = selector_to_string(obj)
    assert text == "app=api,tier in (a,b),!canary"
    back = selector_to_object(text)
    assert back["matchLabels"] == {"app": "api"}
    assert {"key": "canary", "operator": "DoesNotExist"} in back["matchExpressions"]
    assert selector_to_string(None) == "" and selector_to_string({}) == ""
