"""``irkit collect`` and ``irkit verify``: evidence bundles from the command line.

Wiring only: parse and check every option first, build the cluster, S3 and audit adapters
(their libraries imported here, late), run ``irkit.engine.command.collect``, print. Exit codes are
the error tree's: 3 when collect got part of the evidence, 6 when verify finds a mismatch.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from irkit.cli.common import (
    Context,
    Incident,
    JournalPath,
    Kubeconfig,
    Namespace,
    Output,
    Selector,
    TargetArg,
    check_output,
    command_line,
    connect_cluster,
    incidents_dir,
    journals,
    redacted_argv,
    target_in,
)
from irkit.cli.console import echo, print_data, warn
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from irkit.actions.collect import CollectResult
    from irkit.audit.source import AuditSource
    from irkit.evidence.verify import VerifyReport
    from irkit.settings import S3Settings

S3Endpoint = Annotated[
    str | None,
    typer.Option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", help="S3 endpoint (MinIO, tests)."),
]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (S3, CloudWatch).")]


def collect(
    target: TargetArg = None,
    namespace: Namespace = None,
    selector: Selector = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for bundles (default: the incident's evidence/)."),
    ] = None,
    s3: Annotated[
        str | None, typer.Option("--s3", help="Also store the tarball at s3://BUCKET/PREFIX.")
    ] = None,
    s3_endpoint: S3Endpoint = None,
    sse: Annotated[str | None, typer.Option("--sse", help="aws:kms or AES256.")] = None,
    kms_key_id: Annotated[str | None, typer.Option("--kms-key-id", help="KMS key.")] = None,
    object_lock_days: Annotated[
        int, typer.Option("--object-lock-days", help="Object Lock retention in days.")
    ] = 0,
    object_lock_mode: Annotated[
        str, typer.Option("--object-lock-mode", help="GOVERNANCE or COMPLIANCE.")
    ] = "GOVERNANCE",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="S3 object tag KEY=VALUE (repeatable).")
    ] = None,
    audit_log: Annotated[
        list[Path] | None,
        typer.Option("--audit-log", help="kube-apiserver audit log file (repeatable)."),
    ] = None,
    eks_cluster: Annotated[
        str | None, typer.Option("--eks-cluster", help="Read audit events from EKS CloudWatch.")
    ] = None,
    region: Region = None,
    since: Annotated[str | None, typer.Option(help="Audit window start: RFC 3339 or 2h.")] = None,
    until: Annotated[str | None, typer.Option(help="Audit window end: RFC 3339 or 10m.")] = None,
    actor: Annotated[
        list[str] | None,
        typer.Option("--actor", help="Also audit this ServiceAccount, NS:NAME (repeatable)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Pods read in parallel.", min=1)] = 8,
    state_only: Annotated[
        bool,
        typer.Option(
            "--state-only",
            help="A quick snapshot before containment: pods, owners, NetworkPolicies, Services; "
            "no logs, no audit.",
        ),
    ] = False,
    incident: Incident = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    journal: JournalPath = None,
    output: Output = "text",
) -> None:
    """Collect logs, state, RBAC exposure and audit events into a hashed, packed bundle."""
    from irkit.actions.collect import Collector
    from irkit.audit.source import AuditScope
    from irkit.cli.collect_options import parse_actor, parse_tags, parse_time
    from irkit.engine.command import collect as run
    from irkit.errors import PartialError, UsageError
    from irkit.incident.ids import incident_or_new
    from irkit.incident.paths import IncidentPaths

    with reported_errors():
        check_output(output)
        if state_only and (audit_log or eks_cluster):
            raise UsageError(
                "--state-only reads no audit events: drop --audit-log/--eks-cluster, or "
                "collect them in a full collect"
            )
        tgt = target_in(namespace, target, selector, kubeconfig, context)
        inc = incident_or_new(incident)
        now = datetime.now(UTC)
        scope = AuditScope(
            since=parse_time(since, now, "--since") if since else None,
            until=parse_time(until, now, "--until") if until else None,
            namespace=tgt.namespace,
            actors=frozenset(parse_actor(a) for a in actor or ()),
        )
        settings = None
        if s3:
            settings = _s3_settings(
                s3, s3_endpoint, region, sse, kms_key_id, object_lock_days, object_lock_mode
            )
            settings = _with_tags(settings, parse_tags(tag or []))
        stores = [_s3_store(settings)] if settings else []
        sources = _audit_sources(audit_log or [], eks_cluster, region)
        cluster = connect_cluster(kubeconfig, context, pool_size=max(16, concurrency + 4))
        inputs: dict[str, Any] = {"out": str(out) if out else "", "s3": s3 or ""}
        inputs |= {"concurrency": concurrency, "state_only": state_only}
        inputs |= {"audit_log": [str(p) for p in audit_log or ()], "eks_cluster": eks_cluster}
        with _progress() as bar:
            result = run(
                cluster,
                tgt,
                journals(journal),
                incident=inc,
                out_dir=out or IncidentPaths.of(inc, incidents_dir()).evidence,
                inputs=inputs,
                concurrency=concurrency,
                audit_sources=sources,
                audit_scope=scope,
                stores=stores,
                progress=bar,
                collector=Collector.here(command_line()),
                state_only=state_only,
                argv=redacted_argv(),
            )
        _report(result, output)
        if result.failures:
            raise PartialError(
                f"collected with {len(result.failures)} failure(s); the bundle lists them in "
                f"{result.bundle.folder / 'manifest.json'}",
                hint="each FAILED line says what could not be read and why; what was read is "
                "hashed and packed all the same",
            )


def verify(
    path: Annotated[str, typer.Argument(help="Bundle folder, .tar.gz or s3://BUCKET/KEY.tar.gz.")],
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="The tarball's expected SHA-256 (hex).")
    ] = None,
    incident: Annotated[
        str | None,
        typer.Option(
            "--incident",
            "-i",
            help="The tarball must have the sha256 this incident's journal recorded for it.",
        ),
    ] = None,
    journal: JournalPath = None,
    s3_endpoint: S3Endpoint = None,
    region: Region = None,
    output: Output = "text",
) -> None:
    """Check a bundle against its manifest: exit 0 if intact, 6 if anything changed."""
    from irkit.errors import UsageError, VerifyError
    from irkit.evidence.verify import Expected, verify_bundle
    from irkit.incident.ids import check_incident_id
    from irkit.incident.paths import IncidentPaths
    from irkit.settings import S3Settings

    def journals(inc: str) -> list[Path]:
        """Where collect records a tarball's sha256: the incident's journal (runbook steps
        and collect run by hand alike), and a ``--journal`` given by hand."""
        given = [journal] if journal is not None else []
        try:
            paths = IncidentPaths.of(inc, incidents_dir())
        except UsageError:  # a manifest's incident is data: not a path unless it is an id
            return given
        return [paths.journal, *given]

    with reported_errors():
        check_output(output)
        if incident is not None:
            check_incident_id(incident)
        expected = Expected(sha256=sha256, incident=incident, journals=journals)
        report = verify_bundle(
            path, s3=S3Settings(endpoint_url=s3_endpoint, region=region), expected=expected
        )
        _report_verify(report, output)
        if not report.ok:
            raise VerifyError(
                f"{path} does not match its manifest or its recorded hash: "
                f"{len(report.changed)} changed, {len(report.missing)} missing, "
                f"{len(report.extra)} extra, {len(report.problems)} other problem(s)"
            )


# ---- wiring --------------------------------------------------------------------------------------
def _s3_settings(
    uri: str,
    endpoint: str | None,
    region: str | None,
    sse: str | None,
    kms_key_id: str | None,
    lock_days: int,
    lock_mode: str,
) -> S3Settings:
    from irkit.evidence.s3 import parse_s3_uri
    from irkit.settings import S3Settings

    bucket, prefix = parse_s3_uri(uri)
    return S3Settings(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=endpoint,
        region=region,
        sse=sse,  # type: ignore[arg-type]  # checked by S3Settings
        kms_key_id=kms_key_id,
        object_lock_days=lock_days,
        object_lock_mode=lock_mode,  # type: ignore[arg-type]
    )


def _with_tags(settings: S3Settings, tags: dict[str, str]) -> S3Settings:
    from dataclasses import replace

    return replace(settings, tags={**settings.tags, **tags})


def _s3_store(settings: S3Settings) -> Any:
    from irkit.evidence.s3 import S3Store

    return S3Store(settings)


def _audit_sources(
    paths: list[Path], eks_cluster: str | None, region: str | None
) -> list[AuditSource]:
    sources: list[AuditSource] = []
    if paths:
        from irkit.audit.files import AuditLogFiles

        sources.extend(AuditLogFiles(p) for p in paths)
    if eks_cluster:
        from irkit.audit.cloudwatch import EksAuditLogs

        sources.append(EksAuditLogs(eks_cluster, region=region))
    return sources


def _progress() -> Any:
    from contextlib import nullcontext

    from irkit.actions.collect import NoProgress

    if sys.stdout.isatty():
        from irkit.cli.collect_options import TerminalProgress

        return TerminalProgress()
    return nullcontext(NoProgress())


# ---- printing ------------------------------------------------------------------------------------
def _report(result: CollectResult, output: str) -> None:
    for warning in result.warnings:
        warn(warning)
    if output != "text":
        from irkit.engine.command import collect_summary

        print_data(collect_summary(result), output)
        return
    bundle = result.bundle
    for failure in result.failures:
        warn(f"{failure.artifact}: {failure.reason}", label="FAILED")
    echo(
        f"collected {len(result.pods)} pod(s): {len(bundle.manifest.files)} files, "
        f"{bundle.manifest.total_bytes:,} bytes, {len(result.failures)} failure(s)"
    )
    audit = result.audit
    if audit.get("collected"):
        echo(f"audit:   {audit.get('events', 0)} event(s)")
    else:
        echo(f"audit:   not collected: {audit.get('reason', '')}")
    echo(f"bundle:  {bundle.folder}")
    for stored in result.stored:
        echo(
            f"stored:  {stored.uri}"
            + (f" (version {stored.version_id})" if stored.version_id else "")
        )
    echo(f"tarball: {bundle.tarball}")
    echo(f"sha256:  {bundle.sha256}")


def _report_verify(report: VerifyReport, output: str) -> None:
    if output != "text":
        print_data(report.to_json(), output)
        return
    for label, paths in (
        ("changed", report.changed),
        ("missing", report.missing),
        ("extra", report.extra),
    ):
        for p in paths:
            echo(f"{label}: {p}")
    for problem in report.problems:
        echo(f"problem: {problem}")
    if report.ok:
        echo(f"OK {report.source}: {report.checked} files match the manifest")
    for note in report.notes:
        echo(f"note: {note}")
