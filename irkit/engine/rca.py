"""The RCA of an incident: its journal and evidence read, the draft built and written.

    paths = IncidentPaths.of("inc-42", Path(settings.incidents_dir))
    data = build_rca(paths, store=store)              # + command_journal=Path("mine.jsonl")
    text = render_markdown(data)                      # or render_markdown(data, Path("ours.md.j2"))
    path = write_rca(paths, store=store)              # <id>/rca.md (the rca step)

The I/O side of ``irkit.render.rca`` (which takes data only). Sources: the incident's journal,
read through its ``IncidentStore`` (the runbook runs and the commands run by hand; without a
store, ``FileStore`` over the folder holding ``paths``), optionally another journal file
(``--journal``: its runs of that incident), and every bundle a collect recorded or that lies
under ``<id>/evidence/`` (``irkit.engine.rca_evidence``). The store holds the journal; the
incident's folder holds the artefacts: the bundles and the ``rca.md`` written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from irkit.engine.rca_evidence import bundles
from irkit.errors import IrkitError, NotFound, UsageError
from irkit.incident.commands import split_runs
from irkit.incident.paths import IncidentPaths
from irkit.incident.reader import run_events
from irkit.incident.store import FileStore, IncidentJournal, IncidentStore
from irkit.render import rca
from irkit.render.rca_data import RcaData

__all__ = ["RcaData", "build_rca", "render_markdown", "write_atomically", "write_rca"]


def build_rca(
    paths: IncidentPaths,
    *,
    store: IncidentStore | None = None,
    command_journal: Path | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    status: str | None = None,
) -> RcaData:
    """``command_journal``: another journal file to read the incident's runs from
    (``--journal``); ``status``: see ``irkit.render.rca.build_rca``."""
    notes: list[str] = []
    store = store or FileStore(paths.root.parent)
    events = store.read(paths.incident, notes)
    own = IncidentJournal(store, paths.incident).path
    if command_journal and (own is None or own.resolve() != command_journal.resolve()):
        events = [*events, *run_events(command_journal, notes)]  # each file once
    runs, entries = split_runs(events, paths.incident)
    if not paths.root.is_dir() and not runs and not entries:
        where = f" and no run of it in {command_journal}" if command_journal else ""
        raise NotFound(
            f"incident {paths.incident!r}: no folder {paths.root}{where}",
            hint="check --incident and --incidents-dir (and --journal for commands run by hand)",
        )
    return rca.build_rca(
        paths.incident,
        runs,
        entries,
        evidence=lambda recorded: bundles(paths, recorded),
        notes=notes,
        clock=clock,
        status=status,
    )


def render_markdown(data: RcaData, template: Path | None = None) -> str:
    if template is None:
        return rca.render_markdown(data)
    try:
        source = template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the template {template}: {e}") from None
    return rca.render_markdown(data, source, template)


def write_rca(
    paths: IncidentPaths,
    *,
    store: IncidentStore | None = None,
    template: Path | None = None,
    command_journal: Path | None = None,
    out: Path | None = None,
    status: str | None = None,
) -> Path:
    """Write the draft to ``out`` (default ``incidents/<id>/rca.md``) atomically; return it."""
    data = build_rca(paths, store=store, command_journal=command_journal, status=status)
    document = render_markdown(data, template)
    target = out or paths.rca
    write_atomically(target, document)
    return target


def write_atomically(path: Path, content: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise IrkitError(f"cannot write {path}: {e.strerror or e}") from e
