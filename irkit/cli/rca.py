"""``irkit rca``: the RCA draft of an incident, from its journals and evidence manifests.

Wiring only: ``irkit.engine.rca`` reads (``irkit.render.rca`` renders); this picks where the
result goes. Markdown goes to ``<incidents>/<id>/rca.md`` unless ``--out`` says otherwise (``-``
for standard output); ``-o json`` prints the data behind the document instead, for machines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.common import Output, check_output
from irkit.cli.console import dumps, echo, write
from irkit.cli.errors import reported_errors


def rca(
    incident: Annotated[
        str, typer.Option("--incident", "-i", envvar="IRKIT_INCIDENT", help="Incident id.")
    ],
    template: Annotated[
        Path | None,
        typer.Option("--template", help="Your Jinja2 template instead of irkit's (sandboxed)."),
    ] = None,
    journal: Annotated[
        Path | None,
        typer.Option(
            "--journal",
            envvar="IRKIT_JOURNAL",
            help="Another journal to read the incident's runs from (commands run with "
            "--journal; its own journal.jsonl is always read).",
            show_default=False,
        ),
    ] = None,
    incidents_dir: Annotated[
        Path | None,
        typer.Option(
            "--incidents-dir",
            help="Folder holding <incident id>/ (default: IRKIT_RUN_INCIDENTS_DIR, or "
            "$IRKIT_HOME/incidents).",
        ),
    ] = None,
    output: Output = "text",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write here instead (default <incident folder>/rca.md; - prints)."
        ),
    ] = None,
) -> None:
    """Write the RCA draft: summary, detection, timeline, containment and its undo, evidence
    hashes, and the sections to fill in (root cause, remediation, validation, documentation)."""
    from irkit.cli.common import incidents_dir as default_incidents_dir
    from irkit.engine.rca import build_rca, render_markdown, write_atomically
    from irkit.incident.paths import IncidentPaths
    from irkit.incident.store import FileStore

    with reported_errors():
        check_output(output)
        folder = incidents_dir or default_incidents_dir()
        paths = IncidentPaths.of(incident, folder)
        data = build_rca(paths, store=FileStore(folder), command_journal=journal)
        if output != "text":
            document = dumps(data.to_json(), output)
        else:
            document = render_markdown(data, template)
        if out == Path("-") or (output != "text" and out is None):
            write(document)
            return
        target = out or paths.rca
        write_atomically(target, document)
        files = sum(len(b.files) for b in data.evidence)
        echo(
            f"RCA draft for {incident}: {target} ({len(data.timeline)} events, "
            f"{len(data.evidence)} bundle(s), {files} evidence file(s))"
        )
