"""What ``irkit serve`` is configured with, resolved once by the CLI: the server's own policy
(auth, limits, blast radius, workers). The routes, queue and cluster are passed beside it."""

from __future__ import annotations

from dataclasses import dataclass, field

from irkit.settings import MiB, RunSettings

PROTECTED = ("kube-system", "kube-public", "kube-node-lease")
"""Namespaces no alert may start a response in (``--protect`` adds more)."""


@dataclass(frozen=True)
class ServeSettings:
    token: str | None = None
    """The shared secret senders present (``Authorization: Bearer`` or ``X-Irkit-Token``);
    None only with ``insecure_no_auth`` or ``client_cert_auth``."""
    approver_token: str | None = None
    """The secret ``POST /v1/incidents/ID/approve`` requires (``IRKIT_SERVE_APPROVER_TOKEN``);
    None: approvals are refused (403). Never satisfied by ``token`` or a client certificate."""
    insecure_no_auth: bool = False
    """Accept requests without a token (``--insecure-no-auth``): logged loudly, counted."""
    client_cert_auth: bool = False
    """The TLS layer requires and verifies a client certificate (mTLS): every connection that
    reached the app is authenticated, token or not (Falco's http_output sends no headers)."""
    max_body: int = MiB
    """Bytes: a larger request body is refused with 413 before it is parsed."""
    read_timeout: float = 10.0
    """Seconds to receive a request's body; slower is 503 + Retry-After (a trickling sender
    holds nothing; Alertmanager retries 5xx, not 408)."""
    protect: frozenset[str] = frozenset(PROTECTED)
    """Namespaces refused (422, reason protected)."""
    cap: int | None = 20
    """Jobs per namespace per ``cap_window`` seconds; past it 422 (reason cap); None = no cap."""
    cap_window: float = 3600.0
    max_depth: int = 1000
    """Jobs queued or running past which an alert is answered 503 (the sender retries)."""
    retry_after: int = 10
    """Seconds put in the Retry-After of a 503."""
    falco_window: int = 300
    """Seconds: Falco events of one rule on one pod within a window are one incident."""
    owner_timeout: float = 2.0
    """Seconds a new alert waits for its pod's owner (the workload lock); then the pod's own."""
    owner_ttl: float = 30.0
    """Seconds a looked-up owner is reused (a burst of events on one pod costs one lookup)."""
    workers: int = 2
    """Worker threads running jobs."""
    lease: float = 30.0
    """Seconds a claim is held without a heartbeat before another worker may take it over."""
    poll: float = 0.2
    """Seconds an idle worker waits before asking the queue again."""
    notify_url: str = ""
    """Generic webhook told when a run waits for approval; "" = only the log line."""
    run: RunSettings = field(default_factory=RunSettings)
    """How runs are run (the incidents folder, the alert size limit)."""
