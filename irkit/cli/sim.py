"""``irkit sim``: run the simulated cluster, or a short guided look at it (the demo)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.console import echo
from irkit.cli.errors import reported_errors

sim_app = typer.Typer(
    help="The simulated Kubernetes cluster, for drills, tests and practice.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: see irkit.cli.app
)

DEFAULT_SCENARIO = (
    Path(__file__).resolve().parent.parent / "sim" / "scenarios" / "compromised-pod.yaml"
)

ScenarioOpt = Annotated[
    Path | None,
    typer.Option(
        "--scenario",
        "-s",
        help="Scenario YAML file (default: the bundled compromised-pod scenario).",
    ),
]


@sim_app.command("serve")
def serve(
    scenario: ScenarioOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 0,
    kubeconfig_out: Annotated[
        Path | None, typer.Option("--kubeconfig-out", help="Where to write the kubeconfig.")
    ] = None,
    audit_log: Annotated[
        Path | None, typer.Option("--audit-log", help="Audit log file (JSON lines).")
    ] = None,
    empty: Annotated[bool, typer.Option("--empty", help="Start with no scenario at all.")] = False,
) -> None:
    """Run the simulated cluster until Ctrl-C."""
    from irkit.sim.cluster import SimCluster

    with reported_errors():
        chosen = None if empty else (scenario or DEFAULT_SCENARIO)
        sim = SimCluster(
            chosen, port=port, kubeconfig_path=kubeconfig_out, audit_log=audit_log, keep_files=True
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with sim:
            echo(f"irkit sim serving {sim.url} (scenario: {sim.scenario.name})")
            echo(f"kubeconfig: {sim.kubeconfig_path}")
            echo(f"audit log: {sim.audit_log_path}")
            echo(f"export KUBECONFIG={sim.kubeconfig_path}", err=False)
            echo("Ctrl-C stops it.", err=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
        echo(f"stopped; audit log kept at {sim.audit_log_path}", err=True)


@sim_app.command("demo")
def demo(scenario: ScenarioOpt = None) -> None:
    """Start the simulated cluster, look around it as a responder would, stop it."""
    from irkit.cli.demo import run_demo

    with reported_errors():
        run_demo(scenario or DEFAULT_SCENARIO)
