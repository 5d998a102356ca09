"""Render a step's ``with:`` and validate it into the action's input model and target.

``check_all`` does this for every step whose templates do not read ``steps.`` before the first
step runs, so hostile or malformed alert data (template syntax smuggled into a label, a value
too large, an invalid object name) fails the run with a clear error and nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError
from pydantic import BaseModel, ValidationError

from irkit.actions.registry import spec_for
from irkit.errors import IrkitError, UsageError
from irkit.model.target import Target, parse_target
from irkit.runbook.model import Runbook, Step
from irkit.runbook.templating import (
    TemplateFailure,
    evaluate,
    is_template,
    references,
    render_value,
)


@dataclass(frozen=True)
class Prepared:
    step: Step
    rendered: dict[str, Any]
    inputs: BaseModel
    target: Target | None


def template_context(
    params: Mapping[str, Any],
    alert: Mapping[str, Any],
    incident: str,
    started_at: str,
    outputs: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    return {
        "params": dict(params),
        "alert": dict(alert),
        "incident": {"id": incident, "started_at": started_at},
        "steps": {sid: {"outputs": dict(out)} for sid, out in outputs.items()},
    }


def _with_reads_steps(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_with_reads_steps(v) for v in value.values())
    if isinstance(value, list):
        return any(_with_reads_steps(v) for v in value)
    return is_template(value) and _reads_steps(value)


def _reads_steps(source: str, *, expression: bool = False) -> bool:
    try:
        return any(ref[0] == "steps" for ref in references(source, expression=expression))
    except TemplateError:  # a syntax error: rendering reports it properly
        return False


def should_run(step: Step, context: Mapping[str, Any]) -> bool:
    if step.when is None:
        return True
    try:
        return evaluate(step.when, context)
    except TemplateFailure as e:
        raise TemplateFailure(f"step {step.id!r}: {e}") from None


def prepare(step: Step, context: Mapping[str, Any]) -> Prepared:
    """The step's inputs, rendered over ``context`` and validated; errors name the step."""
    try:
        rendered = render_value(dict(step.with_), context)
    except TemplateFailure as e:
        raise TemplateFailure(f"step {step.id!r}: {e}") from None
    model = spec_for(step.action).inputs
    try:
        inputs = model.model_validate(rendered)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        got = f" (got {repr(err.get('input'))[:80]})" if where else ""
        raise UsageError(
            f"step {step.id!r} ({step.action}): with{'.' + where if where else ''}: {msg}{got}"
        ) from None
    try:
        target = _target(step, inputs)
    except IrkitError as e:
        raise UsageError(f"step {step.id!r} ({step.action}): {e}", hint=e.hint) from None
    return Prepared(step, rendered, inputs, target)


def _target(step: Step, inputs: BaseModel) -> Target | None:
    """The step's target (None for an action without one), then its action's own checks."""
    namespace = getattr(inputs, "namespace", None)
    target = (
        None
        if namespace is None
        else parse_target(namespace, getattr(inputs, "target", None), inputs.selector)  # type: ignore[attr-defined]
    )
    check = spec_for(step.action).check
    if check is not None:
        check(step, inputs, target)
    return target


def check_all(runbook: Runbook, context: Mapping[str, Any]) -> None:
    """Prepare (render and validate) every step that can be before the run: its templates read
    no step outputs, and its ``when:`` (if any) can be evaluated now and is true. Rendering is
    cheap, so each step is prepared again when it runs, against the context of that moment."""
    for step in runbook.steps:
        if _with_reads_steps(step.with_):
            continue
        static_when = step.when is not None and not _reads_steps(step.when, expression=True)
        if static_when and not should_run(step, context):
            continue
        prepare(step, context)
