"""docs/runbooks.md cannot drift from the format: its field tables are generated from the JSON
Schema (``irkit.runbook.reference``), and every field of every model is named in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from irkit.actions.registry import INPUTS
from irkit.runbook.model import (
    Action,
    AlertmanagerMatch,
    FalcoMatch,
    Metadata,
    Param,
    Runbook,
    Step,
)
from irkit.runbook.reference import generated_blocks, refresh, tables

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "runbooks.md"
REFRESH = "python -m irkit.runbook.reference docs/runbooks.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_generated_table_is_in_the_doc_and_current(doc: str) -> None:
    blocks = generated_blocks(doc)
    expected = tables()
    assert sorted(blocks) == sorted(expected), f"missing or unknown tables: run {REFRESH}"
    for name, table in expected.items():
        assert blocks[name] == table, f"the {name} table is out of date: run {REFRESH}"
    assert refresh(doc) == doc


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_every_input_of_every_action_is_documented_in_its_section(doc: str, action: Action) -> None:
    section = generated_blocks(doc)[f"action-{action}"]
    assert f"\n### {action}\n" in doc
    for name in INPUTS[action].model_fields:
        assert f"| `{name}` |" in section, f"{action}.with.{name} is not in docs/runbooks.md"


@pytest.mark.parametrize(
    "model",
    [Runbook, Metadata, Param, AlertmanagerMatch, FalcoMatch, Step],
    ids=lambda m: m.__name__,
)
def test_every_field_of_the_format_is_documented(doc: str, model: type) -> None:
    for name, field in model.model_fields.items():
        assert f"| `{field.alias or name}` |" in doc, f"{model.__name__}.{name} is not documented"


def test_every_field_has_a_description() -> None:
    models = [Runbook, Metadata, Param, AlertmanagerMatch, FalcoMatch, Step, *INPUTS.values()]
    missing = [
        f"{m.__name__}.{name}"
        for m in models
        for name, f in m.model_fields.items()
        if not f.description
    ]
    assert missing == []


def test_the_doc_explains_the_modeline_and_template_roots(doc: str) -> None:
    assert "# yaml-language-server: $schema=./schema.json" in doc
    for root in ("`params`", "`alert`", "`steps`", "`incident`", "SandboxedEnvironment"):
        assert root in doc
