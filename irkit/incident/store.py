"""The port over an incident's state, and its file adapter (the default).

``irkit serve`` can keep incidents in PostgreSQL by implementing ``IncidentStore``: the
engine, the commands and the readers only append events, read them back, take the run lock
and list incidents. ``FileStore`` keeps them under ``<incidents>/<id>/`` (``IncidentPaths``).

The store holds the journal and the run lock, nothing else: an incident's artefacts (evidence
bundles, ``rca.md``) are files in its folder (``IncidentPaths``) whatever the store.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from irkit.errors import UsageError
from irkit.incident.ids import check_incident_id
from irkit.incident.journal import Journal
from irkit.incident.lock import incident_lock, is_running
from irkit.incident.paths import IncidentPaths, unfiled_journal
from irkit.incident.reader import run_events
from irkit.model.journal import RunEvent


class IncidentStore(Protocol):
    def append(self, incident: str, event: RunEvent) -> None:
        """Durably, before the caller goes on; ``incident`` "" is a command of no incident."""
        ...

    def read(self, incident: str, notes: list[str]) -> list[RunEvent]:
        """Every event, in order; lines that cannot be read are skipped and said in ``notes``."""
        ...

    def lock(self, incident: str) -> AbstractContextManager[None]:
        """One runbook run per incident at a time (``irkit.errors.Locked`` at once if not)."""
        ...

    def running(self, incident: str) -> bool: ...

    def incidents(self) -> list[str]: ...


class FileStore:
    def __init__(self, base: Path) -> None:
        self.base = base

    def paths(self, incident: str) -> IncidentPaths:
        return IncidentPaths.of(incident, self.base)

    def journal_path(self, incident: str) -> Path:
        return self.paths(incident).journal if incident else unfiled_journal(self.base)

    def append(self, incident: str, event: RunEvent) -> None:
        Journal(self.journal_path(incident)).append(event)

    def read(self, incident: str, notes: list[str]) -> list[RunEvent]:
        return run_events(self.journal_path(incident), notes)

    def lock(self, incident: str) -> AbstractContextManager[None]:
        return incident_lock(self.paths(incident))

    def running(self, incident: str) -> bool:
        return is_running(self.paths(incident))

    def incidents(self) -> list[str]:
        """Every folder under ``base`` named as an incident id (stray names are not listed)."""
        if not self.base.is_dir():
            return []
        found = []
        for folder in self.base.iterdir():
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            try:
                found.append(check_incident_id(folder.name))
            except UsageError:
                continue
        return sorted(found)


class IncidentJournal:
    """The ``EventSink`` (``irkit.incident.journal``) of one incident in a store."""

    def __init__(self, store: IncidentStore, incident: str) -> None:
        self.store = store
        self.incident = incident

    def write(self, event: RunEvent) -> None:
        self.store.append(self.incident, event)

    @property
    def path(self) -> Path | None:
        """The journal's file, for people to read; None when the store keeps no files."""
        if isinstance(self.store, FileStore):
            return self.store.journal_path(self.incident)
        return None
