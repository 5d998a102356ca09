"""The JSON Schema of the runbook format, for editors (yaml-language-server) and docs/runbooks.md.

It starts as the pydantic models' own schema and adds what pydantic cannot see:

- ``with:`` is typed per action: an ``if action == X then with is XInput`` rule per action, from
  ``irkit.actions.registry.INPUTS``, so an editor completes and checks each action's keys;
- wherever a typed value (number, boolean, choice, list, mapping) is expected, a template string
  is accepted too, because templates are rendered before the action's model checks the value;
- the rules across inputs each input model declares (``Input.schema_rules``): exactly one of
  ``target`` or ``selector``; a destination for notify.

``runbooks/schema.json`` is this schema as ``irkit schema`` prints it; a test keeps them equal.
"""

from __future__ import annotations

import json
import re
from typing import Any

from irkit.actions.inputs import Input
from irkit.actions.registry import INPUTS
from irkit.runbook.model import Action, Runbook

SCHEMA_ID = "https://irkit.io/schemas/runbook-v1.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
TEMPLATE_REF = {"$ref": "#/$defs/Template"}
TEMPLATE = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "A template (Jinja2, sandboxed) over params, alert, steps and incident; "
    "its rendered text is checked against the type expected here.",
}
# Keys that say what a value is; the others (description, default, title) are about it.
_ABOUT = ("description", "default", "title", "examples")


def runbook_schema() -> dict[str, Any]:
    """The schema as a dict: draft 2020-12, every model's docstring as its description."""
    schema = Runbook.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.pop("$defs")
    defs["Template"] = TEMPLATE
    for model in dict.fromkeys(INPUTS.values()):
        defs[model.__name__] = _input_schema(model)
    defs["Step"]["allOf"] = [
        {
            "if": {"properties": {"action": {"const": str(action)}}, "required": ["action"]},
            "then": {"properties": {"with": {"$ref": f"#/$defs/{INPUTS[action].__name__}"}}},
        }
        for action in Action
    ]
    defs["Action"]["description"] = "What a step does. There is no shell or exec action."
    defs["Severity"]["description"] = "How bad the incident this runbook answers is."
    out: dict[str, Any] = _tidy(
        {"$schema": DRAFT, "$id": SCHEMA_ID, **schema, "$defs": dict(sorted(defs.items()))}
    )
    return out


def schema_text() -> str:
    """What ``irkit schema`` prints and ``runbooks/schema.json`` holds."""
    return json.dumps(runbook_schema(), indent=2, ensure_ascii=False) + "\n"


def _input_schema(model: type[Input]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["properties"] = {name: _or_template(prop) for name, prop in schema["properties"].items()}
    schema.update(model.schema_rules())
    return schema


def _or_template(prop: dict[str, Any]) -> dict[str, Any]:
    """``prop``, or a template string in its place when ``prop`` is not already any string."""
    about = {k: prop[k] for k in _ABOUT if k in prop}
    core = {k: v for k, v in prop.items() if k not in _ABOUT}
    if _any_string(core):
        return prop
    return {"anyOf": [core, TEMPLATE_REF], **about}


def _any_string(schema: dict[str, Any]) -> bool:
    if schema == {"type": "string"}:
        return True
    branches = schema.get("anyOf")
    if isinstance(branches, list) and set(schema) == {"anyOf"}:
        plain = [b for b in branches if b != {"type": "null"}]
        return bool(plain) and all(_any_string(b) for b in plain)
    return False


def _tidy(node: Any) -> Any:
    """Descriptions on one line with Markdown code spans; no generated property titles."""
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description" and isinstance(value, str):
            out[key] = re.sub(r"\s+", " ", value.replace("``", "`")).strip()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {
                name: _tidy({k: v for k, v in prop.items() if k != "title"})
                for name, prop in value.items()
            }
        else:
            out[key] = _tidy(value)
    return out
