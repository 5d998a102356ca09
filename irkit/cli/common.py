"""Options and wiring every response command shares: cluster access, target, journal, output.

Commands stay thin: parse with these, build adapters with ``connect_cluster``, run the command
through ``irkit.engine.command`` (journaled where ``journals`` says), print. Heavy imports
(kubernetes, boto3) happen inside functions, never at module import.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from irkit.cluster.port import Cluster
    from irkit.engine.command import Journals
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


def journals(path: Path | None) -> Journals:
    """Where a response command is journaled (``irkit.engine.command``): the incident's journal
    in the store under ``incidents_dir()``, or the file given with ``--journal``."""
    from irkit.incident.journal import Journal
    from irkit.incident.store import FileStore, IncidentJournal

    if path is not None:
        file = Journal(path)
        return lambda incident: file
    store = FileStore(incidents_dir())
    return lambda incident: IncidentJournal(store, incident)
