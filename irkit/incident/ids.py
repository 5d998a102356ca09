"""Incident ids (generated when not given, always safe as a label value and a file name), and
run ids (one per run appended to an incident's journal)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from irkit.errors import UsageError

_ID = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def new_incident_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"inc-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def new_run_id() -> str:
    """Tells apart the runs one journal holds (a runbook run, its resumptions, each command)."""
    return f"run-{secrets.token_hex(6)}"


def check_incident_id(incident: str) -> str:
    """The id goes into label values, object names and paths: hold it to the strictest."""
    if not _ID.fullmatch(incident) or ".." in incident:
        raise UsageError(
            f"invalid incident id {incident!r}: 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return incident


def incident_or_new(incident: str | None) -> str:
    """The incident id given on the command line, checked, or a new one."""
    return check_incident_id(incident) if incident else new_incident_id()
