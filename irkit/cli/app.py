"""The ``irkit`` command. Sub-commands live in their own modules and import heavy libraries late.

Help is plain text (``rich_markup_mode=None``): help strings such as ``NAMESPACE[/SELECTOR]``
are not rich markup, and must never crash ``--help``. ``-h`` is ``--help`` everywhere, as in
kubectl; ``--install-completion`` / ``--show-completion`` set up shell completion.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from irkit import __version__
from irkit.cli.collect import collect, verify
from irkit.cli.console import echo, install_log_handler, traceback_cleaned
from irkit.cli.drill import drill
from irkit.cli.incidents import incidents_app
from irkit.cli.isolate import isolate, release
from irkit.cli.preflight import preflight, rbac
from irkit.cli.rca import rca
from irkit.cli.run import run
from irkit.cli.runbooks import schema, validate
from irkit.cli.scale import restore, scale
from irkit.cli.serve import approve, serve
from irkit.cli.sim import sim_app

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="irkit",
    help="Kubernetes incident response: isolate, collect evidence, contain, and write the RCA.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=HELP_OPTIONS,
)
app.add_typer(sim_app, name="sim")
app.add_typer(incidents_app, name="incidents")
app.command()(isolate)
app.command()(release)
app.command()(scale)
app.command()(restore)
app.command()(collect)
app.command()(verify)
app.command()(validate)
app.command()(schema)
app.command()(preflight)
app.command()(rbac)
app.command()(rca)
app.command()(run)
app.command()(serve)
app.command()(approve)
app.command()(drill)


def _print_version(value: bool) -> None:
    if value:
        echo(f"irkit {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print irkit's version and exit.",
        ),
    ] = False,
) -> None:
    """Kubernetes incident response: isolate, collect evidence, contain, and write the RCA."""


@app.command()
def version() -> None:
    """Print irkit's version."""
    echo(__version__)


def main() -> None:
    install_log_handler()
    try:
        app(prog_name="irkit")
    except Exception as e:  # typer re-raises what it does not know; SystemExit passes by
        traceback_cleaned(e)
        sys.exit(1)
