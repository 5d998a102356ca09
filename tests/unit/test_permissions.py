"""The permission tables say exactly what the actions do: checked against irkit.sim's audit log.

Every action runs, for every kind of target it takes and with its options on and off, against
a fresh simulated cluster, as a user of its own; the audit log of that user's requests is then
compared with ``irkit.runbook.permissions``:

- every request (verb, API group, resource, subresource, and its namespace: the target's, or
  none for cluster-scoped and all-namespace requests) must be covered by what the table declares
  for that action, target kind and options: preflight and the RBAC irkit prints rely on it;
- every permission the table declares must be used by at least one run, or be listed in
  ``DECLARED_UNUSED`` with the reason no run here can reach it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import SCENARIO
from helpers import cluster_for

from irkit.actions.collect import Collector, collect
from irkit.actions.cordon import cordon, uncordon
from irkit.actions.isolate import IsolateRequest, isolate
from irkit.actions.label import label
from irkit.actions.needs import SELECTOR, Permission, perm
from irkit.actions.netpol import AllowList
from irkit.actions.release import release
from irkit.actions.scale import restore, scale
from irkit.cluster.kube import KubeCluster
from irkit.model.target import Target, parse_target
from irkit.runbook.model import Action
from irkit.runbook.permissions import PERMISSIONS, permissions
from irkit.settings import RetrySettings
from irkit.sim import SimCluster

NS = "production"
FAST = RetrySettings(attempts=2, backoff_initial=0.01, backoff_max=0.05)
# Declared on purpose although no run below makes the request; each with the reason.
_NAMESPACE_WHEN_MISSING = "resolve reads the namespace only when the target is not found"
DECLARED_UNUSED: dict[Action, dict[Permission, str]] = {
    Action.ISOLATE: {
        perm("get", "namespaces"): _NAMESPACE_WHEN_MISSING,
        perm("get", "networkpolicies"): "isolate reads its own policy again only after a 409 "
        "(created or changed by someone else meanwhile); no run here races",
    },
    Action.RELEASE: {perm("get", "namespaces"): _NAMESPACE_WHEN_MISSING},
    Action.COLLECT: {perm("get", "namespaces"): _NAMESPACE_WHEN_MISSING},
    Action.LABEL: {perm("get", "namespaces"): _NAMESPACE_WHEN_MISSING},
    Action.ANNOTATE: {perm("get", "namespaces"): _NAMESPACE_WHEN_MISSING},
    Action.SCALE: {
        perm("get", "replicasets"): "scale --wait reads a Deployment's ReplicaSets only while its "
        "pods are still terminating; the simulator removes them at once",
    },
}

Used = tuple[str, str, str, str, str]  # verb, group, resource, subresource, namespace
Step = Callable[[KubeCluster, Target, Path], object]


@dataclass(frozen=True)
class Run:
    """One action run: ``before`` (as the admin) sets the stage, ``step`` runs as the user."""

    action: Action
    ref: str  # KIND/NAME, -l SELECTOR, or node/NAME for cordon
    options: dict[str, bool] = field(default_factory=dict)
    step: Step | None = None
    before: Step | None = None

    @property
    def id(self) -> str:
        on = [k for k, v in self.options.items() if v]
        return f"{self.action}:{self.ref}" + (f"+{'+'.join(on)}" if on else "")

    @property
    def kind(self) -> str | None:
        if self.action in (Action.CORDON, Action.UNCORDON):
            return None
        return SELECTOR if self.ref.startswith("-l ") else self.ref.partition("/")[0] + "s"


def _req(**kw: Any) -> IsolateRequest:
    return IsolateRequest(incident="inc-7", actor="test", command="irkit isolate", **kw)


def _isolate_twice(c: KubeCluster, t: Target, _: Path) -> None:
    isolate(c, t, _req())
    isolate(c, t, _req(allow=AllowList(dns=True)))  # changed options: patches its own policy


def _isolate(**kw: Any) -> Step:
    return lambda c, t, _: isolate(c, t, _req(**kw))


def _collect(c: KubeCluster, t: Target, tmp: Path) -> None:
    collect(
        c,
        t,
        out_dir=tmp / "evidence",
        incident="inc-7",
        concurrency=4,
        collector=Collector("host", "user", "irkit collect"),
    )


def _snapshot(c: KubeCluster, t: Target, tmp: Path) -> None:
    collect(
        c,
        t,
        out_dir=tmp / "evidence",
        incident="inc-7",
        collector=Collector("host", "user", "irkit collect --state-only"),
        state_only=True,
    )


def _scale(**kw: Any) -> Step:
    return lambda c, t, _: scale(c, t, incident="inc-7", wait_timeout=10, **kw)


def _restore(**kw: Any) -> Step:
    return lambda c, t, _: restore(c, t, wait_timeout=10, **kw)


def _label(annotate: bool) -> Step:
    return lambda c, t, _: label(c, t, set={"irkit-suspect": "yes"}, remove=[], annotate=annotate)


def _node(step: Callable[..., object]) -> Step:
    return lambda c, t, _: step(c, t.name)


def _cordoned(c: KubeCluster, t: Target, _: Path) -> None:
    cordon(c, str(t.name))


TARGETS = (
    "deployment/api-server",
    "statefulset/db",
    "daemonset/node-agent",
    "replicaset/{replicaset}",
    "pod/{pod}",
    "-l app=frontend",
)
RUNS: tuple[Run, ...] = (
    Run(Action.ISOLATE, "deployment/api-server", {"detach": False}, _isolate_twice),
    *(Run(Action.ISOLATE, r, {"detach": False}, _isolate()) for r in TARGETS[1:4]),
    Run(Action.ISOLATE, "pod/{pod}", {"detach": True}, _isolate(scope="pod", detach=True)),
    Run(Action.ISOLATE, "-l app=frontend", {"detach": False}, _isolate()),
    *(
        Run(Action.RELEASE, r, step=lambda c, t, _: release(c, t), before=_isolate())
        for r in TARGETS
    ),
    *(Run(Action.COLLECT, r, step=_collect) for r in TARGETS),
    *(Run(Action.SNAPSHOT, r, step=_snapshot) for r in TARGETS),
    *(Run(Action.LABEL, r, step=_label(False)) for r in TARGETS),
    *(Run(Action.ANNOTATE, r, step=_label(True)) for r in TARGETS),
    Run(
        Action.SCALE,
        "deployment/api-server",
        {"force": True, "wait": True},
        _scale(force=True, wait=True),
    ),
    Run(Action.SCALE, "statefulset/db", {"force": False, "wait": False}, _scale()),
    Run(
        Action.SCALE,
        "-l tier=backend",
        {"force": True, "wait": True},
        _scale(force=True, wait=True),
    ),
    Run(
        Action.RESTORE,
        "deployment/api-server",
        {"wait": True},
        _restore(wait=True),
        before=_scale(force=True),
    ),
    Run(Action.RESTORE, "statefulset/db", {"wait": False}, _restore(), before=_scale()),
    Run(
        Action.RESTORE,
        "-l tier=backend",
        {"wait": True},
        _restore(wait=True),
        before=_scale(force=True),
    ),
    Run(Action.CORDON, "node/{node}", step=_node(cordon)),
    Run(Action.UNCORDON, "node/{node}", step=_node(uncordon), before=_cordoned),
)


# ---- the stage -----------------------------------------------------------------------------
def _stage(admin: KubeCluster) -> dict[str, str]:
    """A StatefulSet, a DaemonSet and an HPA beside the scenario's Deployments, and more RBAC
    for the api-server ServiceAccount: a ClusterRole, and a Role in another namespace."""
    for kind, obj in (
        ("statefulsets", _workload("StatefulSet", "db", replicas=2)),
        ("daemonsets", _workload("DaemonSet", "node-agent")),
        ("horizontalpodautoscalers", _hpa()),
    ):
        admin.create(kind, NS, obj)
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    admin.create("clusterroles", "", _rbac("ClusterRole", "pod-reader", rules=rules))
    admin.create("rolebindings", NS, _rbac("RoleBinding", "api-server-pods", ref="ClusterRole"))
    admin.create("roles", "default", _rbac("Role", "elsewhere", rules=rules))
    admin.create("rolebindings", "default", _rbac("RoleBinding", "elsewhere", ref="Role"))
    pod = admin.list("pods", NS, labels="app=api-server")[0]
    rs = admin.list("replicasets", NS, labels="app=api-server")[0]
    return {
        "pod": pod["metadata"]["name"],
        "replicaset": rs["metadata"]["name"],
        "node": pod["spec"]["nodeName"],
    }


def _workload(kind: str, name: str, replicas: int | None = None) -> dict[str, Any]:
    labels = {"app": name, "tier": "backend"}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "main", "image": "registry.example.com/x:1"}]},
        },
    }
    if replicas is not None:
        spec |= {"replicas": replicas, "serviceName": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def _rbac(kind: str, name: str, *, rules: Any = None, ref: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
    }
    if rules is not None:
        obj["rules"] = rules
    if ref:
        role = "pod-reader" if ref == "ClusterRole" else name
        obj["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": ref, "name": role}
        obj["subjects"] = [{"kind": "ServiceAccount", "name": "api-server", "namespace": NS}]
    return obj


def _hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api-server"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api-server"},
            "minReplicas": 2,
            "maxReplicas": 5,
        },
    }


def _target(ref: str, names: dict[str, str]) -> Target:
    ref = ref.format(**names)
    if ref.startswith("node/"):
        return Target("", "nodes", ref.partition("/")[2])
    if ref.startswith("-l "):
        return parse_target(NS, None, ref[3:])
    return parse_target(NS, ref, None)


def audit_of(sim: SimCluster, user: str) -> set[Used]:
    """The user's requests, once every request served is in the log. The simulator counts a
    request and logs it just after replying: the client may see the reply a moment before
    either happens, hence the settle time before counting."""
    time.sleep(0.05)
    deadline = time.monotonic() + 5
    while True:
        lines = sim.audit_log_path.read_text().splitlines()
        if len(lines) >= sim.requests_served or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    out: set[Used] = set()
    for line in lines:
        event = json.loads(line)
        if event["user"]["username"] != user:
            continue
        if event["requestURI"] == "/version":  # custody's server version: open to everyone
            continue
        ref = event.get("objectRef") or {}
        out.add(
            (
                event["verb"],
                ref.get("apiGroup", ""),
                ref.get("resource", ""),
                ref.get("subresource", ""),
                ref.get("namespace", ""),
            )
        )
    return out


@dataclass
class Outcome:
    used: set[Used] = field(default_factory=set)
    error: str = ""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Each run on a fresh simulated cluster: nothing one run does can hide another's needs."""
    out: dict[str, Outcome] = {}
    for run in RUNS:
        tmp = tmp_path_factory.mktemp("run")
        with SimCluster(SCENARIO, audit_log=tmp / "audit.log") as sim:
            sim.add_user("responder", groups=("system:masters",))
            admin = cluster_for(sim, retry=FAST)
            names = _stage(admin)
            target = _target(run.ref, names)
            outcome = out[run.id] = Outcome()
            try:
                if run.before is not None:
                    run.before(admin, target, tmp)
                assert run.step is not None
                run.step(cluster_for(sim, "responder", tmp, retry=FAST), target, tmp)
            except Exception as e:  # reported by the run's own test
                outcome.error = f"{type(e).__name__}: {e}"
            outcome.used = audit_of(sim, "responder")
    return out


