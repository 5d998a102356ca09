"""Options and wiring every response command shares: cluster access, target, journal, output.

Commands stay thin: parse with these, build adapters with ``connect_cluster``, call an action,
print. Heavy imports (kubernetes, boto3) happen inside functions, never at module import.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from irkit.cluster.port import Cluster
    from irkit.engine.command import CommandStep
    from irkit.model.target import Target

Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace of the target (default: the kubeconfig context's namespace, else default).",
        show_default=False,
    ),
]
TargetArg = Annotated[
    str | None,
    typer.Argument(
        help="pod/NAME, deployment/NAME, statefulset/NAME, daemonset/NAME or replicaset/NAME "
        "(kubectl's spellings too: po/, deploy/, sts/, ds/, rs/, deployments/, deployment.apps/).",
        show_default=False,
    ),
]
Selector = Annotated[
    str | None, typer.Option("--selector", "-l", help="Label selector for the pods instead.")
]
Kubeconfig = Annotated[
    str | None,
    typer.Option("--kubeconfig", envvar="KUBECONFIG", help="Kubeconfig file.", show_envvar=False),
]
Context = Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")]
JournalPath = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        envvar="IRKIT_JOURNAL",
        help="JSON-lines journal to append to (default: the incident's journal.jsonl).",
        show_default=False,
    ),
]
Incident = Annotated[
    str | None,
    typer.Option(
        "--incident", "-i", envvar="IRKIT_INCIDENT", help="Incident id (default: generated)."
    ),
]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Server-side dry run: show what would change, change nothing."),
]
OUTPUTS = ("text", "json", "yaml")
Output = Annotated[
    str, typer.Option("--output", "-o", help="text, json or yaml (json and yaml for scripts).")
]


def connect_cluster(kubeconfig: str | None, context: str | None, pool_size: int = 16) -> Cluster:
    from irkit.cluster.kube import connect
    from irkit.settings import ClusterSettings

    return connect(ClusterSettings(kubeconfig=kubeconfig, context=context, pool_size=pool_size))


def target_in(
    namespace: str | None,
    ref: str | None,
    selector: str | None,
    kubeconfig: str | None,
    context: str | None,
) -> Target:
    """The command's target; without ``-n``, in the kubeconfig context's namespace (kubectl's
    rule). The target is checked first: a typo is reported before any file is read."""
    from irkit.model.target import parse_target

    if namespace is None:
        parse_target("default", ref, selector)
        from irkit.cluster.kubeconfig import context_namespace

        namespace = context_namespace(kubeconfig, context)
    return parse_target(namespace, ref, selector)


@contextmanager
def names_suggested(cluster: Cluster, target: Target) -> Iterator[None]:
    """A 404 for ``kind/NAME`` says which names there are (the nearest first). The kind is
    listed only then: one extra request, on the error path only."""
    from irkit.errors import NotFound

    try:
        yield
    except NotFound as e:
        better = _not_found_message(cluster, target)
        if better is None:
            raise
        raise NotFound(better, status=e.status, hint=e.hint) from e


def _not_found_message(cluster: Cluster, target: Target) -> str | None:
    from irkit.errors import IrkitError
    from irkit.hints import nearest
    from irkit.model.target import WORKLOAD_KINDS

    if target.kind is None or target.name is None:
        return None
    try:
        names = sorted(
            str(o["metadata"]["name"]) for o in cluster.list(target.kind, target.namespace)
        )
    except (IrkitError, KeyError, TypeError):
        return None
    if not names or target.name in names:
        return None  # a missing namespace, or the 404 was about something else: as it was
    what = (
        f"{WORKLOAD_KINDS[target.kind]} {target.name!r} not found in namespace {target.namespace}"
    )
    if close := nearest(target.name, names):
        return what + close
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"{what}; {target.kind} there: {shown}"


def redacted_argv() -> list[str]:
    """``irkit`` and its arguments, each webhook-like URL (or ``NAME=URL`` value: http(s) with a
    path, query or credentials) cut to ``scheme://host/…``: webhook URLs are secrets, and the
    command line is journaled, annotated on objects and written to custody files. ``s3://``
    URIs are kept: they say where the evidence went."""
    from irkit.redact import redact_arg

    return ["irkit", *(redact_arg(a) for a in sys.argv[1:])]


def command_line() -> str:
    return shlex.join(redacted_argv())


def check_output(output: str) -> None:
    from irkit.errors import UsageError

    if output not in OUTPUTS:
        raise UsageError(f"--output must be text, json or yaml, not {output!r}")


def incidents_dir() -> Path:
    """The folder holding every incident: ``IRKIT_RUN_INCIDENTS_DIR``, else ``<state
    home>/incidents`` ($IRKIT_HOME, $XDG_STATE_HOME/irkit or ~/.local/state/irkit)."""
    from irkit.settings import RunSettings, from_env

    return Path(from_env(RunSettings, "IRKIT_RUN_").incidents_dir)


def policy_incident(cluster: Cluster, target: Target) -> str:
    """The incident recorded on irkit's quarantine policy for ``target`` (its
    ``irkit.io/incident`` annotation), so a release is journaled where the isolate was; ""
    when there is no such policy, or its annotation is not a valid incident id (cluster data)."""
    from irkit.actions.isolate import policy_name
    from irkit.actions.netpol import is_ours
    from irkit.errors import IrkitError
    from irkit.incident.ids import check_incident_id

    try:
        policy = cluster.get("networkpolicies", target.namespace, policy_name(target))
        if not is_ours(policy):
            return ""
        recorded = (policy["metadata"].get("annotations") or {}).get("irkit.io/incident")
        return check_incident_id(recorded) if isinstance(recorded, str) and recorded else ""
    except IrkitError:  # not found, forbidden, invalid id: release itself says what matters
        return ""


def scaled_incident(incidents: str) -> str:
    """The incident of a restore: ``ScaleResult.incident`` when it names exactly one valid id
    (the workloads' ``irkit.io/scaled-by-incident``), else ""."""
    from irkit.errors import UsageError
    from irkit.incident.ids import check_incident_id

    if not incidents or "," in incidents:
        return ""
    try:
        return check_incident_id(incidents)
    except UsageError:
        return ""


def restore_incident(cluster: Cluster, target: Target) -> str:
    """The incident of a restore, read before it runs so that it is journaled there from its
    first change: the one ``irkit.io/scaled-by-incident`` the target's workloads name (see
    ``scaled_incident``), else ""."""
    from irkit.actions.scale import SCALED_BY_INCIDENT
    from irkit.errors import IrkitError

    kinds = ("deployments", "statefulsets")
    try:
        if target.kind is not None and target.name is not None:
            found = [cluster.get(target.kind, target.namespace, target.name)]
        else:
            found = [
                o for k in kinds for o in cluster.list(k, target.namespace, labels=target.selector)
            ]
    except IrkitError:  # restore itself says what matters
        return ""
    named = {
        (o.get("metadata", {}).get("annotations") or {}).get(SCALED_BY_INCIDENT) for o in found
    }
    return scaled_incident(",".join(sorted(n for n in named if isinstance(n, str) and n)))


@contextmanager
def journaled(
    path: Path | None,
    command: str,
    actor: str,
    target: object,
    incident: str,
    *,
    dry_run: bool = False,
    inputs: dict[str, Any] | None = None,
) -> Iterator[CommandStep]:
    """Run the ``with`` block as a one-step run (``irkit.engine.command``), journaled in the
    incident's journal (``path`` instead when given: ``--journal``), each change the moment it
    is made; a dry run journals nothing."""
    from irkit.engine.command import CommandSpec, one_step_run
    from irkit.incident.journal import Journal
    from irkit.incident.store import FileStore, IncidentJournal

    spec = CommandSpec(
        command, incident, actor, str(target), redacted_argv(), inputs or {}, dry_run
    )
    sink = Journal(path) if path else IncidentJournal(FileStore(incidents_dir()), incident)
    with one_step_run(spec, sink) as rec:
        yield rec
