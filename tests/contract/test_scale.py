"""scale / restore against irkit.sim through the real Kubernetes adapter."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import cluster_for

from irkit.actions.scale import (
    ORIGINAL_HPAS,
    ORIGINAL_REPLICAS,
    SCALED_BY_INCIDENT,
    restore,
    scale,
)
from irkit.cluster.kube import KubeCluster
from irkit.errors import Conflict, Forbidden, NotFound, PartialError, UsageError
from irkit.model.journal import Change
from irkit.model.target import parse_target
from irkit.sim import SimCluster

NS = "production"
API = parse_target(NS, "deployment/api-server", None)


def _pods(c: KubeCluster, app: str) -> list[dict[str, Any]]:
    return c.list("pods", NS, labels=f"app={app}")


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})


def _hpa(name: str = "api-server", target: str = "api-server", kind: str = "Deployment") -> Any:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": {"team": "shop"}, "annotations": {"note": "peak"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "minReplicas": 2,
            "maxReplicas": 7,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def _statefulset(c: KubeCluster, name: str = "cache", replicas: int = 2) -> None:
    c.create(
        "statefulsets",
        NS,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name, "labels": {"tier": "backend"}},
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "redis", "image": "redis:7"}]},
                },
            },
        },
    )


def test_scale_to_zero_records_then_restore_puts_back(sim: SimCluster) -> None:
    c = cluster_for(sim)
    changes: list[Change] = []
    result = scale(c, API, incident="inc-1", changes=changes)
    (w,) = result.workloads
    assert (w.ref, w.before, w.after, w.status) == ("deployment/api-server", 3, 0, "scaled")
    dep = c.get("deployments", NS, "api-server")
    assert dep["spec"]["replicas"] == 0
    assert _annotations(dep)[ORIGINAL_REPLICAS] == "3"
    assert _annotations(dep)[SCALED_BY_INCIDENT] == "inc-1"
    assert _pods(c, "api-server") == []
    assert len(_pods(c, "frontend")) == 2  # nothing else touched
    assert [(ch.action, ch.kind) for ch in changes] == [("patch", "Deployment")] * 2
    assert changes[1].before == {"replicas": 3} and changes[1].after == {"replicas": 0}
    assert changes[0].after == {
        "annotations": {ORIGINAL_REPLICAS: "3", SCALED_BY_INCIDENT: "inc-1"}
    }

    back: list[Change] = []
    restored = restore(c, API, changes=back)
    (r,) = restored.workloads
    assert (r.before, r.after, r.status) == (0, 3, "restored")
    assert restored.incident == "inc-1"
    dep = c.get("deployments", NS, "api-server")
    assert dep["spec"]["replicas"] == 3
    assert not set(_annotations(dep)) & {ORIGINAL_REPLICAS, SCALED_BY_INCIDENT, ORIGINAL_HPAS}
    assert len(_pods(c, "api-server")) == 3
    assert back[0].before == {"replicas": 0} and back[0].after == {"replicas": 3}


def test_second_scale_keeps_the_original_and_changes_nothing(sim: SimCluster) -> None:
    c = cluster_for(sim)
    scale(c, API, incident="inc-1")
    before = c.get("deployments", NS, "api-server")
    changes: list[Change] = []
    again = scale(c, API, incident="inc-2", changes=changes)
    assert [w.status for w in again.workloads] == ["unchanged"] and not again.changed
    assert changes == []
    after = c.get("deployments", NS, "api-server")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert _annotations(after)[ORIGINAL_REPLICAS] == "3"


def test_scale_down_in_two_steps_remembers_the_first_original(sim: SimCluster) -> None:
    c = cluster_for(sim)
    scale(c, API, replicas=1, incident="inc-1")
    assert len(_pods(c, "api-server")) == 1
    scale(c, API, replicas=0, incident="inc-1")
    assert _annotations(c.get("deployments", NS, "api-server"))[ORIGINAL_REPLICAS] == "3"
    restore(c, API)
    assert c.get("deployments", NS, "api-server")["spec"]["replicas"] == 3


def test_restore_without_records_is_a_no_op(sim: SimCluster) -> None:
    c = cluster_for(sim)
    before = c.get("deployments", NS, "api-server")
    result = restore(c, API)
    assert [w.status for w in result.workloads] == ["unchanged"] and not result.changed
    scale(c, API, incident="inc-1")
    restore(c, API)
    middle = c.get("deployments", NS, "api-server")
    again = restore(c, API)
    assert not again.changed
    after = c.get("deployments", NS, "api-server")
    assert after["metadata"]["resourceVersion"] == middle["metadata"]["resourceVersion"]
    assert before["spec"] == after["spec"]


def test_statefulset(sim: SimCluster) -> None:
    c = cluster_for(sim)
    _statefulset(c)
    assert len(_pods(c, "cache")) == 2
    target = parse_target(NS, "sts/cache", None)
    (w,) = scale(c, target, incident="inc-1").workloads
    assert (w.kind, w.before, w.after) == ("statefulset", 2, 0)
    assert c.get("statefulsets", NS, "cache")["spec"]["replicas"] == 0
    assert _pods(c, "cache") == []
    restore(c, target)
    assert sorted(p["metadata"]["name"] for p in _pods(c, "cache")) == ["cache-0", "cache-1"]


def test_selector_matches_workload_labels(sim: SimCluster) -> None:
    c = cluster_for(sim)
    _statefulset(c)  # labelled tier=backend, like api-server
    target = parse_target(NS, None, "tier in (backend, web)")
    result = scale(c, target, incident="inc-1")
    refs = sorted(w.ref for w in result.workloads)
    assert refs == ["deployment/api-server", "deployment/frontend", "statefulset/cache"]
    assert c.list("pods", NS) == []
    restore(c, target)
    assert len(c.list("pods", NS)) == 3 + 2 + 2


def test_selector_for_pod_labels_only_finds_nothing(sim: SimCluster) -> None:
    c = cluster_for(sim)
    c.patch("deployments", NS, "frontend", {"metadata": {"labels": {"tier": None}}})
    # The pods still carry tier=web (template labels); the workload no longer does.
    with pytest.raises(NotFound, match="labels matching -l tier=web") as e:
        scale(c, parse_target(NS, None, "tier=web"), incident="inc-1")
    assert "own labels" in (e.value.hint or "")
    assert len(_pods(c, "frontend")) == 2


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("daemonset/node-agent", "DaemonSet runs one pod per node"),
        ("pod/api-server-x", "bare pod has no replicas"),
        ("rs/api-server-x", "owned by its Deployment"),
    ],
)
def test_unscalable_kinds_point_to_isolate(sim: SimCluster, ref: str, why: str) -> None:
    c = cluster_for(sim)
    before = sim.requests_served
    with pytest.raises(UsageError, match=why) as e:
        scale(c, parse_target(NS, ref, None), incident="inc-1")
    assert "irkit isolate" in str(e.value) and (e.value.hint or "").startswith("irkit isolate")
    assert sim.requests_served == before  # refused before asking the cluster anything


def test_selector_reports_matching_daemonsets(sim: SimCluster) -> None:
    c = cluster_for(sim)
    c.create(
        "daemonsets",
        NS,
        {
            "metadata": {"name": "node-agent", "labels": {"tier": "backend"}},
            "spec": {
                "selector": {"matchLabels": {"app": "node-agent"}},
                "template": {
                    "metadata": {"labels": {"app": "node-agent"}},
                    "spec": {"containers": [{"name": "a", "image": "agent:1"}]},
                },
            },
        },
    )
    result = scale(c, parse_target(NS, None, "tier=backend"), incident="inc-1")
    assert [w.ref for w in result.workloads] == ["deployment/api-server"]
    assert result.skipped == ("daemonset/node-agent",)


def test_hpa_refused_without_force_then_saved_and_recreated(sim: SimCluster) -> None:
    c = cluster_for(sim)
    c.create("horizontalpodautoscalers", NS, _hpa())
    c.create("horizontalpodautoscalers", NS, _hpa("other", target="frontend"))
    original = c.get("horizontalpodautoscalers", NS, "api-server")
    with pytest.raises(Conflict, match='horizontalpodautoscaler "api-server"') as e:
        scale(c, API, incident="inc-1")
    assert "scale it straight back up" in str(e.value) and "--force" in (e.value.hint or "")
    dep = c.get("deployments", NS, "api-server")
    assert dep["spec"]["replicas"] == 3 and ORIGINAL_REPLICAS not in _annotations(dep)

    changes: list[Change] = []
    (w,) = scale(c, API, force=True, incident="inc-1", changes=changes).workloads
    assert [(h.name, h.action, h.min_replicas, h.max_replicas) for h in w.hpas] == [
        ("api-server", "removed", 2, 7)
    ]
    with pytest.raises(NotFound):
        c.get("horizontalpodautoscalers", NS, "api-server")
    c.get("horizontalpodautoscalers", NS, "other")  # not the workload's: left alone
    saved = json.loads(_annotations(c.get("deployments", NS, "api-server"))[ORIGINAL_HPAS])
    assert saved[0]["spec"] == original["spec"]
    deleted = next(ch for ch in changes if ch.action == "delete")
    assert deleted.before is not None
    assert (deleted.before["minReplicas"], deleted.before["maxReplicas"]) == (2, 7)

    back: list[Change] = []
    (r,) = restore(c, API, changes=back).workloads
    assert [h.action for h in r.hpas] == ["recreated"]
    again = c.get("horizontalpodautoscalers", NS, "api-server")
    assert again["spec"] == original["spec"]
    assert again["metadata"]["labels"] == original["metadata"]["labels"]
    assert again["metadata"]["annotations"] == original["metadata"]["annotations"]
    assert c.get("deployments", NS, "api-server")["spec"]["replicas"] == 3
    created = next(ch for ch in back if ch.action == "create")
    assert created.after is not None and created.after["spec"] == original["spec"]
    assert not restore(c, API).changed


def test_hpa_for_another_kind_or_group_does_not_block(sim: SimCluster) -> None:
    c = cluster_for(sim)
    c.create("horizontalpodautoscalers", NS, _hpa("sts", kind="StatefulSet"))
    other_group = _hpa("crd")
    other_group["spec"]["scaleTargetRef"]["apiVersion"] = "example.com/v1"
    c.create("horizontalpodautoscalers", NS, other_group)
    assert scale(c, API, incident="inc-1").changed


def test_hpa_owned_by_a_controller_is_refused_even_with_force(sim: SimCluster) -> None:
    c = cluster_for(sim)
    owned = _hpa("keda-hpa-api")
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "api", "uid": "u1"}
    ]
    c.create("horizontalpodautoscalers", NS, owned)
    with pytest.raises(Conflict, match="ScaledObject/api"):
        scale(c, API, force=True, incident="inc-1")
    c.get("horizontalpodautoscalers", NS, "keda-hpa-api")


def test_restore_refuses_to_overwrite_a_new_hpa(sim: SimCluster) -> None:
    c = cluster_for(sim)
    c.create("horizontalpodautoscalers", NS, _hpa())
    scale(c, API, force=True, incident="inc-1")
    changed = _hpa()
    changed["spec"]["maxReplicas"] = 50
    c.create("horizontalpodautoscalers", NS, changed)
    with pytest.raises(Conflict, match="exists again with another spec"):
        restore(c, API)
    assert c.get("deployments", NS, "api-server")["spec"]["replicas"] == 0  # checked first


def test_dry_run_changes_nothing(sim: SimCluster) -> None:
    c = cluster_for(sim)
    c.create("horizontalpodautoscalers", NS, _hpa())

    def snapshot() -> list[Any]:
        return [
            c.get("deployments", NS, "api-server"),
            c.list("horizontalpodautoscalers", NS),
            sorted(p["metadata"]["name"] for p in _pods(c, "api-server")),
        ]

    before = snapshot()
    changes: list[Change] = []
    result = scale(c, API, force=True, dry_run=True, incident="inc-1", changes=changes)
    (w,) = result.workloads
    assert result.dry_run and (w.before, w.after, w.status) == (3, 0, "scaled")
    assert {ch.action for ch in changes} == {"patch", "delete"}
    assert snapshot() == before

    scale(c, API, force=True, incident="inc-1")
    scaled = snapshot()
    (r,) = restore(c, API, dry_run=True).workloads
    assert (r.before, r.after, r.status) == (0, 3, "restored")
    assert snapshot() == scaled


def test_wait_returns_when_pods_are_gone_and_times_out_when_one_stays(sim: SimCluster) -> None:
    c = cluster_for(sim)
    scale(c, API, wait=True, wait_timeout=5, incident="inc-1")
    assert _pods(c, "api-server") == []
    # A pod the controller does not remove stands in for one stuck terminating.
    front = c.get("deployments", NS, "frontend")
    stuck = {
        "metadata": {
            "name": "frontend-stuck",
            "labels": {"app": "frontend"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "frontend",
                    "uid": front["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "web", "image": "web:1"}]},
    }
    c.create("pods", NS, stuck)
    target = parse_target(NS, "deployment/frontend", None)
    with pytest.raises(PartialError, match=r"deployment/frontend still has 1 pod \(want 0\)"):
        scale(c, target, wait=True, wait_timeout=0.3, incident="inc-1")
    assert c.get("deployments", NS, "frontend")["spec"]["replicas"] == 0


def test_restore_wait_sees_pods_ready(sim: SimCluster) -> None:
    c = cluster_for(sim)
    scale(c, API, incident="inc-1")
    restore(c, API, wait=True, wait_timeout=5)
    assert len(_pods(c, "api-server")) == 3


def test_forbidden_for_a_limited_user(sim: SimCluster, tmp_path: Path) -> None:
    sim.add_user("intern", ())
    c = cluster_for(sim, "intern", tmp_path)
    with pytest.raises(Forbidden, match='user "intern" may not'):
        scale(c, API, incident="inc-1")


def test_forbidden_on_the_scale_itself_leaves_the_record(sim: SimCluster, tmp_path: Path) -> None:
    admin = cluster_for(sim)
    admin.create(
        "clusterroles",
        "",
        {
            "metadata": {"name": "annotator"},
            "rules": [
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
                {
                    "apiGroups": ["apps"],
                    "resources": ["deployments"],
                    "verbs": ["get", "list", "patch"],
                },
                {
                    "apiGroups": ["autoscaling"],
                    "resources": ["horizontalpodautoscalers"],
                    "verbs": ["list"],
                },
            ],
        },
    )
    admin.create(
        "clusterrolebindings",
        "",
        {
            "metadata": {"name": "annotator"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "annotator",
            },
            "subjects": [{"kind": "User", "name": "annotator"}],
        },
    )
    sim.add_user("annotator", ())
    c = cluster_for(sim, "annotator", tmp_path)
    changes: list[Change] = []
    with pytest.raises(Forbidden, match="deployments/scale"):
        scale(c, API, incident="inc-1", changes=changes)
    # The record went first: the journal shows it, and a retry by someone allowed still knows 3.
    assert [ch.after for ch in changes] == [
        {"annotations": {ORIGINAL_REPLICAS: "3", SCALED_BY_INCIDENT: "inc-1"}}
    ]
    assert scale(admin, API, incident="inc-1").workloads[0].before == 3
    assert _annotations(admin.get("deployments", NS, "api-server"))[ORIGINAL_REPLICAS] == "3"


def test_missing_namespace_and_workload(sim: SimCluster) -> None:
    c = cluster_for(sim)
    with pytest.raises(NotFound, match='namespace "x" not found'):
        scale(c, parse_target("x", "deployment/api-server", None), incident="inc-1")
    with pytest.raises(NotFound, match='deployment "nope" not found in namespace "production"'):
        scale(c, parse_target(NS, "deployment/nope", None), incident="inc-1")


def test_survives_bursts_of_429(sim: SimCluster) -> None:
    c = cluster_for(sim)
    throttled = sim.inject(resource="deployments", status=429, retry_after=0, count=3)
    scale(c, API, incident="inc-1")
    assert sim.faults.fired_count(throttled) == 3
    scaling = sim.inject(resource="deployments/scale", status=429, retry_after=0, count=3)
    restore(c, API)
    assert sim.faults.fired_count(scaling) == 3
    assert len(_pods(c, "api-server")) == 3


def test_conflicting_record_is_retried_from_a_fresh_read(sim: SimCluster) -> None:
    """Someone else records first between our read and our write: their original wins."""
    c = cluster_for(sim)
    stale = c.get("deployments", NS, "api-server")
    c.patch(
        "deployments", NS, "api-server", {"metadata": {"annotations": {ORIGINAL_REPLICAS: "5"}}}
    )

    class Stale:
        """The port, but the first read of the deployment is the stale copy."""

        def __init__(self) -> None:
            self.identity = c.identity
            self.served = False

        def get(self, kind: str, namespace: str, name: str, subresource: str = "") -> Any:
            if kind == "deployments" and not self.served:
                self.served = True
                return copy.deepcopy(stale)
            return c.get(kind, namespace, name, subresource)

        def __getattr__(self, name: str) -> Any:
            return getattr(c, name)

    scale(Stale(), API, incident="inc-1")  # type: ignore[arg-type]
    assert _annotations(c.get("deployments", NS, "api-server"))[ORIGINAL_REPLICAS] == "5"
