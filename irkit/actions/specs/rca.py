"""``rca`` as a runbook step: the RCA draft written from the journal and the evidence.

The writing itself is the engine's (``irkit.engine.rca.write_rca``, reached through
``Ports.rca``): it reads the incident's journal and bundles. What is checked here is where:
paths may come from templates (alert data), so they are kept where they belong.
"""

from __future__ import annotations

from typing import Any, cast

from irkit.actions.inputs import Input
from irkit.actions.spec import ActionSpec, StepCall, StepInfo, StepOutcome
from irkit.errors import UsageError
from irkit.model.target import Target


class RcaInput(Input):
    """Write the RCA draft (Markdown) from the journal and the evidence manifests."""

    template: str | None = None
    """A Jinja2 template file to use instead of irkit's: a path relative to the runbook's
    folder, without '..'."""
    output: str | None = None
    """A file name ending in .md (no '/', not starting with '.') in the incident's folder,
    instead of rca.md."""


def run(call: StepCall) -> StepOutcome:
    inp = cast(RcaInput, call.inputs)
    out = call.paths.root / inp.output if inp.output else call.paths.rca
    if call.dry_run:
        return StepOutcome("dry-run", {"path": str(out)}, f"would write {out}", {"path": str(out)})
    template = call.runbook_dir / inp.template if inp.template else None
    write = call.adapters.rca
    path = write(
        call.paths,
        store=call.adapters.store,
        template=template,
        out=out,
        status=call.run_status or None,
    )
    return StepOutcome("ok", {"path": str(path)}, f"wrote {path}")


def _paths(step: StepInfo, inputs: Any, target: Target | None) -> None:
    inp = cast(RcaInput, inputs)
    _check_output(inp.output)
    _check_inside("template", inp.template, "the runbook's folder")


def _check_output(name: str | None) -> None:
    """A plain ``*.md`` file name in the incident folder: never the journal, the lock or
    evidence, whatever a template (alert data) renders."""
    if name is None:
        return
    if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".md"):
        raise UsageError(
            f"rca output {name[:80]!r}: give a file name ending in .md (no '/', not starting "
            "with '.'); it is written in the incident folder"
        )


def _check_inside(name: str, path: str | None, where: str) -> None:
    if path is None:
        return
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "~")) or ".." in parts or not path.strip():
        raise UsageError(
            f"rca {name} {path[:80]!r}: give a path inside {where} (relative, no '..')"
        )


RCA = ActionSpec(
    name="rca",
    inputs=RcaInput,
    outputs=frozenset({"path"}),
    needs=(),  # reads the journal and the bundle on disk
    runner=run,
    check=_paths,
)
