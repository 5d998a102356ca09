"""Load a runbook and check it before an incident: every problem as ``file:line:column: message``.

``check`` collects all findings (errors and lint warnings) instead of stopping at the first, so
``irkit validate`` shows a reviewer everything at once; ``load_runbook`` raises on the first error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from irkit.actions.registry import spec_for
from irkit.errors import ConfigError
from irkit.hints import nearest
from irkit.runbook.lint import lint
from irkit.runbook.model import Action, Runbook
from irkit.runbook.templating import ROOTS, TemplateFailure, check_syntax, is_template, references
from irkit.yamlfile import LocatedDict, describe_error, known_fields, load_file, locate

Loc = tuple[str | int, ...]
At = Callable[..., "Finding"]
# Roots a param default may read: params are being set, no step has run yet.
DEFAULT_ROOTS = frozenset({"alert", "incident"})
REFUSED_ACTIONS = frozenset({"shell", "exec", "command", "run", "script", "sh", "bash", "kubectl"})


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
    """The runbook (None when it does not even parse) and every finding, errors first."""
    where = str(path)
    try:
        docs = load_file(Path(path))
    except ConfigError as e:  # YAML syntax, tabs, duplicate keys, unreadable file
        prefix = ":".join(str(p) for p in (e.path, e.line, e.column) if p is not None)
        message = str(e).removeprefix(f"{prefix}: ")
        return None, [Finding("error", where, e.line or 1, e.column or 1, message)]
    if len(docs) != 1 or not isinstance(docs[0], LocatedDict):
        line = getattr(docs[1] if len(docs) > 1 else docs[0] if docs else None, "line", 1)
        if len(docs) == 1:
            found = "a list" if isinstance(docs[0], list) else f"a {type(docs[0]).__name__}"
        else:
            found = f"{len(docs)} YAML documents" if docs else "nothing"
        message = f"a runbook file holds exactly one YAML mapping (found {found})"
        return None, [Finding("error", where, line, 1, message)]
    data = docs[0]

    def at(loc: Loc, message: str, severity: str = "error") -> Finding:
        line, column = locate(data, loc)
        return Finding(severity, where, line or 1, column or 1, message)

    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as e:
        return None, [at(*_described(err)) for err in e.errors()]
    findings = _check_params(runbook, at) + _check_steps(runbook, at)
    findings += [at(loc, message, "warning") for loc, message in lint(runbook)]
    return Loaded(runbook, where, data), findings


def _described(err: Any) -> tuple[Loc, str]:
    """Where a model error points and what it says, sharper than pydantic's wording."""
    loc: Loc = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    where = ".".join(str(p) for p in loc)
    if err["type"] == "duplicate_step_id":
        return ("steps", ctx["index"], "id"), str(err["msg"])
    if err["type"] == "param_name":
        return ("params", ctx["name"]), str(err["msg"])
    if err["type"] == "bad_regex":
        return (*loc, ctx["key"]), f"{where}: {err['msg']}"
    if err["type"] == "extra_forbidden":
        known = known_fields(Runbook, loc[:-1])
        hint = (nearest(str(loc[-1]), known) or f" (known: {', '.join(known)})") if known else ""
        return loc, f"unknown field {where!r}{hint}"
    if err["type"] == "missing":
        parent = ".".join(str(p) for p in loc[:-1]) or "the runbook"
        return loc, f"{parent} needs {loc[-1]!r}"
    if err["type"] == "too_short" and loc == ("steps",):
        return loc, "steps: a runbook needs at least one step"
    if err["type"] in ("enum", "literal_error"):
        got = err["input"]
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if loc[-1] == "action" and isinstance(got, str):
            if got.lower() in REFUSED_ACTIONS:
                return loc, (
                    f"{where}: there is no {got!r} action: runbooks never run commands, by "
                    f"design (actions: {', '.join(choices)})"
                )
            return loc, f"{where}: unknown action {got!r}{nearest(got, choices)}"
        if isinstance(got, bool):
            return loc, (
                f"{where}: YAML read a boolean here (yes/no/on/off/true/false); "
                f"write one of {', '.join(choices)}"
            )
        if len(choices) == 1:
            return loc, f"{where}: must be {choices[0]!r}, not {got!r}"
        hint = nearest(str(got), choices)
        return loc, f"{where}: {got!r} is not one of {', '.join(choices)}{hint}"
    return loc, describe_error(err, Runbook)


def _check_params(runbook: Runbook, at: At) -> list[Finding]:
    out: list[Finding] = []
    for name, param in runbook.params.items():
        if not is_template(param.default):
            continue
        loc: Loc = ("params", name, "default")
        for problem in _template_problems(param.default, runbook, {}, roots=DEFAULT_ROOTS):
            out.append(at(loc, f"params.{name}.default: {problem}"))
    return out


