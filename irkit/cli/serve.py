"""``irkit serve`` (the webhook receiver) and ``irkit approve`` (let a waiting run go on).

Thin: parse flags, load the routes (any invalid runbook stops the start, with file:line),
resolve the token, open the queue, build the adapters as ``irkit run`` does, start uvicorn.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from irkit.cli.common import Context, Kubeconfig
from irkit.cli.errors import reported_errors

if TYPE_CHECKING:
    from irkit.queue.port import Queue
    from irkit.runbook.loader import Loaded
    from irkit.server.config import ServeSettings

TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="File holding the shared token (mode 600); default: IRKIT_SERVE_TOKEN.",
    ),
]


def serve(
    runbooks: Annotated[
        Path, typer.Option("--runbooks", help="Folder of runbooks; each with a match block routes.")
    ],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to bind.")] = "127.0.0.1:8080",
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="Folder for serve.sqlite3 and incidents/ (default IRKIT_HOME)."
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database", help="postgresql://... : queue and journals shared by replicas."
        ),
    ] = None,
    token_file: TokenFile = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Accept alerts from anyone (testing only).")
    ] = False,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Server certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="Server private key (PEM).")
    ] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(
            "--tls-client-ca", help="CA of client certificates: mTLS, required and verified."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker threads.")] = 2,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    protect: Annotated[
        list[str] | None,
        typer.Option("--protect", help="Another namespace never acted on (repeatable)."),
    ] = None,
    cap: Annotated[
        int, typer.Option("--cap", min=0, help="Responses per namespace per hour; 0 = no cap.")
    ] = 20,
    falco_window: Annotated[
        int, typer.Option("--falco-window", min=1, help="Seconds: one Falco incident per window.")
    ] = 300,
    max_depth: Annotated[
        int, typer.Option("--max-depth", min=1, help="Jobs queued or running before 503.")
    ] = 1000,
    lease: Annotated[
        float, typer.Option("--lease", min=1, help="Seconds a dead worker's job stays claimed.")
    ] = 30.0,
    notify_url: Annotated[
        str | None,
        typer.Option("--notify-url", help="Webhook told when a run waits for approval."),
    ] = None,
) -> None:
    """Receive Alertmanager and Falco webhooks and run the matching runbooks."""
    import os
    from dataclasses import replace

    from irkit.engine.routing import routes
    from irkit.errors import UsageError
    from irkit.server.auth import load_token, private_file
    from irkit.server.config import PROTECTED, ServeSettings
    from irkit.settings import RunSettings, from_env, state_home

    with reported_errors():
        host, port = _listen(listen)
        loaded = routes(runbooks.absolute())  # jobs name their runbook by this path
        if not loaded:
            raise UsageError(f"{runbooks}: no runbook has a match block: nothing to route")
        token = load_token(os.environ, token_file)
        if tls_client_ca is not None and (tls_cert is None or tls_key is None):
            raise UsageError("--tls-client-ca needs --tls-cert and --tls-key")
        if (tls_cert is None) != (tls_key is None):
            raise UsageError("give --tls-cert and --tls-key together")
        if tls_key is not None and tls_key.exists() and not private_file(tls_key):
            raise UsageError(
                f"{tls_key}: readable by group or others: refused",
                option="--tls-key",
                hint=f"chmod 600 {tls_key}",
            )
        if token is None and not insecure_no_auth and tls_client_ca is None:
            raise UsageError(
                "no token: alerts would be accepted from anyone",
                hint="set IRKIT_SERVE_TOKEN or --token-file (or mTLS with --tls-client-ca); "
                "--insecure-no-auth only for a test",
            )
        if notify_url:
            from irkit.notify.senders import http_notifier

            http_notifier("webhook", notify_url)  # checks the URL now, not at the first use
        home = (state or state_home()).absolute()
        run = from_env(RunSettings, "IRKIT_RUN_")
        if state is not None:
            run = replace(run, incidents_dir=str(home / "incidents"))
        settings = ServeSettings(
            token=token,
            insecure_no_auth=insecure_no_auth and token is None,
            client_cert_auth=tls_client_ca is not None,
            protect=frozenset(PROTECTED) | frozenset(protect or []),
            cap=cap or None,
            falco_window=falco_window,
            max_depth=max_depth,
            workers=workers,
            lease=lease,
            notify_url=notify_url or "",
            run=run,
        )
        queue = _queue(database, home)
        _start(
            settings,
            queue,
            loaded,
            kubeconfig,
            context,
            host,
            port,
            tls_cert,
            tls_key,
            tls_client_ca,
        )


def _listen(listen: str) -> tuple[str, int]:
    from irkit.errors import UsageError

    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{listen!r}: give HOST:PORT, e.g. 127.0.0.1:8080", option="--listen")
    return host.strip("[]"), int(port)


def _queue(database: str | None, home: Path) -> Queue:
    from irkit.errors import ConfigError

    if database is None:
        from irkit.queue.sqlite import SqliteQueue

        return SqliteQueue(home / "serve.sqlite3")
    if not database.startswith(("postgresql://", "postgres://")):
        raise ConfigError("--database: give a postgresql:// URL")
    import importlib

    try:  # by name: the adapter is optional (its driver may be missing)
        postgres = importlib.import_module("irkit.queue.postgres")
    except ImportError as e:
        raise ConfigError(
            f"--database: the PostgreSQL adapter is not available here ({e.name or e})"
        ) from None
    queue, _store = postgres.open_postgres(database)  # _store: once the engine takes one
    return cast("Queue", queue)


def _start(
    settings: ServeSettings,
    queue: Queue,
    loaded: list[Loaded],
    kubeconfig: str | None,
    context: str | None,
    host: str,
    port: int,
    cert: Path | None,
    key: Path | None,
    client_ca: Path | None,
) -> None:
    import ssl
    from dataclasses import replace

    import uvicorn

    from irkit.cli.run_wiring import adapters
    from irkit.server import logs
    from irkit.server.app import create_app

    logs.setup()
    base = replace(adapters(kubeconfig, context, None, "json"), approve=None)
    app = create_app(settings, queue, loaded, adapters=base)
    tls: dict[str, Any] = {}
    if cert is not None:
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if client_ca is not None:
        tls |= {"ssl_ca_certs": str(client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, **tls)
    finally:
        queue.close()


def approve(
    incident: Annotated[str, typer.Argument(help="The incident waiting for approval.")],
    step: Annotated[str, typer.Argument(help="The step id to approve.")],
    server: Annotated[
        str, typer.Option("--server", help="irkit serve's URL.")
    ] = "http://127.0.0.1:8080",
    token_file: TokenFile = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who approves (default: your user name).")
    ] = None,
) -> None:
    """Approve STEP of incident ID's run on irkit serve; the run resumes there."""
    import getpass
    import json
    import os
    import urllib.error
    import urllib.request

    from irkit.cli.console import echo
    from irkit.errors import IrkitError, NotFound, UsageError
    from irkit.incident.ids import check_incident_id
    from irkit.server.auth import load_token

    with reported_errors():
        check_incident_id(incident)
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"{server!r}: give an http:// or https:// URL", option="--server")
        token = load_token(os.environ, token_file)
        body = json.dumps({"step": step, "by": by or getpass.getuser()}).encode()
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            f"{server.rstrip('/')}/v1/incidents/{incident}/approve",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
                data = json.loads(reply.read(65536))
        except urllib.error.HTTPError as e:
            text = e.read(4096).decode(errors="replace")
            try:
                why = str(json.loads(text).get("error", ""))
            except (ValueError, AttributeError):
                why = ""
            if e.code == 404:
                raise NotFound(why or f"incident {incident}: nothing awaits approval") from None
            if e.code in (400, 422):
                raise UsageError(why or f"the server refused it ({e.code})") from None
            raise IrkitError(f"{server} answered {e.code}: {why}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise IrkitError(f"cannot reach {server}: {getattr(e, 'reason', e)}") from None
        echo(f"approved {step} for incident {incident}: job {data.get('job')} {data.get('state')}")
