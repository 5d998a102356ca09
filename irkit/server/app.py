"""The FastAPI app of ``irkit serve``: authenticate, read at most ``max_body`` bytes, parse,
hand over to ``Intake``, answer. Nothing is acknowledged before its job is committed.

Status codes are chosen for the senders' retry rules: Alertmanager retries 5xx and gives up on
4xx, so refusals (protected namespace, blast-radius cap, params the alert cannot fill) are
422 (never retried, never 429, which it treats as permanent too) and only overload is 503
with Retry-After. Error replies name the problem and never quote the request body.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from irkit.engine.ports import Adapters
from irkit.errors import AlertError, NotFound
from irkit.queue.port import Job, Overloaded, Queue
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
    intake = Intake(settings, queue, routes, metrics)
    workers = Workers(settings, queue, routes, adapters, metrics) if adapters else None
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

    app = FastAPI(
        title="irkit serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.metrics = metrics
    app.state.workers = workers

    def denied(request: Request, reason_counted: bool = True) -> Response | None:
        if settings.client_cert_auth:
            return None  # the TLS layer verified the client's certificate
        if settings.token is None:
            if settings.insecure_no_auth:
                metrics.unauthenticated.inc()
                return None
            return _error(401, "authentication is not configured")
        if token_ok(settings.token, presented(request.headers)):
            return None
        if reason_counted:
            metrics.rejected.labels("auth").inc()
        return _error(
            401,
            "missing or wrong token (Authorization: Bearer TOKEN or X-Irkit-Token)",
            headers={"WWW-Authenticate": 'Bearer realm="irkit"'},
        )

    async def alerts(source: str, request: Request) -> Response:
        metrics.received.labels(source).inc()
        if (refused := denied(request)) is not None:
            return refused
        body = await read_limited(request, settings.max_body)
        if body is None:
            metrics.rejected.labels("too-large").inc()
            return _error(413, f"the body is larger than {settings.max_body} bytes")
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
        journal = Path(settings.run.incidents_dir) / job.incident / "journal.jsonl"
        return JSONResponse(_summary(job) | {"params": job.params, "journal": str(journal)})

    @app.post("/v1/incidents/{incident}/approve")
    async def approve(incident: str, request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        body = await read_limited(request, APPROVE_MAX)
        try:
            data = json.loads(body) if body is not None else None
        except (ValueError, RecursionError):
            data = None
        step = data.get("step") if isinstance(data, dict) else None
        by = data.get("by", "") if isinstance(data, dict) else None
        if not isinstance(step, str) or not STEP_ID.fullmatch(step):
            return _error(422, 'give {"step": STEP_ID, "by": NAME}')
        if not isinstance(by, str) or (by and not _BY.fullmatch(by)):
            return _error(422, "by: a name of at most 128 letters, digits, spaces or .@+-_")
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


def _depth(queue: Queue) -> float:
    try:
        return float(queue.depth())
    except Overloaded:
        return float("nan")
