"""``irkit run``: run a runbook (or plan it with ``--dry-run``, or resume it with ``--resume``).

Exit codes (docs/cli.md): 0 completed; 3 stopped before a step that needs approval, or
completed with failed ``on_failure: continue`` steps or with partial steps; a failed run exits
with its error's code (4 not found, 5 forbidden, 1 other); 2 for bad input (params, alert,
templates) before any step ran; 1 when another run holds the incident.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from irkit.cli.common import (
    Context,
    DryRun,
    Incident,
    Kubeconfig,
    Output,
    check_output,
    command_line,
)
from irkit.cli.console import echo, print_data
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from irkit.engine.result import RunResult


def run(
    runbook: Annotated[
        Path | None,
        typer.Argument(
            help="Runbook YAML file; with --resume, the journal names it.", show_default=False
        ),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A param, NAME=VALUE (repeatable).")
    ] = None,
    alert_file: Annotated[
        Path | None,
        typer.Option("--alert-file", help="The alert (Alertmanager or Falco JSON); - for stdin."),
    ] = None,
    incident: Incident = None,
    dry_run: DryRun = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve the steps marked approval: required.")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue incident ID's run after its last finished step."),
    ] = None,
    allow_changed: Annotated[
        bool,
        typer.Option(
            "--allow-changed", help="With --resume: accept a runbook changed since the run began."
        ),
    ] = False,
    incidents_dir: Annotated[
        Path | None,
        typer.Option(
            "--incidents-dir",
            help="Folder holding <id>/ (default: IRKIT_RUN_INCIDENTS_DIR, or "
            "$IRKIT_HOME/incidents).",
        ),
    ] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    s3_endpoint: Annotated[
        str | None,
        typer.Option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", help="S3 endpoint for collect."),
    ] = None,
    output: Output = "text",
) -> None:
    """Run a runbook's steps in order, journaled in the incident's folder; --dry-run plans."""
    from dataclasses import replace

    from irkit.cli.run_wiring import adapters, read_alert
    from irkit.engine import run as run_engine
    from irkit.engine.params import parse_sets
    from irkit.errors import NotFound, UsageError
    from irkit.incident.ids import check_incident_id, incident_or_new
    from irkit.incident.state import read_state
    from irkit.incident.store import FileStore
    from irkit.runbook.loader import load_runbook
    from irkit.settings import RunSettings, from_env

    with reported_errors():
        check_output(output)
        settings = from_env(RunSettings, "IRKIT_RUN_")
        if incidents_dir is not None:
            settings = replace(settings, incidents_dir=str(incidents_dir))
        store = FileStore(Path(settings.incidents_dir))
        if resume is not None:
            if incident and incident != resume:
                raise UsageError(f"--incident {incident} and --resume {resume} disagree")
            inc = check_incident_id(resume)
            if runbook is None:
                notes: list[str] = []
                state = read_state(store.read(inc, notes), notes)
                path = str((state.runbook if state else {}).get("path") or "")
                if not path:
                    raise NotFound(
                        f"incident {inc} has no run to resume (no journal in "
                        f"{settings.incidents_dir}/{inc}/)",
                        hint="irkit incidents lists the known ones; check --incidents-dir "
                        "and IRKIT_HOME",
                    )
                runbook = Path(path)
        elif runbook is None:
            raise UsageError("give a RUNBOOK file (or --resume ID)")
        else:
            inc = incident_or_new(incident)
        params = parse_sets(set_ or [])
        alert = read_alert(alert_file, settings.alert_max_bytes)
        loaded = load_runbook(runbook)
        result = run_engine(
            loaded,
            params=params,
            alert=alert,
            incident=inc,
            adapters=adapters(kubeconfig, context, s3_endpoint, output, store),
            dry_run=dry_run,
            yes=yes,
            resume=resume is not None,
            allow_changed=allow_changed,
            settings=settings,
            command=command_line(),
        )
        _report(result, output)
        _exit(result)


def _report(result: RunResult, output: str) -> None:
    if output != "text":
        print_data(result.to_json(), output)
        return
    if result.status == "dry-run":
        _print_plan(result)
    counts: dict[str, int] = {}
    for step in result.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    echo(f"run {result.status}: {result.runbook}, incident {result.incident} ({summary})")
    if result.journal is not None:
        echo(f"journal: {result.journal}")


def _print_plan(result: RunResult) -> None:
    import yaml

    echo("# dry run (server-side): nothing was changed")
    for step in result.steps:
        echo(f"--- # step {step.id} ({step.action}): {step.status}")
        body = {"with": step.rendered, **step.plan}
        if step.error:
            body["error"] = step.error
        echo(yaml.safe_dump(body, sort_keys=False, default_flow_style=False).rstrip(), block=True)


def _exit(result: RunResult) -> None:
    from irkit.engine.result import resume_line
    from irkit.errors import PartialError

    if result.status == "failed" and result.error is not None:
        raise result.error
    if result.status == "stopped":
        raise PartialError(
            f"stopped before step {result.awaiting!r}: it needs approval",
            hint=f"approve and continue: {result.resume_command}",
        )
    if result.failed_steps:
        raise PartialError(
            f"completed, but these steps failed (on_failure: continue): "
            f"{', '.join(result.failed_steps)}",
            hint="the journal has each error; fix the cause, then "
            f"{resume_line(result.incident, result.resume_args, yes=False)} runs the failed "
            "steps again",
        )
    if result.partial_steps:
        raise PartialError(
            "completed, but these steps did only part of their job: "
            f"{', '.join(result.partial_steps)}",
            hint="the WARNING lines above (also in the journal and the RCA) say what is missing;"
            " a step with require: complete fails instead",
        )
