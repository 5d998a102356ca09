"""Where an incident's files live: ``<state home>/incidents/<id>/``.

The state home is ``$IRKIT_HOME``, else ``$XDG_STATE_HOME/irkit``, else ``~/.local/state/irkit``
(``irkit.settings.state_home``, resolved at the entry points; ``--incidents-dir`` or
``IRKIT_RUN_INCIDENTS_DIR`` point elsewhere). Never the working directory: a responder who
changes folders still finds the incident.

<id>/journal.jsonl    the incident's one journal: the events of every run in it, runbook runs
                      and the commands run by hand alike (see irkit.model.journal)
<id>/evidence/        bundles collected for it
<id>/rca.md           the RCA draft
<id>/.lock            held while a runbook run is in progress (one run per incident)

A command run for no incident (a release or restore of nothing irkit recorded) is journaled in
``<incidents>/journal.jsonl`` (``unfiled_journal``): the same format, outside every incident.

``journal.jsonl`` and ``.lock`` are ``FileStore``'s (``irkit.incident.store``); another
``IncidentStore`` keeps the journal and the lock elsewhere, and the folder holds only the
artefacts (``evidence/``, ``rca.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from irkit.incident.ids import check_incident_id


@dataclass(frozen=True)
class IncidentPaths:
    root: Path
    incident: str

    @classmethod
    def of(cls, incident: str, base: Path) -> IncidentPaths:
        """``base``: the folder holding every incident (``RunSettings.incidents_dir``)."""
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


def unfiled_journal(base: Path) -> Path:
    """Where a command that belongs to no incident is journaled."""
    return base / "journal.jsonl"
