"""The field tables of docs/runbooks.md, generated from the JSON Schema so the reference cannot
drift from what ``irkit validate`` and editors check.

The prose of the document is written by hand; the tables sit between ``<!-- generated: NAME -->``
and ``<!-- end: NAME -->`` markers. A test compares them with ``tables()``; to refresh them:

    python -m irkit.runbook.reference docs/runbooks.md
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from irkit.actions.registry import spec_for
from irkit.runbook.model import Action
from irkit.runbook.schema import runbook_schema

_TOP = ("Runbook", "Metadata", "Param", "Match", "AlertmanagerMatch", "FalcoMatch", "Step")
# Where each model is described in docs/runbooks.md (GitHub's heading anchors).
ANCHORS = {
    "Metadata": "metadata",
    "Param": "params",
    "Match": "match",
    "AlertmanagerMatch": "alertmanager",
    "FalcoMatch": "falco",
    "Step": "steps",
}


def tables() -> dict[str, str]:
    """Marker name -> Markdown table: the top-level models, then one per action."""
    schema = runbook_schema()
    defs = schema["$defs"]
    out = {"runbook": _table(schema, defs)}
    out |= {name.lower(): _table(defs[name], defs) for name in _TOP[1:]}
    for action in Action:
        model = spec_for(action).inputs.__name__
        out[f"action-{action}"] = _table(defs[model], defs)
    rows = ["| action | `steps.<id>.outputs.*` |", "|---|---|"]
    rows += [
        f"| `{a}` | {', '.join(f'`{o}`' for o in sorted(spec_for(a).outputs))} |" for a in Action
    ]
    out["outputs"] = "\n".join(rows)
    return out


def _table(model: dict[str, Any], defs: dict[str, Any]) -> str:
    required = set(model.get("required", ()))
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, prop in model["properties"].items():
        default = "*required*" if name in required else _default(prop)
        description = prop.get("description", "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type(prop, defs)} | {default} | {description} |")
    return "\n".join(rows)


def _default(prop: dict[str, Any]) -> str:
    value = prop.get("default")
    if value is None:
        return ""
    if isinstance(value, dict) and all(v is None for v in value.values()):
        value = {}  # an empty section, e.g. match
    return f"`{json.dumps(value)}`"


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        target = defs[name]
        return _type(target, defs) if "enum" in target else f"[{name}](#{ANCHORS[name]})"
    if "anyOf" in prop:
        branches = [
            b for b in prop["anyOf"] if b not in ({"type": "null"}, {"$ref": "#/$defs/Template"})
        ]
        return " or ".join(_type(b, defs) for b in branches)
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"map to {_type(values, defs)}" if isinstance(values, dict) else "map"
    if kind is None:
        return "any"
    bounds = [
        f"{sign} {prop[key]}"
        for key, sign in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in prop
    ]
    return f"{kind} ({', '.join(bounds)})" if bounds else str(kind)


def generated_blocks(text: str) -> dict[str, str]:
    """The generated tables found in a document, by marker name."""
    found = re.finditer(r"<!-- generated: ([\w-]+) -->\n(.*?)\n<!-- end: \1 -->", text, re.S)
    return {m[1]: m[2] for m in found}


def refresh(text: str) -> str:
    fresh = tables()

    def one(m: re.Match[str]) -> str:
        return f"<!-- generated: {m[1]} -->\n{fresh[m[1]]}\n<!-- end: {m[1]} -->"

    return re.sub(r"<!-- generated: ([\w-]+) -->\n.*?\n<!-- end: \1 -->", one, text, flags=re.S)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        path = Path(arg)
        path.write_text(refresh(path.read_text(encoding="utf-8")), encoding="utf-8")
