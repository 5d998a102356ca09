"""``irkit isolate`` and ``irkit release``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from irkit.cli.common import (
    Context,
    DryRun,
    Incident,
    JournalPath,
    Kubeconfig,
    Namespace,
    Output,
    Selector,
    TargetArg,
    check_output,
    command_line,
    connect_cluster,
    journals,
    redacted_argv,
    target_in,
)
from irkit.cli.console import echo, print_data
from irkit.cli.errors import reported_errors

ISOLATE_REMEDY = (
    "remedy: remove or narrow those policies; isolate with --strict to fail instead, or with "
    "--scope pod --detach to take the pod out of their selectors"
)


def isolate(
    target: TargetArg = None,
    namespace: Namespace = None,
    selector: Selector = None,
    scope: Annotated[
        str | None,
        typer.Option(
            help="workload: select the owner's pods (default for workloads); "
            "pod: quarantine one pod by label (default for pod/NAME)."
        ),
    ] = None,
    allow_dns: Annotated[bool, typer.Option("--allow-dns", help="Allow DNS to kube-dns.")] = False,
    allow_cidr: Annotated[
        list[str] | None, typer.Option("--allow-cidr", help="Allow to/from this CIDR (repeatable).")
    ] = None,
    allow_to: Annotated[
        list[str] | None,
        typer.Option("--allow-to", help="Allow to/from NAMESPACE[/SELECTOR] (repeatable)."),
    ] = None,
    detach: Annotated[
        bool, typer.Option(help="With --scope pod: remove the labels Services and owner select on.")
    ] = False,
    strict: Annotated[
        bool, typer.Option(help="Fail if other NetworkPolicies still allow traffic to the pods.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why, recorded on the policy.")] = "",
    incident: Incident = None,
    dry_run: DryRun = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    journal: JournalPath = None,
    output: Output = "text",
) -> None:
    """Cut a workload off the network with a deny-all NetworkPolicy selecting exactly its pods."""
    from irkit.actions.isolate import IsolateRequest
    from irkit.actions.netpol import AllowList
    from irkit.engine.command import isolate as run
    from irkit.errors import UsageError
    from irkit.incident.ids import incident_or_new

    with reported_errors():
        check_output(output)
        if scope not in (None, "workload", "pod"):
            raise UsageError(f"--scope must be workload or pod, not {scope!r}")
        tgt = target_in(namespace, target, selector, kubeconfig, context)
        inc = incident_or_new(incident)
        allow = AllowList(allow_dns, tuple(allow_cidr or ()), tuple(allow_to or ())).check()
        cluster = connect_cluster(kubeconfig, context)
        req = IsolateRequest(  # join_existing: the quarantine's incident, if any, is the one
            incident=inc,
            actor=cluster.identity.user,
            command=command_line(),
            reason=reason,
            scope="pod" if scope == "pod" else "workload" if scope == "workload" else None,
            allow=allow,
            detach=detach,
            strict=strict,
            dry_run=dry_run,
            join_existing=incident is None,
        )
        argv = redacted_argv()
        result = run(cluster, tgt, req, journals(journal), argv=argv, remedy=ISOLATE_REMEDY)
        inc = result.incident
        _report_isolate(result, inc, output)
        if result.partial:
            raise _partial(result, tgt, inc, context)


def _report_isolate(result: Any, incident: str, output: str) -> None:
    if output != "text":
        print_data(
            {
                "incident": incident,
                "policy": result.policy_name,
                "status": result.status,
                "namespace": result.namespace,
                "pods": result.pods,
                "labelled": result.labelled,
                "detached": result.detached,
                "warnings": result.warnings,
                "partial": result.partial,
                "leaks": [leak.to_json() for leak in result.leaks],
                "dry_run": result.dry_run,
            },
            output,
        )
        return
    if result.dry_run:
        import yaml

        echo("# dry run (server-side): nothing was changed\n---")
        echo(yaml.safe_dump(result.policy, sort_keys=False).rstrip(), block=True)
        for change in result.changes:
            if change.kind == "Pod":
                echo(f"# would label pod/{change.name}: {change.after}")
        _print_leaks(result, "# ")
        return
    verb = {"created": "created", "updated": "updated", "unchanged": "unchanged (already in place)"}
    echo(f"networkpolicy/{result.policy_name} {verb[result.status]} in {result.namespace}")
    echo(f"pods isolated ({len(result.pods)}): {', '.join(result.pods) or '(none yet)'}")
    for pod, labels in result.detached.items():
        echo(
            f"detached pod/{pod}: removed labels {', '.join(f'{k}={v}' for k, v in labels.items())}"
        )
    if not result.changes:
        echo("nothing changed: already isolated")
    echo(f"incident {incident}; undo with: irkit release {result.target}")
    _print_leaks(result)


def _print_leaks(result: Any, prefix: str = "") -> None:
    for leak in result.leaks:
        why = f"still allows {leak.direction} {leak.why}"
        echo(f"{prefix}PARTIAL NetworkPolicy {leak.policy!r} {why}")


def _partial(result: Any, target: Any, incident: str, context: str | None) -> Exception:
    """Exit 3: the deny-all policy is in place, but policies add up and others let traffic in."""
    from irkit.errors import PartialError

    names = sorted({leak.policy for leak in result.leaks})
    pod = f"pod/{result.pods[0]}" if result.pods else "pod/NAME"
    where = f"-n {target.namespace} -i {incident}" + (f" --context {context}" if context else "")
    return PartialError(
        f"isolation is partial: {len(names)} other NetworkPolicy(ies) still allow traffic to "
        f"or from these pods ({', '.join(names)})",
        hint="re-run with --strict to fail instead of isolating partially, or take single pods "
        f"out of those policies' reach: irkit isolate {pod} {where} --scope pod --detach; "
        "or narrow or remove those policies",
    )


def release(
    target: TargetArg = None,
    namespace: Namespace = None,
    selector: Selector = None,
    incident: Annotated[
        str | None,
        typer.Option(
            "--incident",
            "-i",
            envvar="IRKIT_INCIDENT",
            help="Incident id (default: the one recorded on the quarantine policy).",
        ),
    ] = None,
    dry_run: DryRun = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    journal: JournalPath = None,
    output: Output = "text",
) -> None:
    """Undo isolate: delete the quarantine policy, remove labels, restore detached labels."""
    from irkit.engine.command import release as run
    from irkit.incident.ids import check_incident_id

    with reported_errors():
        check_output(output)
        tgt = target_in(namespace, target, selector, kubeconfig, context)
        given = check_incident_id(incident) if incident else ""
        cluster = connect_cluster(kubeconfig, context)
        where = journals(journal)
        result = run(cluster, tgt, where, incident=given, dry_run=dry_run, argv=redacted_argv())
        if output != "text":
            print_data(
                {
                    "policy": result.policy_name,
                    "status": result.status,
                    "policy_deleted": result.policy_deleted,
                    "unlabelled": result.unlabelled,
                    "restored": result.restored,
                    "kept": result.kept,
                    "dry_run": dry_run,
                },
                output,
            )
            return
        prefix = "(dry run) would have " if dry_run else ""
        if result.policy_deleted:
            echo(f"{prefix}deleted networkpolicy/{result.policy_name} in {result.namespace}")
        for pod in result.unlabelled:
            echo(
                f"{prefix}released pod/{pod}"
                + (f" (restored {result.restored[pod]})" if pod in result.restored else "")
            )
        for pod in result.kept:
            echo(f"kept pod/{pod} quarantined: another irkit quarantine still holds it")
        if not result.changes:
            echo("nothing to release: no irkit quarantine found for this target")
