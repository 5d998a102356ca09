"""label / annotate / cordon / uncordon against irkit.sim through the real Kubernetes adapter."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import cluster_for

from irkit.actions.cordon import WAS_UNSCHEDULABLE, cordon, uncordon
from irkit.actions.label import label
from irkit.cluster.kube import KubeCluster
from irkit.errors import Conflict, NotFound, UsageError
from irkit.model.journal import Change
from irkit.model.target import parse_target
from irkit.sim import SimCluster

NS = "production"
API = parse_target(NS, "deployment/api-server", None)
NODE = "sim-node-1"


class Recording:
    """The real adapter, counting writes: "no patch when nothing changes" is seen, not assumed."""

    def __init__(self, inner: KubeCluster) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.patches: list[tuple[str, str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def patch(self, kind: str, namespace: str, name: str, patch: Any, **kw: Any) -> Any:
        self.patches.append((kind, name, patch))
        return self.inner.patch(kind, namespace, name, patch, **kw)


@pytest.fixture
def kube(sim: SimCluster) -> KubeCluster:
    return cluster_for(sim)


@pytest.fixture
def rec(kube: KubeCluster) -> Recording:
    return Recording(kube)


def _labels(c: KubeCluster, app: str, field: str = "labels") -> dict[str, dict[str, str]]:
    pods = c.list("pods", NS, labels=f"app={app}")
    return {p["metadata"]["name"]: dict(p["metadata"].get(field) or {}) for p in pods}


def _node(c: KubeCluster, name: str = NODE) -> tuple[bool, dict[str, str]]:
    node = c.get("nodes", "", name)
    return bool((node.get("spec") or {}).get("unschedulable")), dict(
        node["metadata"].get("annotations") or {}
    )


# ---- label / annotate ----------------------------------------------------------------------------
def test_label_sets_on_every_pod_of_the_workload_and_journals_touched_keys(
    kube: KubeCluster, rec: Recording
) -> None:
    changes: list[Change] = []
    result = label(rec, API, set={"suspect": "true"}, remove=[], changes=changes)
    after = _labels(kube, "api-server")
    assert len(after) == 3
    assert all(labels["suspect"] == "true" for labels in after.values())
    assert all(labels["app"] == "api-server" for labels in after.values())
    assert all("suspect" not in labels for labels in _labels(kube, "frontend").values())
    assert sorted(result.pods) == sorted(after) == sorted(result.changed)
    assert result.status == "changed" and result.field == "labels"
    assert len(rec.patches) == 3
    assert result.changes is changes and len(changes) == 3
    assert changes[0].before == {"labels": {"suspect": None}}
    assert changes[0].after == {"labels": {"suspect": "true"}}


def test_label_is_idempotent_no_patch_the_second_time(kube: KubeCluster, rec: Recording) -> None:
    label(kube, API, set={"suspect": "true"}, remove=["tier"])
    result = label(rec, API, set={"suspect": "true"}, remove=["tier"])
    assert rec.patches == []
    assert result.status == "unchanged" and result.changed == [] and result.changes == []
    assert len(result.pods) == 3


def test_label_remove_and_change_a_value(kube: KubeCluster) -> None:
    label(kube, API, set={"ticket": "inc-41"}, remove=[])
    changes: list[Change] = []
    label(kube, API, set={"tier": "quarantined"}, remove=["ticket"], changes=changes)
    after = _labels(kube, "api-server")
    assert len(after) == 3
    for labels in after.values():
        assert labels["tier"] == "quarantined"
        assert "ticket" not in labels
    assert changes[0].before == {"labels": {"tier": "backend", "ticket": "inc-41"}}
    assert changes[0].after == {"labels": {"tier": "quarantined", "ticket": None}}


def test_annotate_takes_free_text_and_leaves_labels_alone(kube: KubeCluster) -> None:
    note = "INC-42: miner found, see https://tickets.example/42 <owner: sre>"
    before = _labels(kube, "api-server")
    result = label(kube, API, set={"example.com/note": note}, remove=[], annotate=True)
    assert result.field == "annotations"
    assert all(
        a["example.com/note"] == note for a in _labels(kube, "api-server", "annotations").values()
    )
    assert _labels(kube, "api-server") == before


def test_label_by_selector(kube: KubeCluster) -> None:
    target = parse_target(NS, None, "app=frontend")
    result = label(kube, target, set={"suspect": "yes"}, remove=[])
    assert len(result.changed) == 2
    assert all(labels["suspect"] == "yes" for labels in _labels(kube, "frontend").values())
    assert all("suspect" not in labels for labels in _labels(kube, "api-server").values())


def test_label_dry_run_changes_nothing_but_says_what_would(
    kube: KubeCluster, rec: Recording
) -> None:
    before = _labels(kube, "api-server")
    result = label(rec, API, set={"suspect": "true"}, remove=[], dry_run=True)
    assert _labels(kube, "api-server") == before
    assert result.dry_run and len(result.changed) == 3 and len(result.changes) == 3
    assert len(rec.patches) == 3  # sent, with dryRun=All: the server validated them


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"set": {"Bad Key": "x"}}, ["'Bad Key'", "alphanumeric"]),
        ({"set": {"UPPER.example.com/x": "x"}}, ["prefix", "DNS subdomain"]),
        ({"set": {"/x": "x"}}, ["prefix", "empty"]),
        ({"set": {"a" * 64: "x"}}, ["64 characters", "63 at most"]),
        ({"set": {"ok": "has space"}}, ["value", "'has space'"]),
        ({"set": {"ok": "v" * 64}}, ["64 characters", "63 at most"]),
        ({"set": {"irkit.io/quarantine": "x"}}, ["irkit.io/", "irkit's own"]),
        ({"remove": ["irkit.io/quarantine"]}, ["irkit.io/", "irkit's own"]),
        ({"set": {"sub.irkit.io/x": "x"}}, ["irkit.io/"]),
        ({"set": {"a": "1"}, "remove": ["a"]}, ["both set and removed"]),
        ({}, ["nothing to do"]),
    ],
)
def test_label_refuses_bad_keys_and_values_before_any_request(
    rec: Recording, kwargs: dict[str, Any], words: list[str]
) -> None:
    args: dict[str, Any] = {"set": {}, "remove": []} | kwargs
    with pytest.raises(UsageError) as err:
        label(rec, API, **args)
    for word in words:
        assert word in str(err.value)
    assert rec.patches == []


def test_annotation_values_are_free_but_irkit_keys_are_not(rec: Recording) -> None:
    label(rec, API, set={"note": "any text: spaces, <>, ünïcode"}, remove=[], annotate=True)
    with pytest.raises(UsageError, match=r"irkit\.io/"):
        label(rec, API, set={"irkit.io/detached-labels": "{}"}, remove=[], annotate=True)
    with pytest.raises(UsageError, match="256 KiB"):
        label(rec, API, set={"note": "x" * (256 * 1024)}, remove=[], annotate=True)


def test_label_missing_workload_is_not_found(kube: KubeCluster) -> None:
    with pytest.raises(NotFound, match='deployment "nope" not found'):
        label(kube, parse_target(NS, "deployment/nope", None), set={"a": "b"}, remove=[])


# ---- cordon / uncordon ---------------------------------------------------------------------------
def test_cordon_then_uncordon_restores_exactly(kube: KubeCluster, rec: Recording) -> None:
    changes: list[Change] = []
    result = cordon(kube, NODE, changes=changes)
    assert result.status == "cordoned" and result.unschedulable
    assert _node(kube) == (True, {WAS_UNSCHEDULABLE: "false"})
    assert _node(kube, "sim-node-2")[0] is False
    assert changes == [
        Change(
            "patch",
            "Node",
            "",
            NODE,
            {"unschedulable": False, WAS_UNSCHEDULABLE: None},
            {"unschedulable": True, WAS_UNSCHEDULABLE: "false"},
        )
    ]
    again = cordon(rec, NODE)
    assert again.status == "unchanged" and rec.patches == []

    back = uncordon(kube, NODE, changes=changes)
    assert back.status == "uncordoned" and not back.unschedulable
    assert _node(kube) == (False, {})
    assert len(changes) == 2
    again = uncordon(rec, NODE)
    assert again.status == "unchanged" and rec.patches == []


def test_a_node_cordoned_before_stays_cordoned_after_uncordon(kube: KubeCluster) -> None:
    kube.patch("nodes", "", NODE, {"spec": {"unschedulable": True}})  # maintenance, not irkit
    result = cordon(kube, NODE)
    assert result.status == "unchanged"
    assert _node(kube) == (True, {WAS_UNSCHEDULABLE: "true"})
    back = uncordon(kube, NODE)
    assert back.status == "unchanged" and back.unschedulable
    assert _node(kube) == (True, {})


def test_uncordon_leaves_a_node_irkit_did_not_cordon(kube: KubeCluster, rec: Recording) -> None:
    kube.patch("nodes", "", NODE, {"spec": {"unschedulable": True}})
    with pytest.raises(Conflict, match=f'"{NODE}" is cordoned, but not by irkit') as err:
        uncordon(rec, NODE)
    assert err.value.hint is not None and "kubectl uncordon" in err.value.hint
    assert rec.patches == [] and _node(kube) == (True, {})


def test_uncordon_refuses_a_record_it_cannot_read(kube: KubeCluster) -> None:
    kube.patch("nodes", "", NODE, {"metadata": {"annotations": {WAS_UNSCHEDULABLE: "maybe"}}})
    with pytest.raises(Conflict, match='not "true" or "false"'):
        uncordon(kube, NODE)


def test_cordon_dry_run_changes_nothing(kube: KubeCluster) -> None:
    result = cordon(kube, NODE, dry_run=True)
    assert result.dry_run and result.status == "cordoned" and result.unschedulable
    assert len(result.changes) == 1
    assert _node(kube) == (False, {})


def test_missing_node_is_named(kube: KubeCluster) -> None:
    with pytest.raises(NotFound, match='node "ghost-node" not found'):
        cordon(kube, "ghost-node")
    with pytest.raises(NotFound, match='node "ghost-node" not found'):
        uncordon(kube, "ghost-node")


def test_bad_node_name_is_a_usage_error(rec: Recording) -> None:
    with pytest.raises(UsageError, match="not a valid Kubernetes node name"):
        cordon(rec, "Node_1")


class Racing(Recording):
    """Someone else cordons the node between irkit's read and irkit's first patch."""

    def patch(self, kind: str, namespace: str, name: str, patch: Any, **kw: Any) -> Any:
        if not self.patches:
            self.inner.patch(kind, namespace, name, {"spec": {"unschedulable": True}})
        return super().patch(kind, namespace, name, patch, **kw)


def test_cordon_rereads_after_a_concurrent_change(kube: KubeCluster) -> None:
    racing = Racing(kube)
    result = cordon(racing, NODE)
    assert len(racing.patches) == 2  # the first was refused (stale resourceVersion)
    assert result.status == "unchanged"
    # The record says what was really there before irkit: cordoned.
    assert _node(kube) == (True, {WAS_UNSCHEDULABLE: "true"})
