"""``irkit preflight`` and ``irkit rbac`` against irkit.sim: real SelfSubjectAccessReviews, and
the printed RBAC applied with kubectl, then used by a ServiceAccount to run the actions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import invoke
from typer.testing import Result

from irkit.actions.collect import Collector, collect
from irkit.actions.isolate import IsolateRequest, isolate
from irkit.actions.release import release
from irkit.actions.scale import restore, scale
from irkit.cluster.kube import KubeCluster, connect
from irkit.model.target import parse_target
from irkit.settings import ClusterSettings
from irkit.sim import SimCluster

VALID = Path(__file__).resolve().parent.parent / "fixtures" / "runbooks" / "valid"
CONTAIN = str(VALID / "contain-workload.yaml")
FALCO = str(VALID / "falco-shell-pod.yaml")
VIEWER = "irkit-sim-oncall-viewer"
SA = "system:serviceaccount:irkit:responder"
KUBECTL = shutil.which("kubectl")


def preflight(sim: SimCluster, *args: str, kubeconfig: str | None = None) -> Result:
    return invoke("preflight", *args, kubeconfig=kubeconfig or sim.kubeconfig_path)


def rows(result: Result) -> dict[tuple[str, str, str], str]:
    """The text table as {(verb, resource, namespace): "allowed" | "DENIED"}."""
    out = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if cells and cells[0] in ("allowed", "DENIED"):
            out[(cells[1], cells[2], cells[3])] = cells[0]
    return out


def test_admin_may_do_everything(sim: SimCluster) -> None:
    result = preflight(sim, CONTAIN)
    assert result.exit_code == 0, result.output
    table = rows(result)
    assert len(table) == 26 and set(table.values()) == {"allowed"}
    assert table[("create", "networkpolicies.networking.k8s.io", "production")] == "allowed"
    assert "all 26 permissions allowed to sim-admin" in result.stdout


def test_the_viewer_is_denied_and_told_which(sim: SimCluster) -> None:
    result = preflight(sim, CONTAIN, "--context", VIEWER)
    assert result.exit_code == 5, result.output
    table = rows(result)
    assert table[("list", "pods", "production")] == "allowed"
    assert table[("get", "pods/log", "production")] == "allowed"
    assert table[("create", "networkpolicies.networking.k8s.io", "production")] == "DENIED"
    assert table[("patch", "deployments.apps/scale", "production")] == "DENIED"
    assert table[("get", "nodes", "(cluster)")] == "DENIED"
    [error] = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert "19 of 26 permissions denied to oncall-viewer" in error
    assert "create networkpolicies.networking.k8s.io in production" in error
    assert "get nodes cluster-wide" in error
    assert "list pods" not in error


def test_json_for_machines(sim: SimCluster) -> None:
    result = preflight(sim, FALCO, "--context", VIEWER, "-o", "json")
    assert result.exit_code == 5
    report = json.loads(result.stdout)
    assert report["allowed"] is False and report["user"] == "oncall-viewer"
    checks = {(p["verb"], p["resource"], p["namespace"]): p for p in report["permissions"]}
    patch_pods = checks[("patch", "pods", "*")]
    assert patch_pods["allowed"] is False and patch_pods["steps"] == ["isolate", "label"]
    assert "alert" in patch_pods["unresolved"][0]
    assert checks[("get", "pods", "*")]["allowed"] is True
    assert any("defaults to alert data" in a for a in report["assumptions"])


def test_set_narrows_and_typos_are_named(sim: SimCluster) -> None:
    result = preflight(sim, FALCO, "--set", "namespace=production", "-o", "json")
    assert result.exit_code == 0, result.output
    spaces = {p["namespace"] for p in json.loads(result.stdout)["permissions"]}
    assert spaces == {"", "production"}
    typo = preflight(sim, FALCO, "--set", "namespce=production")
    assert typo.exit_code == 2
    assert "unknown param 'namespce'" in typo.stderr and "namespace" in typo.stderr


def test_preflight_of_an_invalid_runbook_is_a_config_error(sim: SimCluster, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: irkit.io/v1\nkind: Runbook\nmetadata: {name: x}\nsteps: []\n")
    result = preflight(sim, str(bad))
    assert result.exit_code == 2 and "bad.yaml:4" in result.stderr


# ---- irkit rbac, applied and used --------------------------------------------------------------
def apply(sim: SimCluster, text: str, tmp_path: Path) -> None:
    """kubectl apply -f, as a reviewer would; the official client when kubectl is missing."""
    if KUBECTL is not None:
        manifest = tmp_path / "rbac.yaml"
        manifest.write_text(text)
        cmd = [KUBECTL, "--kubeconfig", sim.kubeconfig_path, "--cache-dir", str(tmp_path / "kc")]
        done = subprocess.run(
            [*cmd, "apply", "-f", str(manifest)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return
    admin = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    for doc in yaml.safe_load_all(text):
        kind = doc["kind"].lower() + "s"
        admin.create(kind, doc["metadata"].get("namespace", ""), doc)


def service_account(sim: SimCluster, tmp_path: Path) -> str:
    sim.add_user(SA, groups=("system:serviceaccounts", "system:serviceaccounts:irkit"))
    return sim.write_kubeconfig(tmp_path / "responder.kubeconfig", user=SA)


WHOLE = ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]


@pytest.mark.parametrize(
    ("runbook", "sets", "expected_kinds"),
    [
        (CONTAIN, [], WHOLE),
        (FALCO, [], WHOLE[:2]),  # the namespace comes from the alert: cluster-wide
        (FALCO, ["--set", "namespace=production"], WHOLE),
    ],
    ids=["contain", "falco", "falco-in-production"],
)
def test_rbac_applies_and_grants_exactly_what_preflight_asks(
    sim: SimCluster, tmp_path: Path, runbook: str, sets: list[str], expected_kinds: list[str]
) -> None:
    kubeconfig = service_account(sim, tmp_path)
    before = preflight(sim, runbook, *sets, kubeconfig=kubeconfig)
    assert before.exit_code == 5  # nothing granted yet
    printed = invoke("rbac", runbook, *sets, "--service-account", "irkit/responder")
    assert printed.exit_code == 0, printed.output
    assert [d["kind"] for d in yaml.safe_load_all(printed.stdout)] == expected_kinds
    apply(sim, printed.stdout, tmp_path)
    after = preflight(sim, runbook, *sets, "-o", "json", kubeconfig=kubeconfig)
    assert after.exit_code == 0, after.output
    assert all(p["allowed"] for p in json.loads(after.stdout)["permissions"])


def test_the_printed_rbac_is_enough_to_run_the_actions(sim: SimCluster, tmp_path: Path) -> None:
    """No Forbidden, and a complete evidence bundle, with nothing but the printed grants."""
    printed = invoke("rbac", CONTAIN, "--service-account", "irkit/responder")
    apply(sim, printed.stdout, tmp_path)
    responder = connect(ClusterSettings(kubeconfig=service_account(sim, tmp_path)))
    admin = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    admin.create("horizontalpodautoscalers", "production", _hpa())
    _run_contain_workload(responder, tmp_path)


def _run_contain_workload(cluster: KubeCluster, tmp_path: Path) -> None:
    target = parse_target("production", "deployment/api-server", None)
    req = IsolateRequest(incident="inc-1", actor="sa", command="irkit run")
    assert isolate(cluster, target, req).status == "created"
    bundle = collect(
        cluster,
        target,
        out_dir=tmp_path / "evidence",
        incident="inc-1",
        collector=Collector("h", "u", "irkit run"),
    )
    assert bundle.status == "complete", bundle.failures
    assert scale(cluster, target, force=True, incident="inc-1").changed
    assert release(cluster, target).policy_deleted
    assert restore(cluster, target).changed


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
