"""``irkit preflight`` and ``irkit rbac``: may this runbook run here, and what to grant it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from irkit.cli.common import Context, Kubeconfig, Output, check_output, connect_cluster
from irkit.cli.console import console, echo, print_data
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from irkit.runbook.model import Runbook
    from irkit.runbook.needed import StepScope
    from irkit.runbook.preflight import Check

RunbookArg = Annotated[Path, typer.Argument(help="The runbook file.", show_default=False)]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="NAME=VALUE for a runbook param (repeatable).", show_default=False),
]
_RBAC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.:]{0,251}[a-z0-9])?$")


def preflight(
    runbook: RunbookArg,
    sets: Sets = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = "text",
) -> None:
    """Ask the cluster whether you may do everything RUNBOOK needs, before the incident.

    One SelfSubjectAccessReview per permission its steps need, for the identity of the
    kubeconfig context. Namespaces that come from the alert are unknown now: those permissions
    are asked for in every namespace. Exit 0 when all are allowed, 5 when any is denied.
    """
    from irkit.errors import Forbidden
    from irkit.runbook.needed import combine
    from irkit.runbook.preflight import check_access, denial_summary

    with reported_errors():
        check_output(output)
        name, params, scopes = _analyse(runbook, sets)
        needed = combine(scopes)
        cluster = connect_cluster(kubeconfig, context)
        checks = check_access(cluster, needed)
        assumptions = [a for s in scopes for a in s.assumptions]
        user = cluster.identity.user or cluster.identity.context
        if output != "text":
            print_data(
                {
                    "runbook": name,
                    "file": str(runbook),
                    "user": cluster.identity.user,
                    "context": cluster.identity.context,
                    "params": params,
                    "allowed": all(c.allowed for c in checks),
                    "assumptions": assumptions,
                    "permissions": [c.to_json() for c in checks],
                },
                output,
            )
        elif checks:
            _table(checks, f"preflight of runbook {name} as {user}")
            for line in assumptions:
                echo(f"assumed: {line}")
        if not all(c.allowed for c in checks):
            raise Forbidden(
                denial_summary(checks, user),
                hint=f"irkit rbac {runbook} prints the Role and ClusterRole that grant them",
            )
        if output == "text":
            echo(
                f"all {len(checks)} permissions allowed to {user}"
                if checks
                else f"runbook {name} makes no Kubernetes API requests"
            )


def rbac(
    runbook: RunbookArg,
    sets: Sets = None,
    name: Annotated[
        str, typer.Option("--name", help="Name of the Roles, ClusterRole and bindings.")
    ] = "irkit-responder",
    service_account: Annotated[
        str | None,
        typer.Option(
            "--service-account",
            help="NAMESPACE/NAME to bind to (default: a placeholder Group to replace).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="yaml (the manifests, with comments) or json (a List)."
        ),
    ] = "yaml",
) -> None:
    """Print the least RBAC that lets RUNBOOK run: Role(s), ClusterRole and bindings as YAML.

    Rules are exactly the permissions its steps need (the ones irkit preflight checks), one per
    API group and resource. Pipe it to kubectl apply -f - after review.
    """
    from irkit.errors import UsageError
    from irkit.runbook.needed import combine
    from irkit.runbook.rbac import PLACEHOLDER, Subject, render

    with reported_errors():
        if output not in ("yaml", "json"):
            raise UsageError(f"--output must be yaml or json, not {output!r}")
        if not _RBAC_NAME.match(name):
            raise UsageError(f"--name {name!r}: lower-case letters, digits, '-', '.' or ':'")
        subject = Subject.service_account(service_account) if service_account else PLACEHOLDER
        runbook_name, params, scopes = _analyse(runbook, sets)
        text = render(
            combine(scopes),
            name=name,
            subject=subject,
            runbook=runbook_name,
            params=params,
            assumptions=[a for s in scopes for a in s.assumptions],
        )
        if output == "json":
            import yaml

            items = [doc for doc in yaml.safe_load_all(text) if doc]
            print_data({"apiVersion": "v1", "kind": "List", "items": items}, "json")
            return
        echo(text, nl=False, block=True)


def _analyse(path: Path, sets: list[str] | None) -> tuple[str, dict[str, Any], list[StepScope]]:
    from irkit.runbook.loader import load_runbook
    from irkit.runbook.needed import analyse

    runbook = load_runbook(path).runbook
    params = _params(runbook, sets or [])
    return runbook.metadata.name, params, analyse(runbook, params)


def _params(runbook: Runbook, sets: list[str]) -> dict[str, Any]:
    """The params known before the incident: ``--set`` ones and plain defaults, typed. A default
    that is a template over the alert stays unknown; so does a required param not given."""
    from irkit.engine.params import coerce, parse_sets
    from irkit.errors import UsageError
    from irkit.hints import nearest
    from irkit.runbook.templating import is_template

    given = parse_sets(sets)
    for name in given:
        if name not in runbook.params:
            known = ", ".join(sorted(runbook.params)) or "none"
            raise UsageError(
                f"unknown param {name!r}{nearest(name, runbook.params)} (this runbook takes: "
                f"{known})"
            )
    out: dict[str, Any] = {}
    for name, param in runbook.params.items():
        if name in given:
            out[name] = coerce(name, param, given[name])
        elif param.default is not None and not is_template(param.default):
            out[name] = coerce(name, param, param.default)
    return out


def _table(checks: list[Check], title: str) -> None:
    rows = [
        (
            "allowed" if c.allowed else "DENIED",
            c.need.permission.verb,
            c.need.permission.qualified,
            c.need.where,
            ", ".join(c.need.steps),
        )
        for c in checks
    ]
    header = ("ACCESS", "VERB", "RESOURCE", "NAMESPACE", "STEPS")
    if sys.stdout.isatty():
        from rich.table import Table

        table = Table(title=title)
        for column in header:
            table.add_column(column, overflow="fold")  # a narrow terminal wraps, never cuts
        for row in rows:
            style = "green" if row[0] == "allowed" else "bold red"
            table.add_row(f"[{style}]{row[0]}[/]", *row[1:])
        console().print(table)
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    echo(title)
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        echo("  ".join([*cells, row[-1]]))
