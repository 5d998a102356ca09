"""Warnings a reviewer wants before an incident, not errors: the runbook still runs.

- containment (scale) before collect: evidence in memory and logs of running pods is lost when
  they stop, so RFC 3227's order of volatility says collect first;
- isolate with no way back: no release step and no word on how to undo it;
- a destructive step (scale, cordon) without ``approval: required`` in a critical runbook;
- a param no step reads, and an optional param without a default read by a ``with:`` template:
  left unset it is None, and a template renders that as the text "None";
- a step reading the outputs of a step that may not have any (it has ``when:`` and may be
  skipped, or ``on_failure: continue`` and may have failed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from irkit.actions.registry import spec_for
from irkit.runbook.model import Action, Runbook, Severity
from irkit.runbook.templating import TemplateFailure, check_syntax, is_template, references

_PARAM_REF = re.compile(r"\bparams\.([a-z][a-z0-9_]*)")


def lint(runbook: Runbook) -> list[tuple[tuple[str | int, ...], str]]:
    return list(_lint(runbook))


def _lint(runbook: Runbook) -> Iterator[tuple[tuple[str | int, ...], str]]:
    actions = [s.action for s in runbook.steps]
    if Action.SCALE in actions and Action.COLLECT in actions:
        first_scale, first_collect = actions.index(Action.SCALE), actions.index(Action.COLLECT)
        if first_scale < first_collect:
            yield (
                ("steps", first_scale),
                f"step {runbook.steps[first_scale].id!r} scales down "
                "before evidence is collected: logs and state of the stopped pods are lost "
                "(RFC 3227: collect the most volatile evidence first)",
            )
    if Action.ISOLATE in actions and Action.RELEASE not in actions:
        i = actions.index(Action.ISOLATE)
        step = runbook.steps[i]
        if "release" not in (step.description + runbook.metadata.description).lower():
            yield (
                ("steps", i),
                f"step {step.id!r} isolates with no release path: add a release "
                "step (it may be conditional) or say in its description how to undo it",
            )
    if runbook.metadata.severity == Severity.CRITICAL:
        for i, step in enumerate(runbook.steps):
            if spec_for(step.action).destructive and step.approval != "required":
                yield (
                    ("steps", i, "action"),
                    f"step {step.id!r} ({step.action}) is destructive "
                    "in a critical runbook: add approval: required",
                )
    yield from _params(runbook)
    yield from _maybe_missing_outputs(runbook)


def _maybe_missing_outputs(runbook: Runbook) -> Iterator[tuple[tuple[str | int, ...], str]]:
    uncertain: dict[str, tuple[str, str | None]] = {}  # step id -> (why, its when:)
    for i, step in enumerate(runbook.steps):
        sources = list(_strings(step.with_))
        if step.when is not None:
            sources.append(f"{{{{ {step.when} }}}}")
        read = {ref for source in sources for ref in _steps_read(source)}
        for other in sorted(read & set(uncertain)):
            why, when = uncertain[other]
            if when is not None and when == step.when:
                continue  # both run under the same condition
            yield (
                ("steps", i),
                f"step {step.id!r} reads the outputs of step {other!r}, which has none when it "
                f"{why}: give this step the same when:",
            )
        if step.when is not None:
            uncertain[step.id] = ("is skipped (when: false)", step.when)
        elif step.on_failure == "continue":
            uncertain[step.id] = ("fails (on_failure: continue)", None)


def _steps_read(source: str) -> set[str]:
    try:
        check_syntax(source)
        return {ref[1] for ref in references(source) if ref[0] == "steps" and len(ref) > 1}
    except TemplateFailure:
        return set()


def _params(runbook: Runbook) -> Iterator[tuple[tuple[str | int, ...], str]]:
    in_with: set[str] = set()
    in_when: set[str] = set()
    for step in runbook.steps:
        for value in _strings(step.with_):
            in_with |= _params_read(value)
        if step.when is not None:
            in_when |= _params_read(f"{{{{ {step.when} }}}}")
    for name, param in runbook.params.items():
        if name not in in_with | in_when:
            yield ("params", name), f"param {name!r} is not read by any step"
        elif name in in_with and not param.required and param.default is None:
            yield (
                ("params", name),
                f"param {name!r} has no default and is not required: left unset, a with: "
                'template renders it as the text "None"; give it a default ("" means not '
                "given) or make it required",
            )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif is_template(value):
        yield value


def _params_read(source: str) -> set[str]:
    try:
        check_syntax(source)
        return {ref[1] for ref in references(source) if ref[0] == "params" and len(ref) > 1}
    except TemplateFailure:  # the loader reports the syntax error; still, the param is read
        return set(_PARAM_REF.findall(source))
