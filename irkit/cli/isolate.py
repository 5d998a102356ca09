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
    journaled,
    policy_incident,
    print_json,
)
from irkit.cli.errors import reported_errors
from irkit.model.target import parse_target

ISOLATE_REMEDY = (
    "remedy: remove or narrow those policies; isolate with --strict to fail instead, or with "
    "--scope pod --detach to take the pod out of their selectors"
)


def isolate(
    target: TargetArg = None,
    namespace: Namespace = "default",
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
    from irkit.actions.isolate import isolate as run
    from irkit.actions.netpol import AllowList
    from irkit.errors import UsageError
    from irkit.model.incident import incident_or_new

    with reported_errors():
        check_output(output)
        if scope not in (None, "workload", "pod"):
            raise UsageError(f"--scope must be workload or pod, not {scope!r}")
        tgt = parse_target(namespace, target, selector)
        inc = incident_or_new(incident)
        allow = AllowList(allow_dns, tuple(allow_cidr or ()), tuple(allow_to or ())).check()
        cluster = connect_cluster(kubeconfig, context)
        req = IsolateRequest(
            incident=inc,
            actor=cluster.identity.user,
            command=command_line(),
            reason=reason,
            scope="pod" if scope == "pod" else "workload" if scope == "workload" else None,
            allow=allow,
            detach=detach,
            strict=strict,
            dry_run=dry_run,
        )
        with journaled(journal, "isolate", cluster.identity.user, tgt, inc) as rec:
            rec.skip = dry_run
            result = run(cluster, tgt, req, rec.changes)
            partial = getattr(result, "partial", bool(result.warnings))  # the RCA lists these
            rec.result = "partial" if partial else "ok" if rec.changes else "unchanged"
            rec.outputs = {"policy": result.policy_name, "pods": result.pods}
            rec.outputs["warnings"] = [f"isolation partial: {w}" for w in result.warnings]
            if partial:
                rec.outputs["warnings"].append(ISOLATE_REMEDY)
        _report_isolate(result, inc, output)


def _report_isolate(result: Any, incident: str, output: str) -> None:
    if output == "json":
        print_json(
            {
                "incident": incident,
                "policy": result.policy_name,
                "status": result.status,
                "namespace": result.namespace,
                "pods": result.pods,
                "labelled": result.labelled,
                "detached": result.detached,
                "warnings": result.warnings,
                "dry_run": result.dry_run,
            }
        )
        return
    for warning in result.warnings:
        typer.secho(f"WARNING {warning}", fg="yellow", err=True)
    if result.dry_run:
        import yaml

        typer.echo("# dry run (server-side): nothing was changed\n---")
        typer.echo(yaml.safe_dump(result.policy, sort_keys=False).rstrip())
        for change in result.changes:
            if change.kind == "Pod":
                typer.echo(f"# would label pod/{change.name}: {change.after}")
        return
    verb = {"created": "created", "updated": "updated", "unchanged": "unchanged (already in place)"}
    typer.echo(f"networkpolicy/{result.policy_name} {verb[result.status]} in {result.namespace}")
    typer.echo(f"pods isolated ({len(result.pods)}): {', '.join(result.pods) or '(none yet)'}")
    for pod, labels in result.detached.items():
        typer.echo(
            f"detached pod/{pod}: removed labels {', '.join(f'{k}={v}' for k, v in labels.items())}"
        )
    if not result.changes:
        typer.echo("nothing changed: already isolated")
    typer.echo(f"incident {incident}; undo with: irkit release {result.target}")


def release(
    target: TargetArg = None,
    namespace: Namespace = "default",
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
    from irkit.actions.isolate import release as run
    from irkit.model.incident import check_incident_id

    with reported_errors():
        check_output(output)
        tgt = parse_target(namespace, target, selector)
        inc = check_incident_id(incident) if incident else ""
        cluster = connect_cluster(kubeconfig, context)
        inc = inc or policy_incident(cluster, tgt)
        with journaled(journal, "release", cluster.identity.user, tgt, inc) as rec:
            rec.skip = dry_run
            result = run(cluster, tgt, dry_run=dry_run, changes=rec.changes)
            rec.result = "ok" if rec.changes else "unchanged"
        if output == "json":
            print_json(
                {
                    "policy": result.policy_name,
                    "status": result.status,
                    "policy_deleted": result.policy_deleted,
                    "unlabelled": result.unlabelled,
                    "restored": result.restored,
                    "dry_run": dry_run,
                }
            )
            return
        prefix = "(dry run) would have " if dry_run else ""
        if result.policy_deleted:
            typer.echo(f"{prefix}deleted networkpolicy/{result.policy_name} in {result.namespace}")
        for pod in result.unlabelled:
            typer.echo(
                f"{prefix}released pod/{pod}"
                + (f" (restored {result.restored[pod]})" if pod in result.restored else "")
            )
        if not result.changes:
            typer.echo("nothing to release: no irkit quarantine found for this target")
