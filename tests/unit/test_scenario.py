"""Scenario files: a malformed one fails with ``file:line:column: message``; a valid one runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.errors import ConfigError
from irkit.sim import SimCluster, load_scenario

INVALID = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios" / "invalid"

# file name -> (line the error must point at, text the message must contain)
CASES: dict[str, tuple[int, str]] = {
    "yaml-syntax.yaml": (6, "invalid YAML: while parsing a flow sequence"),
    "tab-indent.yaml": (4, "indent with spaces, not tabs"),
    "duplicate-key.yaml": (6, "duplicate key 'description'"),
    "unknown-top-level-field.yaml": (5, "unknown field 'sepc' (did you mean 'spec'?)"),
    "unknown-spec-field.yaml": (5, "unknown field 'usres' (did you mean 'users'?)"),
    "unknown-log-field.yaml": (8, "unknown field 'logs.0.txt' (did you mean 'text'?)"),
    "log-text-and-file.yaml": (8, "logs.1: give exactly one of 'text', 'file' or 'generate'"),
    "log-no-target.yaml": (8, "logs.1: give exactly one of 'pod'"),
    "fault-bad-status.yaml": (8, "status must be an HTTP error code (400..599), got 99"),
    "fault-unknown-key.yaml": (
        7,
        "unknown fault rule key 'retry_afer' (did you mean 'retry_after'?)",
    ),
    "manifest-no-kind.yaml": (5, "a Kubernetes manifest needs 'apiVersion' and 'kind'"),
    "manifest-unsupported-kind.yaml": (
        11,
        "the simulator does not serve networking.k8s.io/v1 Ingress",
    ),
    "manifest-no-name.yaml": (7, "ConfigMap needs metadata.name"),
    "two-scenarios.yaml": (6, "only one 'kind: Scenario' document is allowed"),
    "wrong-api-version.yaml": (1, "apiVersion must be 'irkit.io/v1'"),
    "missing-log-file.yaml": (7, "log file not found: logs/does-not-exist.log"),
    "short-token.yaml": (8, "users.1.token: String should have at least 8 characters"),
}


def test_every_invalid_fixture_has_a_case() -> None:
    assert sorted(p.name for p in INVALID.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize(("name", "line", "message"), [(n, *c) for n, c in CASES.items()])
def test_invalid_scenario_names_file_line_and_problem(name: str, line: int, message: str) -> None:
    path = INVALID / name
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    err = info.value
    assert err.path == str(path)
    assert err.line == line, str(err)
    assert str(err).startswith(f"{path}:{line}:")
    assert message in str(err)
    assert err.exit_code == 2


def test_error_column_points_at_the_offending_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(INVALID / "unknown-log-field.yaml")
    assert (info.value.line, info.value.column) == (8, 7)  # "      txt: hello"


def test_missing_scenario_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read file") as info:
        load_scenario(path)
    assert info.value.path == str(path)
    assert info.value.line is None


MINIMAL = """\
apiVersion: irkit.io/v1
kind: Scenario
metadata:
  name: minimal
spec:
  users:
    - {name: reader, token: reader-token-0001, groups: [readers]}
  logs:
    - {namespace: shop, pod: "web-*", container: web, file: web.log}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: nginx:1.27}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {MODE: drill}
"""


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    (tmp_path / "web.log").write_text("GET / 200\nGET /admin 403\n", encoding="utf-8")
    path = tmp_path / "minimal.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    return path


def test_valid_minimal_scenario_loads(minimal: Path) -> None:
    scenario = load_scenario(minimal)
    assert scenario.name == "minimal"
    assert scenario.path == str(minimal)
    assert scenario.base_dir == minimal.parent
    assert [u.name for u in scenario.spec.users] == ["reader"]
    assert [(m["kind"], m["metadata"]["name"]) for m in scenario.manifests] == [
        ("Namespace", "shop"),
        ("Pod", "web-0"),
        ("ConfigMap", "settings"),
    ]


def test_sim_from_minimal_scenario_serves_its_objects(minimal: Path, tmp_path: Path) -> None:
    from kubernetes import client, config

    with SimCluster(minimal, audit_log=tmp_path / "audit.log") as sim:
        api = client.CoreV1Api(config.new_client_from_config(config_file=sim.kubeconfig_path))
        pods = api.list_namespaced_pod("shop", label_selector="app=web")
        assert [p.metadata.name for p in pods.items] == ["web-0"]
        assert api.read_namespaced_config_map("settings", "shop").data == {"MODE": "drill"}
        log = api.read_namespaced_pod_log("web-0", "shop", container="web")
        assert "GET /admin 403" in log
        # The scenario's user exists and is authenticated (its group has no permissions).
        assert sim.tokens["reader"] == "reader-token-0001"
        reader = sim.write_kubeconfig(tmp_path / "reader.kubeconfig", "reader")
        as_reader = client.CoreV1Api(config.new_client_from_config(config_file=reader))
        with pytest.raises(client.ApiException) as info:
            as_reader.list_namespaced_pod("shop")
        assert info.value.status == 403
        assert 'User "reader"' in json.loads(info.value.body)["message"]
