"""``label`` and ``annotate`` as runbook steps: keys set or removed on the target's pods."""

from __future__ import annotations

from typing import cast

from pydantic import model_validator

from irkit.actions import label as label_action
from irkit.actions.inputs import Targeted
from irkit.actions.needs import on, resolving
from irkit.actions.spec import ActionSpec, Runner, StepCall, StepOutcome, plan, status
from irkit.actions.undo import metadata
from irkit.errors import UsageError
from irkit.model.labels import check


class LabelInput(Targeted):
    """Set or remove labels (label) or annotations (annotate) on the target's pods."""

    set: dict[str, str] = {}
    """Keys and values to set."""
    remove: list[str] = []
    """Keys to remove."""

    @model_validator(mode="after")
    def _keys(self) -> LabelInput:
        """The label action's own key rules (``irkit.io/*`` is irkit's), so ``irkit validate``
        refuses what the run would; template keys are checked once rendered."""
        keys = [k for k in [*self.set, *self.remove] if not _templated(k)]
        try:
            if keys:
                check(dict.fromkeys(keys, ""), [], annotate=True)
        except UsageError as e:
            raise ValueError(str(e).replace("annotation key", "key")) from None
        return self


def _templated(key: str) -> bool:
    """Still a template (``irkit.runbook.templating.is_template``): checked once rendered."""
    return "{{" in key or "{%" in key


def _runner(annotate: bool) -> Runner:
    def run(call: StepCall) -> StepOutcome:
        inp = cast(LabelInput, call.inputs)
        r = label_action.label(
            call.adapters.cluster,
            call.tgt,
            set=dict(inp.set),
            remove=list(inp.remove),
            annotate=annotate,
            dry_run=call.dry_run,
            changes=call.changes,
        )
        note = f"{r.field} of {len(r.changed)} of {len(r.pods)} pod(s) changed"
        return StepOutcome(status(call), label_action.outputs(r), note, plan(call))

    return run


def _spec(name: str, annotate: bool) -> ActionSpec:
    return ActionSpec(
        name=name,
        inputs=LabelInput,
        outputs=frozenset({"pods"}),
        needs=(*resolving(), *on("patch", ["pods"])),
        runner=_runner(annotate),
        mutating=True,
        undo=metadata(name),
    )


LABEL = _spec("label", annotate=False)
ANNOTATE = _spec("annotate", annotate=True)
