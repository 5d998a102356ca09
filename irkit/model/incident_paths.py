"""Where an incident's files live: ``incidents/<id>/`` beside the working directory by default.

incidents/<id>/journal.jsonl   the run's events (see irkit.model.journal)
incidents/<id>/evidence/       bundles collected by the run
incidents/<id>/rca.md          the RCA draft
incidents/<id>/.lock           held while a run is in progress (one run per incident)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from irkit.model.incident import check_incident_id


@dataclass(frozen=True)
class IncidentPaths:
    root: Path
    incident: str

    @classmethod
    def of(cls, incident: str, base: Path = Path("incidents")) -> IncidentPaths:
        return cls(base / check_incident_id(incident), incident)

    @property
    def journal(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    @property
    def rca(self) -> Path:
        return self.root / "rca.md"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"
