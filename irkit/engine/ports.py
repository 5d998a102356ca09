"""What the engine is given: the cluster, factories for the other adapters, and the callbacks a
front end (CLI, webhook server, drill) provides.

S3 stores and audit sources are made per ``collect`` step from that step's inputs by factories
the caller wires (the CLI uses ``irkit.evidence.s3`` and ``irkit.audit.*``), so boto3 stays out
of the engine; notify steps get their ``Notifier`` from ``notifiers`` the same way (the default
builds only the stdlib Slack and webhook senders; the CLI passes ``irkit.notify.notifier_for``,
which adds SNS). The defaults make a local-only run: no S3, no audit logs.

``store`` is where incidents' journals and run locks are kept (``irkit.incident.store``): the
CLI's ``FileStore``, or the PostgreSQL store of ``irkit serve``. The engine never opens a
journal file itself; the incident folder holds only artefacts (evidence, ``rca.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from irkit.actions.spec import RcaWriter
from irkit.actions.specs.collect import CollectInput
from irkit.actions.specs.notify import NotifyInput
from irkit.audit.source import AuditScope, AuditSource
from irkit.cluster.port import Cluster
from irkit.engine.rca import write_rca
from irkit.errors import UsageError
from irkit.evidence.store import EvidenceStore
from irkit.incident.store import IncidentStore
from irkit.notify.port import Notifier
from irkit.notify.senders import http_notifier
from irkit.runbook.model import Step

StoreFactory = Callable[[CollectInput], Sequence[EvidenceStore]]
"""The evidence stores for one collect step (its ``s3``, ``sse``, ... inputs); () = local only."""
AuditFactory = Callable[[CollectInput, datetime], tuple[Sequence[AuditSource], AuditScope | None]]
"""The audit sources and scope for one collect step (``audit_log``, ``eks_cluster``, ``since``,
``until``, ``actors``), given the time now."""
NotifierFactory = Callable[[NotifyInput], Notifier]
"""The ``Notifier`` (``irkit.notify.port``) for one notify step's channel and destination;
the CLI passes ``irkit.notify.notifier_for``, which can build the SNS one (boto3)."""


@dataclass(frozen=True)
class Approval:
    """Who approved a step and how, when the approver knows better than the run's actor (a
    person who approved through ``irkit serve``); journaled in the step's approval record."""

    by: str
    how: str


Approver = Callable[[Step, Mapping[str, Any]], "bool | Approval"]
"""Ask a person whether ``step`` (with its rendered ``with:``) may run; True or an
``Approval`` = approved (an ``Approval`` names who approved it)."""


def no_stores(inputs: CollectInput) -> Sequence[EvidenceStore]:
    return ()


def no_audit(
    inputs: CollectInput, now: datetime
) -> tuple[Sequence[AuditSource], AuditScope | None]:
    return (), None


def http_notifiers(inputs: NotifyInput) -> Notifier:
    """Slack and generic webhooks (stdlib HTTP), one attempt each: the step's ``retries:`` is
    the only retry. SNS needs a factory that can build it (the CLI passes one)."""
    if inputs.channel == "sns":
        raise UsageError(
            "notify channel sns: no sender configured for it here",
            hint="irkit run wires SNS; a program using irkit.engine passes Adapters(notifiers=...)",
        )
    return http_notifier(inputs.channel, inputs.url, attempts=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _discard(line: str) -> None:
    pass


@dataclass(frozen=True)
class Adapters:
    cluster: Cluster
    stores: StoreFactory = no_stores
    audit: AuditFactory = no_audit
    notifiers: NotifierFactory = http_notifiers
    approve: Approver | None = None
    """None: no one to ask (no terminal); a step needing approval stops the run before it."""
    output: Callable[[str], None] = _discard
    """Progress lines, one per call, for a person to read."""
    clock: Callable[[], datetime] = utc_now
    """Aware UTC time: the incident's started_at, audit windows."""
    sleep: Callable[[float], None] = time.sleep
    """Used for ``wait`` steps and the pauses between retries."""
    rca: RcaWriter = write_rca
    """Writes the RCA draft of an ``rca`` step (reads the incident's journal and bundles)."""
    store: IncidentStore | None = None
    """Journals and run locks; None: files under ``RunSettings.incidents_dir`` (``FileStore``)."""
