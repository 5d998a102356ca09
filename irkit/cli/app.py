"""The ``irkit`` command. Sub-commands live in their own modules and import heavy libraries late."""

from __future__ import annotations

import typer

from irkit import __version__
from irkit.cli.collect import collect, verify
from irkit.cli.incidents import incidents_app
from irkit.cli.isolate import isolate, release
from irkit.cli.preflight import preflight, rbac
from irkit.cli.rca import rca
from irkit.cli.run import run
from irkit.cli.runbooks import schema, validate
from irkit.cli.scale import restore, scale
from irkit.cli.sim import sim_app

app = typer.Typer(
    name="irkit",
    help="Kubernetes incident response: isolate, collect evidence, contain, and write the RCA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


@app.command()
def version() -> None:
    """Print irkit's version."""
    typer.echo(__version__)


def main() -> None:
    app()
