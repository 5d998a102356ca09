"""Build the engine's adapters for ``irkit run`` from the command line: the cluster, S3 stores,
audit sources and notifiers per step, the approval prompt, progress output; the incident store
(``FileStore`` over ``--incidents-dir``) is the caller's.

Libraries that are slow to import or need AWS (kubernetes, boto3, rich) are imported inside
the functions that use them, only when a step needs them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irkit.errors import UsageError

if TYPE_CHECKING:
    from irkit.actions.specs.collect import CollectInput
    from irkit.actions.specs.notify import NotifyInput
    from irkit.audit.source import AuditScope, AuditSource
    from irkit.engine.ports import Adapters
    from irkit.evidence.store import EvidenceStore
    from irkit.incident.store import IncidentStore
    from irkit.notify.port import Notifier
    from irkit.runbook.model import Step


def adapters(
    kubeconfig: str | None,
    context: str | None,
    s3_endpoint: str | None,
    output: str,
    store: IncidentStore,
) -> Adapters:
    from irkit.cli.common import connect_cluster
    from irkit.cli.console import echo
    from irkit.engine.ports import Adapters

    def notifiers(inputs: NotifyInput) -> Notifier:
        from irkit.notify import notifier_for

        return notifier_for(  # attempts=1: the step's retries: is the only retry
            inputs.channel,
            url=inputs.url,
            topic_arn=inputs.topic_arn,
            region=inputs.region,
            attempts=1,
        )

    def stores(inputs: CollectInput) -> Sequence[EvidenceStore]:
        return _stores(inputs, s3_endpoint)

    def progress(line: str) -> None:
        echo(line, err=output != "text")

    return Adapters(
        cluster=connect_cluster(kubeconfig, context, pool_size=24),
        stores=stores,
        audit=_audit,
        notifiers=notifiers,
        approve=_prompt if sys.stdin.isatty() else None,
        output=progress,
        store=store,
    )


def read_alert(path: Path | None, max_bytes: int) -> dict[str, Any] | None:
    """The ``--alert-file`` payload (``-`` = stdin). Files larger than 4 x the serialized limit
    are refused unread; the engine checks the serialized size itself."""
    if path is None:
        return None
    raw_limit = 4 * max_bytes
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(raw_limit + 1)
        else:
            size = path.stat().st_size
            if size > raw_limit:
                raise UsageError(
                    f"--alert-file {path}: {size:,} bytes; alert payloads are limited to "
                    f"{max_bytes:,} bytes of JSON: refused, no step run"
                )
            data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"--alert-file {path}: {e.strerror or e}") from None
    if len(data) > raw_limit:
        raise UsageError(f"--alert-file: more than {raw_limit:,} bytes on stdin: refused")
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise UsageError(f"--alert-file {path}: not JSON: {e}") from None
    if not isinstance(payload, dict):
        raise UsageError(f"--alert-file {path}: a JSON object is needed (Alertmanager or Falco)")
    return payload


def _prompt(step: Step, rendered: Mapping[str, Any]) -> bool:
    from rich.markup import escape
    from rich.prompt import Confirm

    from irkit.cli.console import console as make_console

    console = make_console(stderr=True)
    what = escape(", ".join(f"{k}={v}" for k, v in rendered.items()))  # alert text: no markup
    console.print(f"[bold]{step.id}[/] ({step.action}) needs approval: {what}", markup=True)
    if step.description:
        console.print(step.description, markup=False)
    try:
        return Confirm.ask(f"Run step {step.id}?", default=False, console=console)
    except (EOFError, KeyboardInterrupt):  # Ctrl-D / Ctrl-C: declined; the run stops, resumable
        console.print("\nno answer: not approved", markup=False)
        return False


def _stores(inputs: CollectInput, default_endpoint: str | None) -> Sequence[EvidenceStore]:
    if not inputs.s3:
        return ()
    from dataclasses import replace

    from irkit.evidence.s3 import S3Store, parse_s3_uri
    from irkit.settings import S3Settings

    bucket, prefix = parse_s3_uri(inputs.s3)
    settings = S3Settings(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=inputs.s3_endpoint or default_endpoint,
        region=inputs.region,
        sse=inputs.sse,
        kms_key_id=inputs.kms_key_id,
        object_lock_days=inputs.object_lock_days or 0,
        object_lock_mode=inputs.object_lock_mode,
    )
    return (S3Store(replace(settings, tags=dict(inputs.tags))),)


def _audit(inputs: CollectInput, now: datetime) -> tuple[Sequence[AuditSource], AuditScope | None]:
    from irkit.audit.source import AuditScope
    from irkit.cli.collect_options import parse_actor, parse_time

    scope = AuditScope(
        since=parse_time(inputs.since, now, "with.since") if inputs.since else None,
        until=parse_time(inputs.until, now, "with.until") if inputs.until else None,
        namespace=inputs.namespace,
        actors=frozenset(parse_actor(a) for a in inputs.actors),
    )
    sources: list[AuditSource] = []
    if inputs.audit_log:
        from irkit.audit.files import AuditLogFiles

        sources.extend(AuditLogFiles(Path(p)) for p in inputs.audit_log)
    if inputs.eks_cluster:
        from irkit.audit.cloudwatch import EksAuditLogs

        sources.append(EksAuditLogs(inputs.eks_cluster, region=inputs.region))
    return sources, scope