def _check_steps(runbook: Runbook, at: At) -> list[Finding]:
    out: list[Finding] = []
    earlier: dict[str, str] = {}
    for i, step in enumerate(runbook.steps):
        loc: Loc = ("steps", i)
        model = spec_for(step.action).inputs
        fields = model.model_fields
        found = len(out)
        for key, value in step.with_.items():
            if key not in fields:
                hint = nearest(key, fields) or f" (it takes: {', '.join(fields)})"
                out.append(at((*loc, "with", key), f"{step.action} takes no {key!r}{hint}"))
                continue
            for problem in _template_problems(value, runbook, earlier):
                out.append(at((*loc, "with", key), f"with.{key}: {problem}"))
            if not _has_template(value):
                out += _type_problem(at, (*loc, "with", key), key, value, fields[key])
        for name, field in fields.items():
            if field.is_required() and name not in step.with_:
                out.append(at((*loc, "with"), f"{step.action} needs with.{name}"))
        if len(out) == found:
            out += _whole_input_problem(at, (*loc, "with"), step.action, step.with_)
        if step.when is not None:
            for problem in _when_problems(step.when, runbook, earlier):
                out.append(at((*loc, "when"), f"when: {problem}"))
        earlier[step.id] = step.action
    return out


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return is_template(value)


def _type_problem(at: At, loc: Loc, key: str, value: Any, field: Any) -> list[Finding]:
    # The field's constraints (ge=0, le=64, ...) live in its metadata, not in its annotation.
    ann: Any = field.annotation
    if field.metadata:
        ann = Annotated[(ann, *field.metadata)]
    try:
        TypeAdapter(ann).validate_python(value, strict=False)
    except ValidationError as e:
        msg = str(e.errors()[0]["msg"]).removeprefix("Value error, ")
        return [at(loc, f"with.{key}: {msg} (got {value!r})")]
    return []


# Stand-ins for template values, so rules across inputs (exactly one of target or selector,
# a url for slack) can be checked before any template is rendered.
_STAND_INS: tuple[Any, ...] = ("x", 1, True, [], {})


def _whole_input_problem(at: At, loc: Loc, action: Action, given: dict[str, Any]) -> list[Finding]:
    model = spec_for(action).inputs
    probe: dict[str, Any] = {}
    for key, value in given.items():
        if not _has_template(value):
            probe[key] = value
            continue
        field = model.model_fields[key]
        if _is_choice(field.annotation):
            return []  # a templated choice (e.g. channel): the rules depend on what it renders to
        stand_in = next((s for s in _STAND_INS if _fits(field, s)), None)
        if stand_in is None:
            return []
        probe[key] = stand_in
    try:
        model.model_validate(probe)
    except ValidationError as e:
        whole = [err for err in e.errors() if not err["loc"]]
        if whole:
            msg = str(whole[0]["msg"]).removeprefix("Value error, ")
            return [at(loc, f"{action}: {msg}")]
    return []


def _is_choice(ann: Any) -> bool:
    return get_origin(ann) is Literal or any(_is_choice(a) for a in get_args(ann))


def _fits(field: Any, value: Any) -> bool:
    try:
        TypeAdapter(field.annotation).validate_python(value)
    except ValidationError:
        return False
    return True


def _when_problems(expression: str, runbook: Runbook, earlier: dict[str, str]) -> list[str]:
    if is_template(expression):
        return ["write a bare expression, without '{{ }}' or '{% %}' (e.g. params.notify)"]
    return _template_problems(expression, runbook, earlier, expression=True)


def _template_problems(
    value: Any,
    runbook: Runbook,
    earlier: dict[str, str],
    expression: bool = False,
    roots: frozenset[str] = ROOTS,
) -> list[str]:
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return [p for v in items for p in _template_problems(v, runbook, earlier, roots=roots)]
    if not expression and not is_template(value):
        return []
    source = f"{{{{ {value} }}}}" if expression else str(value)
    try:
        check_syntax(source)
        refs = list(references(source))
    except TemplateFailure as e:
        message = str(e)
        if expression:
            message = message.replace("template syntax error", "expression syntax error")
            return [message.replace("end of print statement", "end of expression")]
        return [message.replace("'end of print statement'", "'}}'")]
    problems = []
    for ref in refs:
        problems += _reference_problem(ref, runbook, earlier, roots)
    return sorted(set(problems))


def _reference_problem(
    ref: tuple[str, ...], runbook: Runbook, earlier: dict[str, str], roots: frozenset[str]
) -> list[str]:
    root = ref[0]
    if root not in roots:
        seen = ", ".join(sorted(roots))
        if root in ROOTS:
            return [f"{root!r} is not available here (only {seen})"]
        return [f"unknown name {root!r}{nearest(root, roots)} (templates see {seen})"]
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
        if len(ref) > 3 and ref[3] not in spec_for(earlier[step_id]).outputs:
            known = spec_for(earlier[step_id]).outputs
            return [
                f"{earlier[step_id]} has no output {ref[3]!r}{nearest(ref[3], known)}"
                f" (it has: {', '.join(sorted(known))})"
            ]
    return []
