"""A run's inputs: ``--set`` params coerced to their declared types, defaults filled in (a
default may be a template over ``alert`` and ``incident``), and the alert payload checked.

Alert text is hostile: its size is capped before anything else looks at it, and it is only
ever *data* in the template context, never compiled (``irkit.runbook.templating``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from irkit.errors import Remedy, UsageError
from irkit.hints import nearest
from irkit.runbook.model import Param
from irkit.runbook.templating import MAX_RENDERED, TemplateFailure, render_value

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_INT = re.compile(r"^[-+]?\d{1,18}$")


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``["namespace=prod", "replicas=0"]`` (``--set`` values) -> a dict; later ones win."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{item[:80]!r}: give NAME=VALUE", option="set")
        out[name.strip()] = value
    return out


def check_alert(alert: Any, max_bytes: int) -> dict[str, Any]:
    """The alert payload as a JSON object no bigger than ``max_bytes`` serialized."""
    if alert is None:
        return {}
    if not isinstance(alert, dict):
        raise UsageError(f"the alert payload must be a JSON object, not {type(alert).__name__}")
    try:
        size = len(json.dumps(alert, separators=(",", ":")).encode())
    except (TypeError, ValueError, RecursionError) as e:
        raise UsageError(f"the alert payload is not plain JSON: {e}") from None
    if size > max_bytes:
        raise UsageError(
            f"the alert payload is {size:,} bytes, more than the limit of {max_bytes:,}: "
            "refused, no step run",
            hint="alert text is untrusted input; trim the payload (e.g. one alert of the group)",
        )
    return alert


def resolve_params(
    declared: Mapping[str, Param], given: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """Every declared param with a value of its type: given ones coerced, defaults rendered over
    ``context`` (``alert`` and ``incident``). Unknown names and missing required ones are
    UsageErrors that name them."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        name = unknown[0]
        known = ", ".join(sorted(declared)) or "none"
        raise UsageError(
            f"unknown param {name!r}{nearest(name, declared)} (this runbook takes: {known})"
        )
    missing = sorted(n for n, p in declared.items() if p.required and n not in given)
    if missing:
        raise UsageError(
            f"missing required param{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            remedy=Remedy("give-params", {"names": ", ".join(missing)}),
        )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        if name in given:
            values[name] = coerce(name, param, given[name])
        elif param.default is not None:
            values[name] = coerce(name, param, _render_default(name, param.default, context))
        else:
            values[name] = None
    return values


def _render_default(name: str, default: Any, context: Mapping[str, Any]) -> Any:
    try:
        return render_value(default, context)
    except TemplateFailure as e:
        raise TemplateFailure(f"param {name!r} default: {e}") from None


def coerce(name: str, param: Param, value: Any) -> Any:
    """``value`` (text from ``--set``, or a typed value) as ``param.type``."""
    kind = param.type
    if isinstance(value, str) and len(value) > MAX_RENDERED:
        raise UsageError(f"param {name!r}: {len(value):,} characters, more than {MAX_RENDERED:,}")
    if kind == "string":
        if isinstance(value, bool | int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, str):
            return value
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.match(value.strip()):
            return int(value.strip())
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif kind == "list":
        if isinstance(value, list):
            return [str(v) for v in value]
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
    shown = repr(value)[:80]
    if kind == "boolean":
        raise UsageError(f"param {name!r}: {shown} is not a boolean (true/false, yes/no, 1/0)")
    raise UsageError(f"param {name!r}: {shown} is not {'an' if kind == 'integer' else 'a'} {kind}")
