"""``irkit drill``: rehearse a runbook against a scenario, and print its scorecard.

Exit codes: 0 every must-pass check passed; 1 one failed (teams gate runbook repositories on
it); 2 bad input (scenario, runbook, --inject) before anything started.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from irkit.cli.common import Context, Kubeconfig, Output, check_output
from irkit.cli.console import console, echo, print_data
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from rich.text import Text

    from irkit.cluster.port import Cluster
    from irkit.drill.report import Trend
    from irkit.drill.runner import DrillOutcome


def drill(
    runbook: Annotated[
        Path | None,
        typer.Argument(
            help="Runbook YAML file (default: the one the scenario's drill: section names).",
            show_default=False,
        ),
    ] = None,
    scenario: Annotated[
        Path,
        typer.Option("--scenario", help="Scenario file with a drill: section.", show_default=False),
    ] = Path(),
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="On the real cluster of --kubeconfig/--context, in a namespace irkit-drill-<id> "
            "created and deleted for it (nothing else is touched).",
        ),
    ] = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    inject: Annotated[
        list[str] | None,
        typer.Option(
            "--inject",
            help="KIND@STEP: second-pod, throttle or s3-denied before STEP (repeatable).",
        ),
    ] = None,
    interactive: Annotated[
        bool,
        typer.Option(
            "--interactive",
            help="Tabletop: show the alert, record answers, pause for notes at every step.",
        ),
    ] = False,
    notify_for_real: Annotated[
        bool,
        typer.Option(
            "--notify-for-real",
            help="On the simulator, send the runbook's notifications (default: recorded, "
            "listed in the report).",
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Folder for the Markdown and JSON reports (default: the drill's incident folder).",
        ),
    ] = None,
    output: Output = "text",
) -> None:
    """Rehearse a runbook on a scenario (the simulator, or --live) and score the response."""
    from dataclasses import replace

    from irkit.drill.report import trend, write_reports
    from irkit.drill.runner import DrillPorts, DrillRequest, run_drill
    from irkit.drill.scenario import escaping_runbook, load_drill, parse_inject
    from irkit.drill.score import passed
    from irkit.drill.tabletop import Tabletop
    from irkit.errors import UsageError
    from irkit.settings import RunSettings, from_env

    with reported_errors():
        check_output(output)
        if scenario == Path():
            raise UsageError("give --scenario FILE (a scenario with a drill: section)")
        loaded = load_drill(scenario)
        path = runbook or loaded.runbook
        if path is None:
            raise UsageError(
                f"give a RUNBOOK: {scenario}'s drill: section names none (drill.runbook)"
            )
        if not path.is_file():
            raise UsageError(f"runbook {path}: no such file")
        if runbook is None and (escapes := escaping_runbook(scenario, path)):
            raise UsageError(escapes)
        injects = (*loaded.spec.injects, *(parse_inject(i) for i in inject or ()))
        settings = from_env(RunSettings, "IRKIT_RUN_")
        incidents = Path(settings.incidents_dir)
        drill_id = new_drill_id(loaded.scenario.name)
        to_stderr = output != "text"

        def progress(line: str) -> None:
            echo(line, err=to_stderr)

        def ask(prompt: str) -> str | None:
            return _ask(prompt, to_stderr)

        tabletop = Tabletop(ask=ask, say=progress) if interactive else None
        ports = DrillPorts(connect=_connect, output=progress, tabletop=tabletop)
        request = DrillRequest(
            loaded, path, drill_id, incidents, tuple(injects), live, kubeconfig, context
        )
        request = replace(request, notify_for_real=notify_for_real)
        if not live:
            request = replace(request, kubeconfig=None, context=None)
        outcome = run_drill(request, ports)
        the_trend = trend(outcome, incidents)
        folder = report or Path(outcome.incident_dir)
        json_path, md_path = write_reports(outcome, the_trend, folder)
        if output != "text":
            from irkit.drill.report import report_data

            print_data(report_data(outcome, the_trend), output)
        else:
            _scorecard(outcome, the_trend)
            for sent in outcome.notifications:
                echo(f"notification recorded, not sent: {sent}")
            echo(f"reports: {md_path}, {json_path}")
        if not passed(outcome.checks):
            raise typer.Exit(1)


def new_drill_id(scenario: str) -> str:
    now = datetime.now(UTC)
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in scenario.lower())[:24]
    return f"drill-{name.strip('-') or 'scenario'}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _connect(kubeconfig: str | None, context: str | None) -> Cluster:
    from irkit.cli.common import connect_cluster

    return connect_cluster(kubeconfig, context)


def _ask(prompt: str, err: bool) -> str | None:
    """One line from stdin (a tty in tmux, or a script's pipe); None at its end. The prompt
    goes where the progress goes (stderr with -o json|yaml, so stdout stays data)."""
    echo(prompt, nl=False, err=err)
    line = sys.stdin.readline()
    if not line:
        echo("", err=err)
        return None
    return line.rstrip("\n")


def _cell(text: str) -> Text:
    """A table cell from text that may quote the alert or the cluster (hostile): plain text,
    never markup, with control characters (terminal escapes) shown as ``?``."""
    from rich.text import Text

    return Text("".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in text))


def _scorecard(outcome: DrillOutcome, the_trend: Trend) -> None:
    from rich.table import Table

    from irkit.drill.score import passed

    ok = passed(outcome.checks)
    title = f"drill {outcome.drill_id}: {outcome.scenario} with {Path(outcome.runbook).name}"
    table = Table(title=_cell(title), title_justify="left")
    for column in ("CHECK", "RESULT", "MEASURED", "EXPECTED", "DETAIL"):
        table.add_column(column, overflow="fold")
    for c in outcome.checks:
        mark = c.status.upper() + ("" if c.must_pass else " (info)")
        table.add_row(*(_cell(x) for x in (c.name, mark, c.value, c.budget, c.detail)))
    out = console()
    if not out.is_terminal:  # a pipe or a file (CI logs): wide enough for the details
        out.width = 120
    out.print(table)
    echo(the_trend.line)
    echo(
        f"drill {'PASSED' if ok else 'FAILED'}: "
        + (
            "every must-pass check passed"
            if ok
            else "failed must-pass checks: "
            + ", ".join(c.name for c in outcome.checks if c.must_pass and c.status == "fail")
        )
    )
