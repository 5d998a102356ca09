"""kubectl's conventions, end to end on irkit.sim (issue 7, item 8): the context's namespace
without -n, -o json|yaml, group-qualified kinds, kubeconfig errors that name files and
contexts, and not-found errors that suggest names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from irkit.sim import SimCluster


def irkit(
    tmp_path: Path, *args: str, kubeconfig: str | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "irkit", *args]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IRKIT_JOURNAL": str(tmp_path / "j")}
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, check=False, env=env, cwd=tmp_path
    )


def _production_kubeconfig(sim: SimCluster, tmp_path: Path) -> str:
    path = tmp_path / "prod.kubeconfig"
    path.write_text(yaml.safe_dump(sim.kubeconfig(namespace="production")))
    return str(path)


def test_without_n_the_contexts_namespace_is_used(sim: SimCluster, tmp_path: Path) -> None:
    kubeconfig = _production_kubeconfig(sim, tmp_path)
    out = irkit(tmp_path, "isolate", "deploy/api-server", "-o", "json", kubeconfig=kubeconfig)
    assert out.returncode == 3, out.stderr  # partial: the scenario's allow-frontend-to-api
    assert json.loads(out.stdout)["namespace"] == "production"
    # -n still wins over the context
    other = irkit(tmp_path, "isolate", "deploy/api-server", "-n", "default", kubeconfig=kubeconfig)
    assert other.returncode == 4 and "not found" in other.stderr


def test_yaml_output_is_the_json_data(sim: SimCluster, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig_path
    args = ("isolate", "deployment.apps/api-server", "-n", "production", "--dry-run", "-i", "i-1")
    as_json = json.loads(irkit(tmp_path, *args, "-o", "json", kubeconfig=kubeconfig).stdout)
    out = irkit(tmp_path, *args, "-o", "yaml", kubeconfig=kubeconfig)
    assert out.returncode == 3, out.stderr  # partial: the scenario's allow-frontend-to-api
    assert yaml.safe_load(out.stdout) == as_json and as_json["dry_run"] is True


def test_a_mistyped_name_gets_a_suggestion(sim: SimCluster, tmp_path: Path) -> None:
    for command in ("isolate", "scale", "collect"):
        out = irkit(
            tmp_path,
            command,
            "deployment/api-servr",
            "-n",
            "production",
            kubeconfig=sim.kubeconfig_path,
        )
        assert out.returncode == 4, out.stderr
        assert out.stderr.startswith(
            "ERROR deployment 'api-servr' not found in namespace production "
            "(did you mean 'api-server'?)"
        ), (command, out.stderr)
    far = irkit(
        tmp_path, "isolate", "deploy/zzzzzz", "-n", "production", kubeconfig=sim.kubeconfig_path
    )
    assert far.returncode == 4 and "deployments there: api-server, frontend" in far.stderr


def test_an_unknown_context_lists_the_contexts(sim: SimCluster, tmp_path: Path) -> None:
    out = irkit(
        tmp_path,
        "isolate",
        "deploy/api-server",
        "-n",
        "production",
        "--context",
        "irkit-sm",
        kubeconfig=sim.kubeconfig_path,
    )
    assert out.returncode == 2
    assert f"context 'irkit-sm' not found in {sim.kubeconfig_path} (did you mean 'irkit-sim'?)" in (
        out.stderr
    )
    assert "contexts there: irkit-sim, irkit-sim-oncall-viewer" in out.stderr


def test_no_kubeconfig_names_the_file_tried(tmp_path: Path) -> None:
    out = irkit(tmp_path, "isolate", "deploy/api-server", "-n", "production")
    assert out.returncode == 2
    assert f"no kubeconfig file found (tried {tmp_path}/.kube/config)" in out.stderr


def test_validate_and_rbac_speak_json_too(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    runbook = str(root / "runbooks" / "compromised-pod.yaml")
    checked = irkit(tmp_path, "validate", runbook, "-o", "json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "runbooks": [runbook],
        "valid": True,
        "errors": 0,
        "warnings": 0,
        "findings": [],
    }
    rbac = irkit(tmp_path, "rbac", runbook, "-o", "json")
    assert rbac.returncode == 0, rbac.stderr
    listed = json.loads(rbac.stdout)
    assert listed["kind"] == "List" and {i["kind"] for i in listed["items"]} >= {"ClusterRole"}
    assert irkit(tmp_path, "rbac", runbook, "-o", "xml").returncode == 2
