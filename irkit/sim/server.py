"""The HTTP server of the simulated cluster: TLS, one thread per connection, and the shared state
its request handler (``irkit.sim.handler``) works on.

A ``ThreadingHTTPServer`` (stdlib) serves each connection on its own thread: log follows and
watches hold a connection open for minutes, and kubectl and the Python client keep several
connections alive at once, so one thread per connection is simple and never blocks the others.
The object store takes a lock per operation, which is what makes concurrent requests safe.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from irkit.sim.api import ResourceApi
from irkit.sim.audit import AuditLog
from irkit.sim.faults import FaultInjector
from irkit.sim.handler import SimHandler
from irkit.sim.rbac import UserInfo
from irkit.sim.store import Store


@dataclass
class SimState:
    """Everything a request handler needs, shared by all handler threads."""

    store: Store
    api: ResourceApi
    users: dict[str, UserInfo]  # bearer token -> user
    faults: FaultInjector
    audit: AuditLog
    stopping: threading.Event = field(default_factory=threading.Event)
    requests_served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count_request(self) -> None:
        with self._lock:
            self.requests_served += 1


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SimState, tls: ssl.SSLContext) -> None:
        self.state = state
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, SimHandler)
        # The handshake runs on the connection's own thread, not in the accept loop.
        self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._handlers: set[threading.Thread] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        # As ThreadingMixIn, but the threads are tracked so stop() can wait for their audit lines.
        thread = threading.Thread(
            target=self._run_handler, args=(request, client_address), daemon=True
        )
        with self._open_lock:
            self._open.add(request)
            self._handlers.add(thread)
        thread.start()

    def _run_handler(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._handlers.discard(threading.current_thread())

    def join_handlers(self, timeout: float = 2.0) -> None:
        """Wait (``timeout`` in all) for handler threads still finishing their requests."""
        deadline = time.monotonic() + timeout
        with self._open_lock:
            threads = list(self._handlers)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that speaks plain HTTP, sends TLS garbage or hangs up is no server error."""
        error = sys.exc_info()[1]
        if isinstance(error, ssl.SSLError | ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on kept-alive clients, so a stopped simulator serves nobody."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            # The plain socket's shutdown: ssl.SSLSocket.shutdown drops the TLS state first, so a
            # handler thread blocked in a read would parse raw TLS bytes as a request line.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
