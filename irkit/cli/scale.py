"""``irkit scale`` and ``irkit restore``: containment by replicas, and its undo."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from irkit.cli.common import (
    Context,
    DryRun,
    Incident,
    JournalPath,
    Kubeconfig,
    Namespace,
    Output,
    check_output,
    connect_cluster,
    journals,
    redacted_argv,
    target_in,
)
from irkit.cli.console import console, echo, print_data
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from irkit.actions.scale import ScaleResult
    from irkit.actions.scale_hpa import HpaChange
    from irkit.model.target import Target

WorkloadArg = Annotated[
    str | None,
    typer.Argument(
        help="deployment/NAME or statefulset/NAME (DaemonSets and pods: use irkit isolate).",
        show_default=False,
    ),
]
WorkloadSelector = Annotated[
    str | None,
    typer.Option(
        "--selector",
        "-l",
        help="Every Deployment and StatefulSet whose OWN labels match (not their pods' labels).",
    ),
]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the pods are gone (or back).")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds --wait waits at most.")]


def scale(
    target: WorkloadArg = None,
    namespace: Namespace = None,
    selector: WorkloadSelector = None,
    replicas: Annotated[int, typer.Option("--replicas", help="Replicas to scale to.")] = 0,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also remove HorizontalPodAutoscalers that target the workload (saved on it; "
            "restore recreates them). Without it an HPA makes scale refuse.",
        ),
    ] = False,
    wait: Wait = False,
    timeout: Timeout = 120.0,
    dry_run: DryRun = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    journal: JournalPath = None,
    incident: Incident = None,
    output: Output = "text",
) -> None:
    """Stop the blast: scale Deployments/StatefulSets down, remembering their replicas.

    The first scale records the replicas in irkit.io/original-replicas; restore puts them back.
    -l matches the workloads' OWN labels (kubectl get deploy,sts --show-labels), not their pods'.
    A HorizontalPodAutoscaler on the workload could scale it back up, so scale refuses; --force
    saves the HPA on the workload (irkit.io/original-hpas) and deletes it; restore recreates it.
    DaemonSets, ReplicaSets and bare pods cannot be scaled: use irkit isolate.
    """
    from irkit.actions.scale import check_scalable
    from irkit.engine.command import scale as run
    from irkit.errors import PartialError, UsageError
    from irkit.incident.ids import incident_or_new

    with reported_errors():
        check_output(output)
        tgt = target_in(namespace, target, selector, kubeconfig, context)
        check_scalable(tgt)
        if replicas < 0:
            raise UsageError(f"--replicas must be 0 or more, not {replicas}")
        inc = incident_or_new(incident)
        cluster = connect_cluster(kubeconfig, context)
        result = run(
            cluster,
            tgt,
            journals(journal),
            incident=inc,
            replicas=replicas,
            force=force,
            wait=wait,
            wait_timeout=timeout,
            dry_run=dry_run,
            argv=redacted_argv(),
        )
        _report(result, tgt, output)
        if result.skipped:
            raise PartialError(
                f"{', '.join(result.skipped)} also matched -l {selector} and kept running: "
                "DaemonSets cannot be scaled",
                hint=f"irkit isolate {result.skipped[0]} -n {tgt.namespace}",
            )


def restore(
    target: WorkloadArg = None,
    namespace: Namespace = None,
    selector: WorkloadSelector = None,
    wait: Wait = False,
    timeout: Timeout = 120.0,
    dry_run: DryRun = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    journal: JournalPath = None,
    incident: Annotated[
        str | None,
        typer.Option(
            "--incident",
            "-i",
            envvar="IRKIT_INCIDENT",
            help="Incident id (default: the one recorded on the workload by scale).",
        ),
    ] = None,
    output: Output = "text",
) -> None:
    """Undo scale: put back the recorded replicas and HPAs, then remove the records.

    A workload irkit did not scale is left alone ("nothing to restore"): running it twice is safe.
    """
    from irkit.actions.scale import check_scalable
    from irkit.engine.command import restore as run
    from irkit.incident.ids import check_incident_id

    with reported_errors():
        check_output(output)
        tgt = target_in(namespace, target, selector, kubeconfig, context)
        check_scalable(tgt, "restore")
        inc = check_incident_id(incident) if incident else ""
        cluster = connect_cluster(kubeconfig, context)
        result = run(
            cluster,
            tgt,
            journals(journal),
            incident=inc,
            wait=wait,
            wait_timeout=timeout,
            dry_run=dry_run,
            argv=redacted_argv(),
        )
        _report(result, tgt, output)


def _report(result: ScaleResult, target: Target, output: str) -> None:
    if output != "text":
        print_data(result.to_json(), output)
        return
    rows = [
        (w.ref, _replicas(w.before, w.after), _hpas(w.hpas), _status(result, w.status))
        for w in result.workloads
    ]
    if sys.stdout.isatty():
        from rich.table import Table

        title = f"{result.command} in namespace {result.namespace}"
        table = Table(title=title + (" (dry run)" if result.dry_run else ""))
        for column in ("WORKLOAD", "REPLICAS", "HPA", "STATUS"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console().print(table)
    else:
        for ref, count, hpas, status in rows:
            echo(f"{ref}: {status} (replicas {count})" + (f"; hpa {hpas}" if hpas else ""))
    if result.dry_run:
        echo("dry run (server-side): nothing was changed")
    elif result.command == "scale" and result.changed:
        echo(f"incident {result.incident}; undo with: irkit restore {target}")


def _replicas(before: int, after: int) -> str:
    return f"{before} -> {after}" if before != after else str(after)


def _hpas(hpas: tuple[HpaChange, ...]) -> str:
    return ", ".join(
        f"{h.action} {h.name} (min {h.min_replicas}, max {h.max_replicas})" for h in hpas
    )


def _status(result: ScaleResult, status: str) -> str:
    if status == "unchanged":
        return "nothing to restore" if result.command == "restore" else "unchanged"
    return f"would be {status}" if result.dry_run else status
