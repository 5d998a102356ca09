"""The FastAPI app of ``irkit serve``: authenticate, read at most ``max_body`` bytes, parse,
hand over to ``Intake``, answer. Nothing is acknowledged before its job is committed.

Status codes are chosen for the senders' retry rules: Alertmanager retries 5xx and gives up on
4xx, so refusals (protected namespace, blast-radius cap, params the alert cannot fill) are
422 (never retried, never 429, which it treats as permanent too) and only overload and a body
that did not arrive in time are 503 with Retry-After. Error replies name the problem and never
quote the request body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from irkit.engine.ports import Adapters
from irkit.errors import AlertError, IrkitError, NotFound
from irkit.incident.ids import check_incident_id
from irkit.incident.state import RunState, read_state
from irkit.incident.store import FileStore, IncidentStore
from irkit.queue.port import Job, Overloaded, Queue
from irkit.redact import journaled_params
from irkit.runbook.loader import Loaded
from irkit.runbook.model import STEP_ID
from irkit.server.auth import presented, token_ok
from irkit.server.config import ServeSettings
from irkit.server.intake import Intake
from irkit.server.logs import log
from irkit.server.metrics import Metrics
from irkit.server.worker import Workers

_BY = re.compile(r"^[\w.@+-][\w .@+-]{0,127}$")
APPROVE_MAX = 4096
"""Bytes: an approval body is two short fields."""


def create_app(
    settings: ServeSettings,
    queue: Queue,
    routes: Sequence[Loaded],
    *,
    adapters: Adapters | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The app; with ``adapters``, ``settings.workers`` worker threads run the jobs while it
    is up (started and stopped with the app's lifespan); without, it only takes alerts."""
    metrics = metrics or Metrics()
    store = journals(settings, adapters)
    if adapters is not None:
        adapters = replace(adapters, store=store)
    intake = Intake(
        settings, queue, routes, metrics, cluster=adapters.cluster if adapters else None
    )
    workers = Workers(settings, queue, routes, adapters, metrics) if adapters else None
    if workers is not None:
        intake.submitted = workers.wake
    metrics.queue_depth.set_function(lambda: _depth(queue))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.insecure_no_auth:
            log(
                logging.WARNING,
                "INSECURE: --insecure-no-auth: anyone who reaches this port "
                "can start runbooks; every request is counted as unauthenticated",
            )
        log(logging.INFO, "irkit serve ready", routes=[r.runbook.metadata.name for r in routes])
        if workers:
            workers.start()
        try:
            yield
        finally:
            if workers:
                workers.stop()
            intake.keys.close()

    app = FastAPI(
        title="irkit serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.metrics = metrics
    app.state.workers = workers

    def denied(request: Request) -> Response | None:
        if settings.client_cert_auth:
            return None  # the TLS layer verified the client's certificate
        if settings.token is None:
            if settings.insecure_no_auth:
                metrics.unauthenticated.inc()
                return None
            return _error(401, "authentication is not configured")
        if token_ok(settings.token, presented(request.headers)):
            return None
        metrics.rejected.labels("auth").inc()
        return _error(
            401,
            "missing or wrong token (Authorization: Bearer TOKEN or X-Irkit-Token)",
            headers={"WWW-Authenticate": 'Bearer realm="irkit"'},
        )

    async def body_of(request: Request, limit: int) -> bytes | Response:
        """The body, or the reply refusing it: 413 when larger than ``limit``, 503 with
        Retry-After when it did not arrive in time (a sender trickling its body, slowloris,
        holds no connection; 503 because Alertmanager retries 5xx only, and a slow network
        is worth a retry)."""
        try:
            body = await asyncio.wait_for(read_limited(request, limit), settings.read_timeout)
        except TimeoutError:
            metrics.rejected.labels("slow").inc()
            return _error(
                503,
                f"the body did not arrive within {settings.read_timeout:g} s; retry later",
                headers={"Retry-After": str(settings.retry_after)},
            )
        if body is None:
            metrics.rejected.labels("too-large").inc()
            return _error(413, f"the body is larger than {limit} bytes")
        return body

    async def alerts(source: str, request: Request) -> Response:
        metrics.received.labels(source).inc()
        if (refused := denied(request)) is not None:
            return refused
        body = await body_of(request, settings.max_body)
        if isinstance(body, Response):
            return body
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            metrics.rejected.labels("bad-json").inc()
            return _error(400, "the body is not JSON")
        try:
            outcome = await run_in_threadpool(intake.take, source, data)
        except AlertError as e:
            metrics.rejected.labels("shape").inc()
            return _error(422, str(e), reason="shape")
        except Overloaded as e:
            metrics.rejected.labels("overload").inc()
            log(logging.WARNING, "overloaded: answering 503", error=str(e), source=source)
            return _error(
                503, "overloaded; retry later", headers={"Retry-After": str(settings.retry_after)}
            )
        if outcome.all_refused:
            first = outcome.refused[0]
            return _error(422, first["error"], reason=first["reason"], refused=outcome.refused)
        return JSONResponse(outcome.to_json(), status_code=202)

    @app.post("/v1/alerts/alertmanager")
    async def alertmanager(request: Request) -> Response:
        return await alerts("alertmanager", request)

    @app.post("/v1/alerts/falco")
    async def falco(request: Request) -> Response:
        return await alerts("falco", request)

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            await run_in_threadpool(queue.depth)
        except Overloaded:
            return _error(503, "the queue is unreachable")
        if workers is not None and not workers.alive():
            return _error(503, "a worker thread died (see the log); restart irkit serve")
        return JSONResponse({"status": "ready", "routes": len(routes)})

    @app.get("/metrics")
    async def prometheus() -> Response:
        text = await run_in_threadpool(generate_latest, metrics.registry)  # reads the depth
        return PlainTextResponse(text, media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/incidents")
    async def incidents(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        jobs = await run_in_threadpool(queue.jobs, 100)
        return JSONResponse({"incidents": [_summary(j) for j in jobs]})

    @app.get("/v1/incidents/{incident}")
    async def incident(incident: str, request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        job = await run_in_threadpool(queue.get, incident)
        if job is None:
            return _error(404, "no such incident")
        state = await run_in_threadpool(_state, store, job.incident)
        steps = {s: str(d.get("status")) for s, d in state.done.items()} if state else {}
        shown = journaled_params(job.params)  # secrets: as in the journal, never shown
        return JSONResponse(_summary(job) | {"params": shown, "steps": steps})

    @app.post("/v1/incidents/{incident}/approve")
    async def approve(incident: str, request: Request) -> Response:
        if settings.approver_token is None:
            return _error(
                403,
                "approvals are off: irkit serve has no approver token "
                "(IRKIT_SERVE_APPROVER_TOKEN or --approver-token-file)",
            )
        if not token_ok(settings.approver_token, presented(request.headers)):
            metrics.rejected.labels("auth").inc()
            return _error(
                401,
                "missing or wrong approver token (the alert token does not approve)",
                headers={"WWW-Authenticate": 'Bearer realm="irkit-approve"'},
            )
        body = await body_of(request, APPROVE_MAX)  # the alerts' timeout, its own size limit
        if isinstance(body, Response):
            return body
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        step = data.get("step") if isinstance(data, dict) else None
        by = data.get("by", "") if isinstance(data, dict) else None
        if not isinstance(step, str) or not STEP_ID.fullmatch(step):
            return _error(422, 'give {"step": STEP_ID, "by": NAME}')
        if not isinstance(by, str) or (by and not _BY.fullmatch(by)):
            return _error(422, "by: a name of at most 128 letters, digits, spaces or .@+-_")
        waiting = await run_in_threadpool(_awaiting, store, incident)
        if waiting and step not in waiting:
            return _error(422, f"step {step} is not waiting for approval; {', '.join(waiting)} is")
        try:
            job = await run_in_threadpool(queue.approve, incident, step, by or "unknown")
        except NotFound:
            return _error(404, f"no job of incident {incident} awaits approval")
        log(
            logging.INFO,
            f"step {step} approved by {by or 'unknown'}",
            incident=incident,
            job=job.id,
        )
        return JSONResponse(_summary(job), status_code=202)

    return app


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` bytes: refused on a declared
    Content-Length at once, and counted while reading (chunked or lying senders)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _summary(job: Job) -> dict[str, Any]:
    return {
        "incident": job.incident,
        "job": job.id,
        "state": job.state,
        "runbook": job.runbook,
        "source": job.source,
        "namespace": job.namespace,
        "workload": job.workload,
        "attempt": job.attempt,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "error": job.error,
        "approvals": list(job.approvals),
    }


def journals(settings: ServeSettings, adapters: Adapters | None) -> IncidentStore:
    """Where the runs' journals are: the adapters' store (PostgreSQL when --database), else
    the incident folders under the state directory."""
    if adapters is not None and adapters.store is not None:
        return adapters.store
    return FileStore(Path(settings.run.incidents_dir))


def _state(store: IncidentStore, incident: str) -> RunState | None:
    try:
        check_incident_id(incident)
    except IrkitError:  # not a valid incident id: it has no journal
        return None
    return read_state(store.read(incident, []))


def _awaiting(store: IncidentStore, incident: str) -> list[str]:
    """The steps the incident's journal says wait for approval ([] when it has no run)."""
    state = _state(store, incident)
    done = state.done if state else {}
    return [s for s, d in done.items() if d.get("status") == "awaiting-approval"]


def _depth(queue: Queue) -> float:
    try:
        return float(queue.depth())
    except Overloaded:
        return float("nan")
