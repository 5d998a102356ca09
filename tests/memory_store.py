"""An in-memory ``IncidentStore`` (``irkit.incident.store``): a list of events per incident and
a non-blocking lock, what a database-backed store gives the engine, with no files at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from irkit.errors import Locked
from irkit.model.journal import RunEvent


class MemoryStore:
    def __init__(self) -> None:
        self.events: dict[str, list[RunEvent]] = {}
        self._guard = threading.Lock()
        self._held: set[str] = set()

    def append(self, incident: str, event: RunEvent) -> None:
        with self._guard:
            self.events.setdefault(incident, []).append(event)

    def read(self, incident: str, notes: list[str]) -> list[RunEvent]:
        with self._guard:
            return list(self.events.get(incident, []))

    def lock(self, incident: str) -> AbstractContextManager[None]:
        return self._lock(incident)

    @contextmanager
    def _lock(self, incident: str) -> Iterator[None]:
        with self._guard:
            if incident in self._held:
                raise Locked(f"incident {incident} is being run (memory store)")
            self._held.add(incident)
        try:
            yield
        finally:
            with self._guard:
                self._held.discard(incident)

    def running(self, incident: str) -> bool:
        with self._guard:
            return incident in self._held

    def incidents(self) -> list[str]:
        with self._guard:
            return sorted(i for i in self.events if i)
