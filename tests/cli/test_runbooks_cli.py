"""``irkit validate`` and ``irkit schema`` through the real command line (typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import invoke

from irkit.runbook.schema import schema_text

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "runbooks"
WARNS = """apiVersion: irkit.io/v1
kind: Runbook
metadata: {name: t}
steps:
  - id: isolate
    action: isolate
    with: {namespace: production, target: deployment/api-server}
"""


def test_valid_runbooks_exit_0_with_a_summary() -> None:
    result = invoke("validate", str(ROOT / "runbooks"), str(FIXTURES / "valid" / "minimal.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output == "6 runbooks valid\n"


def test_errors_are_listed_as_file_line_column_and_exit_2() -> None:
    bad = FIXTURES / "invalid" / "unknown-with-key.yaml"
    typo = FIXTURES / "invalid" / "unknown-action.yaml"
    result = invoke("validate", str(bad), str(typo))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert f"{bad}:11:7: error: isolate takes no 'namespce' (did you mean 'namespace'?)" in lines
    assert (
        f"{typo}:8:5: error: steps.0.action: unknown action 'isloate' (did you mean 'isolate'?)"
        in lines
    )
    assert lines[-1] == "2 runbooks checked: 3 errors, 0 warnings (invalid)"


def test_warnings_alone_exit_0_unless_strict(tmp_path: Path) -> None:
    path = tmp_path / "warns.yaml"
    path.write_text(WARNS)
    relaxed = invoke("validate", str(path))
    assert relaxed.exit_code == 0
    assert f"{path}:5:5: warning: step 'isolate' isolates with no release path" in relaxed.output
    strict = invoke("validate", "--strict", str(path))
    assert strict.exit_code == 2
    assert f"{path}:5:5: error: step 'isolate' isolates with no release path" in strict.output


def test_a_missing_file_is_an_error_and_an_empty_folder_a_usage_error(tmp_path: Path) -> None:
    missing = invoke("validate", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}:1:1: error: cannot read file" in missing.output
    empty = invoke("validate", str(tmp_path))
    assert empty.exit_code == 2 and "no *.yaml or *.yml runbooks" in empty.output


def test_schema_prints_json_and_writes_a_file(tmp_path: Path) -> None:
    printed = invoke("schema")
    assert printed.exit_code == 0
    assert printed.output == schema_text()
    assert json.loads(printed.output)["$schema"].endswith("2020-12/schema")
    out = tmp_path / "schema.json"
    written = invoke("schema", "--out", str(out))
    assert written.exit_code == 0 and out.read_text() == schema_text()
