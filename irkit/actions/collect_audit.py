"""Audit events about the incident, one JSON-lines file per source under ``audit/``.

Each source yields events of its time window; ``in_scope`` keeps those about the namespace,
the pods and their owners, or done by the actors (the pods' ServiceAccounts and ``--actor``).
Events are written as they arrive, one line each, so a day of a busy cluster's audit log
costs one event of memory. A source that fails is a manifest failure, not the end of collect.

``requestObject`` and ``responseObject`` are dropped from every event: at the Request and
RequestResponse levels they hold the bodies, and so Secret values and issued tokens. Who did
what to which object (verb, objectRef, user, responseStatus) is what the evidence needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence

from irkit.audit.filter import in_scope
from irkit.audit.source import AuditScope, AuditSource
from irkit.errors import IrkitError
from irkit.evidence.bundle import BundleWriter


def source_slug(description: str) -> str:
    """``file /var/log/audit.log`` -> ``file-var-log-audit.log``: a safe, readable file name."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", description).strip("-.").lower()
    return slug[:100] or "source"


def collect_audit(writer: BundleWriter, sources: Sequence[AuditSource], scope: AuditScope) -> int:
    """Write each source's events in scope; returns how many events were written."""
    total = 0
    for src in sources:
        relpath = f"audit/{source_slug(src.description)}.jsonl"
        counter = [0]
        try:
            writer.add_stream(relpath, _lines(src, scope, counter), src.description)
        except IrkitError as e:
            writer.record_failure(relpath, src.description, str(e))
        for problem in getattr(src, "problems", ()):  # e.g. a truncated rotated .gz: read in part
            writer.record_failure(relpath, src.description, str(problem))
        total += counter[0]
    return total


BODY_KEYS = ("requestObject", "responseObject")


def _lines(src: AuditSource, scope: AuditScope, counter: list[int]) -> Iterator[bytes]:
    for event in src.events(scope):
        if in_scope(event, scope):
            counter[0] += 1
            kept = {k: v for k, v in event.items() if k not in BODY_KEYS}
            yield (json.dumps(kept, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
