"""kubectl's conventions, end to end on irkit.sim (issue 7, item 8): the context's namespace
without -n, -o json|yaml, group-qualified kinds, kubeconfig errors that name files and
contexts, and not-found errors that suggest names."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from helpers import IrkitProcess

from irkit.sim import SimCluster


def _production_kubeconfig(sim: SimCluster, tmp_path: Path) -> str:
    path = tmp_path / "prod.kubeconfig"
    path.write_text(yaml.safe_dump(sim.kubeconfig(namespace="production")))
    return str(path)


def test_without_n_the_contexts_namespace_is_used(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    kubeconfig = _production_kubeconfig(sim, tmp_path)
    out = irkit_cli("isolate", "deploy/api-server", "-o", "json", env={"KUBECONFIG": kubeconfig})
    assert out.returncode == 3, out.stderr  # partial: the scenario's allow-frontend-to-api
    assert json.loads(out.stdout)["namespace"] == "production"
    # -n still wins over the context
    other = irkit_cli(
        "isolate", "deploy/api-server", "-n", "default", env={"KUBECONFIG": kubeconfig}
    )
    assert other.returncode == 4 and "not found" in other.stderr


def test_yaml_output_is_the_json_data(irkit_cli: IrkitProcess, sim: SimCluster) -> None:
    kubeconfig = sim.kubeconfig_path
    args = ("isolate", "deployment.apps/api-server", "-n", "production", "--dry-run", "-i", "i-1")
    as_json = json.loads(irkit_cli(*args, "-o", "json", env={"KUBECONFIG": kubeconfig}).stdout)
    out = irkit_cli(*args, "-o", "yaml", env={"KUBECONFIG": kubeconfig})
    assert out.returncode == 3, out.stderr  # partial: the scenario's allow-frontend-to-api
    assert yaml.safe_load(out.stdout) == as_json and as_json["dry_run"] is True


def test_a_mistyped_name_gets_a_suggestion(irkit_cli: IrkitProcess, sim: SimCluster) -> None:
    for command in ("isolate", "scale", "collect"):
        out = irkit_cli(
            command,
            "deployment/api-servr",
            "-n",
            "production",
            env={"KUBECONFIG": sim.kubeconfig_path},
        )
        assert out.returncode == 4, out.stderr
        assert out.stderr.startswith(
            "ERROR deployment 'api-servr' not found in namespace production "
            "(did you mean 'api-server'?)"
        ), (command, out.stderr)
    far = irkit_cli(
        "isolate", "deploy/zzzzzz", "-n", "production", env={"KUBECONFIG": sim.kubeconfig_path}
    )
    assert far.returncode == 4 and "deployments there: api-server, frontend" in far.stderr


def test_an_unknown_context_lists_the_contexts(irkit_cli: IrkitProcess, sim: SimCluster) -> None:
    out = irkit_cli(
        "isolate",
        "deploy/api-server",
        "-n",
        "production",
        "--context",
        "irkit-sm",
        env={"KUBECONFIG": sim.kubeconfig_path},
    )
    assert out.returncode == 2
    assert f"context 'irkit-sm' not found in {sim.kubeconfig_path} (did you mean 'irkit-sim'?)" in (
        out.stderr
    )
    assert "contexts there: irkit-sim, irkit-sim-oncall-viewer" in out.stderr


def test_no_kubeconfig_names_the_file_tried(irkit_cli: IrkitProcess, tmp_path: Path) -> None:
    out = irkit_cli("isolate", "deploy/api-server", "-n", "production")
    assert out.returncode == 2
    assert f"no kubeconfig file found (tried {tmp_path}/.kube/config)" in out.stderr


def test_validate_and_rbac_speak_json_too(irkit_cli: IrkitProcess) -> None:
    root = Path(__file__).resolve().parents[2]
    runbook = str(root / "runbooks" / "compromised-pod.yaml")
    checked = irkit_cli("validate", runbook, "-o", "json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "runbooks": [runbook],
        "valid": True,
        "errors": 0,
        "warnings": 0,
        "findings": [],
    }
    rbac = irkit_cli("rbac", runbook, "-o", "json")
    assert rbac.returncode == 0, rbac.stderr
    listed = json.loads(rbac.stdout)
    assert listed["kind"] == "List" and {i["kind"] for i in listed["items"]} >= {"ClusterRole"}
    assert irkit_cli("rbac", runbook, "-o", "xml").returncode == 2
