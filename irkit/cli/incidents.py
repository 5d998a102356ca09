"""``irkit incidents``: the incidents in the state directory, and ``irkit incidents show ID``.

Wiring only: ``irkit.engine.incidents`` reads the folders; this prints a table (or JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from irkit.cli.common import Output, check_output
from irkit.cli.console import echo, print_data
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from irkit.engine.incidents import IncidentSummary

incidents_app = typer.Typer(
    help="The incidents irkit knows (runs and commands journaled under the state directory)."
)

IncidentsDir = Annotated[
    Path | None,
    typer.Option(
        "--incidents-dir",
        help="Folder holding <id>/ (default: IRKIT_RUN_INCIDENTS_DIR, or $IRKIT_HOME/incidents).",
    ),
]


@incidents_app.callback(invoke_without_command=True)
def incidents(
    ctx: typer.Context, incidents_dir: IncidentsDir = None, output: Output = "text"
) -> None:
    """List incidents, latest activity first: status, started, last event, runbook, steps."""
    if ctx.invoked_subcommand is not None:
        return
    from irkit.cli.common import incidents_dir as default_dir
    from irkit.engine.incidents import list_incidents
    from irkit.incident.store import FileStore

    with reported_errors():
        check_output(output)
        base = incidents_dir or default_dir()
        found = list_incidents(FileStore(base), base)
        if output != "text":
            print_data(
                {"incidents_dir": str(base), "incidents": [s.to_json(detail=False) for s in found]},
                output,
            )
            return
        if not found:
            echo(f"no incidents in {base}")
            return
        rows = [
            (s.id, s.status, s.started, s.last_event, s.runbook or "-", _steps(s)) for s in found
        ]
        _table(("ID", "STATUS", "STARTED", "LAST EVENT", "RUNBOOK", "OK/PARTIAL/FAILED"), rows)


@incidents_app.command("show")
def show(
    incident: Annotated[str, typer.Argument(help="The incident id.", show_default=False)],
    incidents_dir: IncidentsDir = None,
    output: Output = "text",
) -> None:
    """One incident: its status, each step's last outcome, and the commands run for it."""
    from irkit.cli.common import incidents_dir as default_dir
    from irkit.engine.incidents import show as read
    from irkit.engine.result import resume_line
    from irkit.incident.store import FileStore

    with reported_errors():
        check_output(output)
        base = incidents_dir or default_dir()
        summary = read(FileStore(base), base, incident)
        if output != "text":
            print_data(summary.to_json(), output)
            return
        echo(f"incident {summary.id}: {summary.status}")
        for label, value in (
            ("folder", summary.folder),
            ("runbook", summary.runbook),
            ("started", summary.started),
            ("last event", summary.last_event),
            ("steps ok/partial/failed", _steps(summary)),
        ):
            if value:
                echo(f"  {label}: {value}")
        if summary.steps:
            echo("steps:")
            for step in summary.steps:
                why = step.error or step.note
                echo(f"  {step.id} ({step.action}): {step.status}" + (f" - {why}" if why else ""))
                for warning in step.warnings:
                    echo(f"    WARNING {warning}")
        if summary.commands:
            echo("commands:")
            for c in summary.commands:
                line = f"  {c.time} irkit {c.command} {c.target}: {c.result}"
                echo(line + (f" - {c.error}" if c.error else ""))
        for note in summary.notes:
            echo(f"  note: {note}")
        if summary.status in ("interrupted", "stopped", "failed"):
            args = ["--incidents-dir", str(incidents_dir)] if incidents_dir else []
            args += [a for name in summary.secret_params for a in ("--set", f"{name}=...")]
            echo(f"continue with: {resume_line(summary.id, tuple(args), yes=False)}")


def _steps(s: IncidentSummary) -> str:
    return f"{s.ok}/{s.partial}/{s.failed}" if s.steps else "-"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