def covering(used: Used, declared: list[Permission]) -> Permission | None:
    verb, group, resource, sub, namespace = used
    for p in declared:
        if (p.verb, p.group, p.resource, p.subresource) != (verb, group, resource, sub):
            continue
        # namespaced: a request in the target's namespace; else cluster-scoped or everywhere
        if not p.namespaced or namespace == NS:
            return p
    return None


def _fmt(used: Used) -> str:
    verb, group, resource, sub, namespace = used
    what = f"{resource}.{group}" if group else resource
    return f"{verb} {what}{'/' + sub if sub else ''} in {namespace or '(all/cluster)'}"


@pytest.mark.parametrize("run", RUNS, ids=[r.id for r in RUNS])
def test_every_request_is_declared(run: Run, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[run.id]
    assert not outcome.error, f"{run.id} failed: {outcome.error}"
    assert outcome.used, f"{run.id}: no request of the user in the audit log"
    declared = permissions(run.action, run.kind, run.options)
    undeclared = sorted(_fmt(u) for u in outcome.used if covering(u, declared) is None)
    assert not undeclared, f"{run.id} made requests its table does not declare: {undeclared}"


def test_every_declared_permission_is_used(outcomes: dict[str, Outcome]) -> None:
    unused: dict[str, list[str]] = {}
    for action, needs in PERMISSIONS.items():
        runs = [r for r in RUNS if r.action == action]
        if not needs:
            continue
        assert runs, f"no run exercises {action}"
        matched = {
            covering(u, permissions(action, r.kind, r.options))
            for r in runs
            for u in outcomes[r.id].used
        }
        expected = set(DECLARED_UNUSED.get(action, {}))
        left = {n.permission for n in needs} - matched - expected
        if left:
            unused[action] = sorted(f"{p}{'' if p.namespaced else ' (cluster)'}" for p in left)
    assert not unused, f"declared but used by no run: {unused}"


def test_actions_without_cluster_requests_declare_none() -> None:
    assert PERMISSIONS[Action.NOTIFY] == PERMISSIONS[Action.WAIT] == PERMISSIONS[Action.RCA] == ()


def test_the_check_can_fail(outcomes: dict[str, Outcome]) -> None:
    """A table missing one permission is caught: drop ``create networkpolicies`` from isolate."""
    run = RUNS[0]
    declared = [p for p in permissions(run.action, run.kind, run.options) if p.verb != "create"]
    missed = [u for u in outcomes[run.id].used if covering(u, declared) is None]
    assert [_fmt(u) for u in missed] == [f"create networkpolicies.networking.k8s.io in {NS}"]
