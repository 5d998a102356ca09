"""The malformed-runbook corpus: each file says on its first line where its error is and what
the message says (``# expect: LINE:COLUMN: text``), and ``check`` must report exactly there.

Add a case by adding a file; the guard below fails on a file without an expect line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from irkit.errors import ConfigError
from irkit.runbook.loader import Finding, check, load_runbook

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runbooks"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")


def expectation(path: Path) -> tuple[int, int, str]:
    first = path.read_text(encoding="utf-8").partition("\n")[0]
    found = EXPECT.match(first)
    assert found, f"{path.name}: the first line must be '# expect: LINE:COLUMN: message'"
    return int(found[1]), int(found[2]), found[3]


def test_the_corpus_is_large_and_every_file_says_what_it_expects() -> None:
    assert len(INVALID) >= 30
    for path in INVALID:
        expectation(path)


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_runbook_reports_line_column_and_message(path: Path) -> None:
    line, column, message = expectation(path)
    loaded, findings = check(path)
    errors = [f for f in findings if f.severity == "error"]
    shown = "\n".join(map(str, findings))
    assert loaded is None or errors, f"no error for {path.name}; findings:\n{shown}"
    wanted = [f for f in errors if (f.line, f.column) == (line, column)]
    assert any(message in f.message for f in wanted), (
        f"expected {line}:{column}: {message}\n{shown}"
    )
    assert any(str(f).startswith(f"{path}:{line}:{column}: error: ") for f in wanted)


@pytest.mark.parametrize("path", INVALID[:5], ids=[p.name for p in INVALID[:5]])
def test_load_runbook_raises_the_first_error_as_a_config_error(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_runbook(path)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{path}:")


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_runbooks_have_no_errors(path: Path) -> None:
    loaded, findings = check(path)
    assert loaded is not None
    assert [f for f in findings if f.severity == "error"] == []


def test_valid_fixtures_exist() -> None:
    assert len(VALID) >= 2


def findings_of(tmp_path: Path, text: str) -> list[Finding]:
    path = tmp_path / "rb.yaml"
    path.write_text(text, encoding="utf-8")
    return check(path)[1]


HEAD = "apiVersion: irkit.io/v1\nkind: Runbook\nmetadata: {name: t}\n"


def test_template_values_skip_type_checks_but_not_rules_across_inputs(tmp_path: Path) -> None:
    text = HEAD + (
        "params:\n  n: {type: integer, default: 1}\n  sel: {default: app=x}\n"
        "steps:\n  - id: s\n    action: scale\n"
        "    with: {namespace: p, target: deployment/x, selector: '{{ params.sel }}',"
        " replicas: '{{ params.n }}'}\n"
    )
    (finding,) = findings_of(tmp_path, text)
    assert "give exactly one of 'target' (KIND/NAME) or 'selector'" in finding.message


def test_a_templated_choice_is_not_second_guessed(tmp_path: Path) -> None:
    text = HEAD + (
        "params:\n  channel: {default: sns}\n  topic: {default: 'arn:aws:sns:eu-west-1:1:ir'}\n"
        "steps:\n  - id: n\n    action: notify\n    with:\n"
        "      {channel: '{{ params.channel }}', topic_arn: '{{ params.topic }}', message: hi}\n"
    )
    assert findings_of(tmp_path, text) == []


def test_lint_warns_of_unused_params_and_optional_params_that_render_as_none(
    tmp_path: Path,
) -> None:
    text = HEAD + (
        "params:\n  unused: {default: x}\n  s3: {description: no default}\n"
        "steps:\n  - id: rca\n    action: rca\n    with: {output: '{{ params.s3 }}/rca.md'}\n"
    )
    found = {f.message.split(":")[0]: f for f in findings_of(tmp_path, text)}
    assert {f.severity for f in found.values()} == {"warning"}
    assert found["param 'unused' is not read by any step"].line == 5
    assert 'renders it as the text "None"' in str(
        found["param 's3' has no default and is not required"]
    )
