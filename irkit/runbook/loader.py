"""Load a runbook and check it before an incident: every problem as ``file:line:column: message``.

``check`` collects all findings (errors and lint warnings) instead of stopping at the first, so
``irkit validate`` shows a reviewer everything at once; ``load_runbook`` raises on the first error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from irkit.errors import ConfigError
from irkit.runbook.inputs import INPUTS
from irkit.runbook.lint import lint
from irkit.runbook.model import OUTPUTS, Runbook
from irkit.runbook.templating import ROOTS, TemplateFailure, check_syntax, is_template, references
from irkit.yamlfile import LocatedDict, describe_error, load_file, locate, nearest


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Loaded:
    runbook: Runbook
    path: str
    data: LocatedDict


def load_runbook(path: str | Path) -> Loaded:
    loaded, findings = check(path)
    errors = [f for f in findings if f.severity == "error"]
    if errors or loaded is None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more: run irkit validate)" if len(errors) > 1 else ""
        raise ConfigError(
            first.message + more, path=first.path, line=first.line, column=first.column
        )
    return loaded


def check(path: str | Path) -> tuple[Loaded | None, list[Finding]]:
    where = str(path)
    docs = load_file(Path(path))  # YAML syntax errors raise ConfigError with the position
    if len(docs) != 1 or not isinstance(docs[0], LocatedDict):
        raise ConfigError("a runbook file holds exactly one YAML mapping", path=where, line=1)
    data = docs[0]

    def at(loc: tuple[str | int, ...], message: str, severity: str = "error") -> Finding:
        line, column = locate(data, loc)
        return Finding(severity, where, line or 1, column or 1, message)

    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as e:
        return None, [at(tuple(err["loc"]), describe_error(err, Runbook)) for err in e.errors()]
    findings = _check_steps(runbook, data, at)
    findings += [at(loc, message, "warning") for loc, message in lint(runbook)]
    return Loaded(runbook, where, data), findings


def _check_steps(runbook: Runbook, data: LocatedDict, at: Any) -> list[Finding]:
    out: list[Finding] = []
    earlier: dict[str, str] = {}
    for i, step in enumerate(runbook.steps):
        loc: tuple[str | int, ...] = ("steps", i)
        model = INPUTS[step.action]
        fields = model.model_fields
        for key, value in step.with_.items():
            if key not in fields:
                hint = nearest(key, fields)
                out.append(at((*loc, "with", key), f"{step.action} takes no {key!r}{hint}"))
                continue
            for problem in _template_problems(value, runbook, earlier):
                out.append(at((*loc, "with", key), f"with.{key}: {problem}"))
            if not _has_template(value):
                out += _type_problem(at, (*loc, "with", key), key, value, fields[key].annotation)
        for name, field in fields.items():
            if field.is_required() and name not in step.with_:
                out.append(at((*loc, "with"), f"{step.action} needs with.{name}"))
        if step.when is not None:
            for problem in _template_problems(step.when, runbook, earlier, expression=True):
                out.append(at((*loc, "when"), f"when: {problem}"))
        earlier[step.id] = step.action
    return out


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return is_template(value)


def _type_problem(
    at: Any, loc: tuple[str | int, ...], key: str, value: Any, ann: Any
) -> list[Finding]:
    try:
        TypeAdapter(ann).validate_python(value, strict=False)
    except ValidationError as e:
        msg = str(e.errors()[0]["msg"]).removeprefix("Value error, ")
        return [at(loc, f"with.{key}: {msg} (got {value!r})")]
    return []


def _template_problems(
    value: Any, runbook: Runbook, earlier: dict[str, str], expression: bool = False
) -> list[str]:
    if isinstance(value, dict):
        return [p for v in value.values() for p in _template_problems(v, runbook, earlier)]
    if isinstance(value, list):
        return [p for v in value for p in _template_problems(v, runbook, earlier)]
    if not expression and not is_template(value):
        return []
    source = f"{{{{ {value} }}}}" if expression else str(value)
    try:
        check_syntax(source)
        refs = list(references(source))
    except TemplateFailure as e:
        return [str(e)]
    problems = []
    for ref in refs:
        problems += _reference_problem(ref, runbook, earlier)
    return sorted(set(problems))


def _reference_problem(
    ref: tuple[str, ...], runbook: Runbook, earlier: dict[str, str]
) -> list[str]:
    root = ref[0]
    if root not in ROOTS:
        seen = ", ".join(sorted(ROOTS))
        return [f"unknown name {root!r}{nearest(root, ROOTS)} (templates see {seen})"]
    if root == "params" and len(ref) > 1 and ref[1] not in runbook.params:
        return [f"unknown param {ref[1]!r}{nearest(ref[1], runbook.params)}"]
    if root == "incident" and len(ref) > 1 and ref[1] not in ("id", "started_at"):
        return [f"incident has id and started_at, not {ref[1]!r}"]
    if root == "steps" and len(ref) > 1:
        step_id = ref[1]
        if step_id not in earlier:
            later = any(s.id == step_id for s in runbook.steps)
            why = "a later step" if later else f"no such step{nearest(step_id, earlier)}"
            return [f"steps.{step_id} is {why}: only earlier steps' outputs exist"]
        if len(ref) > 2 and ref[2] != "outputs":
            return [f"steps.{step_id}.{ref[2]}: a step exposes only .outputs"]
        if len(ref) > 3 and ref[3] not in OUTPUTS[earlier[step_id]]:
            known = OUTPUTS[earlier[step_id]]
            return [
                f"{earlier[step_id]} has no output {ref[3]!r}{nearest(ref[3], known)}"
                f" (it has: {', '.join(sorted(known))})"
            ]
    return []
