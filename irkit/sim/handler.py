"""The HTTP face of the simulated cluster, one request at a time: framing, authentication,
impersonation, RBAC, injected faults, the audit record, and streamed replies (logs, watches).

Its own module because what a request goes through is a job apart from running the server
(``irkit.sim.server``: TLS, threads, connections); the resources themselves are
``irkit.sim.api``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import ssl
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from irkit.sim import discovery, openapi, status, tables
from irkit.sim.audit import build_event
from irkit.sim.faults import FaultRule
from irkit.sim.rbac import RequestAttributes, UserInfo, authorize, forbidden_message
from irkit.sim.request import Reply, Request
from irkit.sim.routing import Target, parse_resource_path, verb_for
from irkit.sim.subresources import rbac_objects
from irkit.sim.watch import Watch

if TYPE_CHECKING:
    from irkit.sim.server import SimHTTPServer, SimState

PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
WATCH_POLL = 0.25
DROPPED = 503  # what the audit log records for a connection the fault injector dropped


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimHTTPServer
    server_version = "irkit-sim"
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers, 40 ms on every request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the audit log is the record of requests."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ---- one request -------------------------------------------------------------------------
    def _serve(self) -> None:
        state = self.server.state
        received = datetime.now(UTC)
        self._decision: str | None = None
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._streaming = False
        target = parse_resource_path(path)
        watch = query.get("watch", [""])[-1] in ("1", "true", "True")
        verb = verb_for(self.command, target, watch) if target else self.command.lower()
        user = state.users.get(_bearer(headers), None)
        code = 500
        error: status.ApiError | None = None
        impersonated: UserInfo | None = None
        try:
            body = self._read_body(headers)
            if path not in PUBLIC_PATHS and user is None:
                raise status.ApiError(401, "Unauthorized", "Unauthorized")
            if user is not None and self.headers.get("Impersonate-User"):
                impersonated = self._impersonate(state, user)
            rule = state.faults.pick(self.command, path, _fault_resource(target))
            if rule is not None and self._inject(rule, target):
                code = DROPPED
                return
            assert user is not None or path in PUBLIC_PATHS
            acting = impersonated or user
            reply = self._route(state, path, query, headers, body, target, verb, acting)
            code = reply.code
            if rule is not None and rule.drop_response:
                self._hang_up()
                code = DROPPED
                return
            self._send_reply(reply)
        except status.ApiError as e:
            code, error = e.code, e
            self._answer_error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            code = 499  # the client went away mid-answer; nothing left to tell it
        except Exception as e:  # a simulator bug: answer like an apiserver would, keep serving
            code = 500
            traceback.print_exc()
            error = status.ApiError(
                500, "InternalError", f"Internal error occurred: {type(e).__name__}"
            )
            with contextlib.suppress(OSError):
                self._answer_error(error)
        finally:
            state.count_request()
            self._audit(state, verb, user, impersonated, target, code, received, error)

    def _answer_error(self, error: status.ApiError) -> None:
        if self._streaming:
            # Headers (and perhaps chunks) are out: a Status now would corrupt the stream.
            self.close_connection = True
            return
        if error.code in (400, 411, 413):
            self.close_connection = True  # the request's framing may be off: start afresh
        self._send_json(error.code, error.status(), error.headers)

    def _audit(
        self,
        state: SimState,
        verb: str,
        user: UserInfo | None,
        impersonated: UserInfo | None,
        target: Target | None,
        code: int,
        received: datetime,
        error: status.ApiError | None,
    ) -> None:
        event = build_event(
            audit_id=str(uuid.uuid4()),
            request_uri=self.path,
            verb=verb,
            user=user or UserInfo("system:anonymous", ("system:unauthenticated",)),
            source_ip=self.client_address[0],
            user_agent=self.headers.get("User-Agent", ""),
            object_ref=_object_ref(target),
            code=code,
            received=received,
            completed=datetime.now(UTC),
            reason=error.reason if error else "",
            message=(error.message if error else "")
            or ("connection dropped (injected fault)" if code == DROPPED else ""),
            decision=self._decision,
        )
        if impersonated is not None:
            # As kube-apiserver: ``user`` is who authenticated, ``impersonatedUser`` who acted.
            event["impersonatedUser"] = {
                "username": impersonated.name,
                "groups": list(impersonated.groups),
            }
        # A request still finishing while the simulator stops has nowhere to be recorded.
        with contextlib.suppress(ValueError):
            state.audit.write(event)

    def _route(
        self,
        state: SimState,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        target: Target | None,
        verb: str,
        user: UserInfo | None,
    ) -> Reply:
        if target is None:
            doc = _non_resource(path, self.headers.get("Host", "127.0.0.1"))
            if doc is None:
                raise status.page_not_found(path)
            return Reply(200, doc)
        assert user is not None
        attrs = RequestAttributes(
            verb=verb,
            api_group=target.rt.group,
            resource=target.rt.plural,
            subresource=target.subresource,
            namespace=target.namespace,
            name=target.name,
            path=path,
        )
        # Every authenticated user may ask what it may do (system:basic-user does this upstream).
        self._decision = "allow"
        if target.rt.kind != "SelfSubjectAccessReview" and not authorize(
            user, attrs, rbac_objects(state.store)
        ):
            self._decision = "forbid"
            raise status.ApiError(
                403, "Forbidden", forbidden_message(user, attrs), _forbidden_details(target)
            )
        return state.api.handle(Request(self.command, path, query, headers, body, user), target)

    def _impersonate(self, state: SimState, user: UserInfo) -> UserInfo:
        """``kubectl --as``: act as another user when allowed to impersonate it, as upstream."""
        name = self.headers.get("Impersonate-User", "")
        groups = tuple(self.headers.get_all("Impersonate-Group") or ())
        objects = rbac_objects(state.store)
        checks: list[tuple[str, str, str]] = [("users", name, "")]
        if name.startswith("system:serviceaccount:"):
            _, _, ns, sa = name.split(":", 3) if name.count(":") == 3 else ("", "", "", "")
            checks = [("serviceaccounts", sa, ns)]
        # Every group the caller asks for is checked; the service-account groups upstream adds
        # by itself are added after the checks.
        checks += [("groups", g, "") for g in groups]
        if name.startswith("system:serviceaccount:") and name.count(":") == 3:
            ns = name.split(":")[2]
            groups = (*groups, "system:serviceaccounts", f"system:serviceaccounts:{ns}")
        for resource, obj_name, where in checks:
            attrs = RequestAttributes("impersonate", "", resource, namespace=where, name=obj_name)
            if not authorize(user, attrs, objects):
                raise status.ApiError(403, "Forbidden", forbidden_message(user, attrs))
        return UserInfo(name, groups)

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _inject(self, rule: FaultRule, target: Target | None) -> bool:
        """Apply a fault; True when the request must not be served normally."""
        if rule.latency:
            time.sleep(rule.latency)
        if rule.drop:
            self._hang_up()
            return True
        if rule.status is None:
            return False
        raise _fault_error(rule, target)

    # ---- writing -----------------------------------------------------------------------------
    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise status.ApiError(411, "LengthRequired", "send the body with a Content-Length")
        raw = headers.get("content-length") or "0"
        if not raw.isdigit():
            raise status.bad_request(f"invalid Content-Length {raw[:32]!r}")
        length = int(raw)
        if length > 3 * 1024 * 1024:
            raise status.ApiError(
                413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"
            )
        return self.rfile.read(length) if length else b""

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_reply(self, reply: Reply) -> None:
        if reply.watch is not None:
            self._send_stream(200, "application/json", self._watch_events(reply.watch))
        elif reply.stream is not None:
            self._send_stream(reply.code, reply.content_type, reply.stream)
        else:
            self._send_json(reply.code, reply.body, reply.headers)

    def _send_stream(self, code: int, content_type: str, chunks: Iterator[bytes]) -> None:
        self._streaming = True
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _watch_events(self, w: Watch) -> Iterator[bytes]:
        state = self.server.state
        query = parse_qs(urlsplit(self.path).query)
        timeout = float(query.get("timeoutSeconds", ["1800"])[-1] or 1800)
        deadline = time.monotonic() + timeout
        as_table = tables.wants_table(self.headers.get("Accept", ""))
        try:
            while time.monotonic() < deadline and not state.stopping.is_set():
                try:
                    item = w.events.get(timeout=WATCH_POLL)
                except queue.Empty:
                    continue
                if item is None:
                    return
                kind, obj = item
                shown = (
                    tables.to_table(
                        w.rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}
                    )
                    if as_table
                    else obj
                )
                yield (
                    json.dumps({"type": kind, "object": shown}, separators=(",", ":")).encode()
                    + b"\n"
                )
        finally:
            state.store.stop_watch(w)


# ---- helpers ---------------------------------------------------------------------------------
def _bearer(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def _fault_resource(target: Target | None) -> str | None:
    if target is None:
        return None
    return f"{target.rt.plural}/{target.subresource}" if target.subresource else target.rt.plural


def _fault_error(rule: FaultRule, target: Target | None) -> status.ApiError:
    code = rule.status or 500
    reasons = {
        429: "TooManyRequests",
        403: "Forbidden",
        503: "ServiceUnavailable",
        504: "Timeout",
        409: "Conflict",
        404: "NotFound",
    }
    reason = reasons.get(code, "InternalError")
    message = rule.message or {
        429: "Too many requests, please try again later.",
        503: "the server is currently unable to handle the request",
        403: "forbidden: injected fault",
    }.get(
        code, 'an error on the server ("injected fault") has prevented the request from succeeding'
    )
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
    details: dict[str, Any] = {"retryAfterSeconds": rule.retry_after} if rule.retry_after else {}
    return status.ApiError(code, reason, message, details or None, headers)


def _forbidden_details(t: Target) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": t.rt.plural}
    if t.name:
        details["name"] = t.name
    if t.rt.group:
        details["group"] = t.rt.group
    return details


def _object_ref(t: Target | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "resource": t.rt.plural,
        "namespace": t.namespace,
        "name": t.name,
        "apiGroup": t.rt.group,
        "apiVersion": t.rt.version,
        "subresource": t.subresource,
    }


def _non_resource(path: str, host: str) -> dict[str, Any] | str | None:
    if path == "/version":
        return discovery.KUBE_VERSION
    if path in ("/healthz", "/livez", "/readyz"):
        return "ok"
    if path == "/api":
        return discovery.api_versions(host)
    if path == "/apis":
        return discovery.api_group_list()
    if path == "/openapi/v3":
        return openapi.root()
    if path.startswith("/openapi/v3/"):
        return openapi.group_version_doc(path.removeprefix("/openapi/v3/"))
    parts = [p for p in path.split("/") if p]
    if len(parts) == 2 and parts[0] == "api":
        return discovery.api_resource_list("", parts[1])
    if len(parts) == 2 and parts[0] == "apis":
        return discovery.api_group(parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return discovery.api_resource_list(parts[1], parts[2])
    return None
