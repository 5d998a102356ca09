"""Warnings a reviewer wants before an incident, not errors: the runbook still runs.

- containment (scale) before collect: evidence in memory and logs of running pods is lost when
  they stop, so RFC 3227's order of volatility says collect first;
- isolate with no way back: no release step and no word on how to undo it;
- a destructive step (scale, cordon) without ``approval: required`` in a critical runbook.
"""

from __future__ import annotations

from collections.abc import Iterator

from irkit.runbook.model import DESTRUCTIVE, Action, Runbook, Severity


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
            if step.action in DESTRUCTIVE and step.approval != "required":
                yield (
                    ("steps", i, "action"),
                    f"step {step.id!r} ({step.action}) is destructive "
                    "in a critical runbook: add approval: required",
                )
