"""Owner references are cluster data anyone who creates a pod writes: irkit follows few of them."""

from __future__ import annotations

import pytest

from irkit.actions.targets import controller_ref
from irkit.model.kinds import api_path, by_name


def pod_owned_by(kind: str, name: str) -> dict[str, object]:
    ref = {"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": True}
    return {"metadata": {"name": "p", "ownerReferences": [ref]}}


def test_controllers_are_followed() -> None:
    assert controller_ref(pod_owned_by("ReplicaSet", "api-7d9f")) == ("replicasets", "api-7d9f")
    assert controller_ref(pod_owned_by("StatefulSet", "db")) == ("statefulsets", "db")


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("Secret", "db-credentials"),
        ("ConfigMap", "x"),
        ("ReplicaSet", "../../../../api/v1/namespaces/production/secrets/db-credentials"),
        ("ReplicaSet", ".."),
        ("Deployment", "a/b"),
    ],
)
def test_other_kinds_and_impossible_names_are_not(kind: str, name: str) -> None:
    assert controller_ref(pod_owned_by(kind, name)) is None


def test_api_path_keeps_a_name_in_one_segment() -> None:
    rs = by_name("replicasets")
    assert rs is not None
    path = api_path(rs, "production", "../../secrets/x")
    assert path == "/apis/apps/v1/namespaces/production/replicasets/..%2F..%2Fsecrets%2Fx"
    assert api_path(rs, "a/b", "..").endswith("/namespaces/a%2Fb/replicasets/%2E%2E")
    assert api_path(rs, "production", "api-1.x").endswith("/replicasets/api-1.x")
