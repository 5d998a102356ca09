"""The JSON Schema editors use: current with the models, valid draft 2020-12, accepting every
valid runbook, rejecting the structural mistakes, and allowing templates for typed values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from irkit.actions.registry import INPUTS
from irkit.runbook.schema import DRAFT, SCHEMA_ID, runbook_schema, schema_text

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "runbooks"
SHIPPED = sorted((ROOT / "runbooks").glob("*.yaml"))
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
# Corpus files whose mistake is structural, so the schema alone (an editor) must catch it too.
SCHEMA_CATCHES = [
    "wrong-api-version.yaml",
    "wrong-kind.yaml",
    "missing-metadata-name.yaml",
    "bad-name.yaml",
    "bad-severity.yaml",
    "unknown-top-level-field.yaml",
    "unknown-step-field.yaml",
    "unknown-action.yaml",
    "shell-action.yaml",
    "exec-action.yaml",
    "bad-step-id.yaml",
    "retries-out-of-range.yaml",
    "bad-on-failure.yaml",
    "bad-approval.yaml",
    "unknown-with-key.yaml",
    "with-key-of-another-action.yaml",
    "wrong-literal-type.yaml",
    "bad-choice.yaml",
    "value-out-of-range.yaml",
    "missing-required-with-key.yaml",
    "target-and-selector.yaml",
    "no-target.yaml",
    "notify-without-url.yaml",
    "sns-without-topic.yaml",
    "empty-steps.yaml",
    "bad-param-type.yaml",
    "bad-param-name.yaml",
    "unknown-falco-field.yaml",
    "falco-output-fields-camel-case.yaml",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = runbook_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_what_irkit_schema_prints() -> None:
    shipped = (ROOT / "runbooks" / "schema.json").read_text(encoding="utf-8")
    assert shipped == schema_text(), "runbooks/schema.json is stale: irkit schema --out it"


def test_the_schema_says_what_it_is() -> None:
    schema = json.loads(schema_text())
    assert schema["$schema"] == DRAFT and schema["$id"] == SCHEMA_ID
    assert "Runbook" in schema["description"] or schema["description"]


@pytest.mark.parametrize("path", SHIPPED + VALID, ids=lambda p: p.name)
def test_every_valid_runbook_satisfies_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("name", SCHEMA_CATCHES)
def test_the_schema_rejects_structural_mistakes(
    validator: jsonschema.Draft202012Validator, name: str
) -> None:
    data = yaml.safe_load((FIXTURES / "invalid" / name).read_text())
    assert not validator.is_valid(data)


def step(action: str, **with_: Any) -> dict[str, Any]:
    body = {"id": "s", "action": action, "with": with_}
    return {
        "apiVersion": "irkit.io/v1",
        "kind": "Runbook",
        "metadata": {"name": "t"},
        "steps": [body],
    }


def test_templates_stand_in_for_typed_values(validator: jsonschema.Draft202012Validator) -> None:
    target = {"namespace": "p", "target": "deployment/x"}
    assert validator.is_valid(step("scale", **target, replicas="{{ params.n }}"))
    assert not validator.is_valid(step("scale", **target, replicas="many"))
    assert validator.is_valid(step("isolate", **target, allow_dns="{% if x %}true{% endif %}"))
    assert validator.is_valid(step("isolate", **target, scope="{{ params.scope }}"))
    assert not validator.is_valid(step("isolate", **target, scope="node"))


def test_each_action_has_its_own_with_schema_with_descriptions() -> None:
    defs = runbook_schema()["$defs"]
    for model in INPUTS.values():
        props = defs[model.__name__]["properties"]
        assert set(props) == set(model.model_fields)
        assert all(p.get("description") for p in props.values()), model.__name__
        assert defs[model.__name__]["additionalProperties"] is False
    assert len(defs["Step"]["allOf"]) == len(INPUTS)
