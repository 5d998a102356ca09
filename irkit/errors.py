"""The one exception tree of irkit. Each class carries the exit code the CLI uses for it.

    IrkitError                      root; the CLI prints one line (+ a TIP) and exits ``exit_code``
    │                               on every error: transient, retry_after, option, remedy
    ├── UsageError              2   bad flags or inputs (``option``: which one)
    │   └── AlertError          2   an alert payload not shaped as its source sends it
    ├── ConfigError             2   a malformed scenario/runbook/settings file: path, line, column
    ├── SimError                1   the simulated cluster could not start or serve
    ├── ClusterError            1   the Kubernetes API refused or failed a request: status
    │   ├── NotFound            4   a namespace, workload or object does not exist
    │   ├── Forbidden           5   RBAC said no: names verb, resource, namespace and user
    │   ├── Conflict            1   someone else changed the object, or it is not ours to change
    │   ├── Invalid             2   the API server rejected an object as invalid
    │   └── Unavailable         1   transient=True (429, 5xx, timeouts, resets), retry_after
    ├── EvidenceError           1   a bundle could not be written, packed or stored
    │   └── UploadError         1   the upload to S3 failed; the local bundle is kept
    ├── AuditSourceError        1   audit logs could not be read (missing log group, no access)
    ├── NotifyError             1   a notification was not delivered: destination host, status,
    │                                   transient (429, 5xx, no connection), retry_after
    ├── Locked                  1   another irkit run holds the incident (one run at a time)
    ├── VerifyError             6   a bundle's contents do not match its manifest
    └── PartialError            3   the command did part of its job; the message says which part

Adapters translate library errors (``ApiException``, urllib3, botocore) into these with
``raise ... from e``; nothing else leaks out of them.

Retrying is decided from two fields only, the same on every error: ``transient`` (another
attempt may succeed: throttled, failing or unreachable, never a refusal) and ``retry_after``
(seconds the far side asked for, or None). The engine retries a step on them
(``irkit.engine.execution``); no one checks classes to decide.

The core never words a front end's syntax (``--strict`` is a CLI flag; a runbook says
``strict: true``, a webhook reply neither). Structured fields say it instead:

- ``option``: the one input the error is about, in its runbook spelling (``allow_cidr``);
  ``str(e)`` is ``"<option> <message>"``.
- ``code`` and ``values``: a stable name for the situation (``detach-needs-pod-scope``) and the
  data to word it with, when a front end may want to say it in its own terms.
- ``remedy``: what would fix it, a ``Remedy`` (code and values); ``e.hint`` defaults to its
  neutral wording (``REMEDIES``).

``str(e)`` and ``e.hint`` are the neutral wording (journals, logs, a server reply);
``irkit.cli.wording`` words the same fields with flags for the terminal. ClusterErrors name
their request (verb, resource, namespace, user) in the message, as ``irkit.cluster.errors``
builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Remedy:
    """What would fix an error, as data: ``code`` names the situation (``REMEDIES``),
    ``values`` fill its wording (an incident id, an owner, ...)."""

    code: str
    values: Mapping[str, str] = field(default_factory=dict)

    def neutral(self) -> str:
        return REMEDIES[self.code].format_map(dict(self.values))


REMEDIES: dict[str, str] = {
    # code: neutral wording (``{name}`` from ``Remedy.values``); irkit.cli.wording has the CLI's
    "isolate-strict-conflict": "remove or narrow those policies, or isolate without strict",
    "owned-by-incident": "act for incident {incident} to change it, or release it first",
    "quarantined-by-incident": "act for incident {incident}, or release that quarantine first",
    "joined-incident": "act for incident {incident} explicitly to change its quarantine",
    "give-params": "give a value for: {names}",
    "kubeconfig": "give a kubeconfig and context in the settings, or set KUBECONFIG",
    "kubeconfig-load": "give a kubeconfig and context in the settings, or set KUBECONFIG",
    "kube-context-unset": "give a context (or kubectl config use-context NAME)",
    "kube-context-unknown": "give one of those contexts (kubectl config get-contexts)",
    "aws-region": "give the EKS cluster's region (or set AWS_REGION)",
}


MAX_REMOTE = 256


def cut(text: str, limit: int = MAX_REMOTE) -> str:
    """Remote text (a Status message, a webhook's answer) on one line, ``limit`` characters at
    most: what a cluster or a web server says is not trusted to be short."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class IrkitError(Exception):
    """Root of every error irkit raises on purpose."""

    exit_code = 1
    hint: str | None = None
    transient: bool = False
    """Another attempt may succeed (throttled, failing, unreachable): the engine retries."""
    retry_after: float | None = None
    """Seconds the far side asked to wait before the next attempt, if it said."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        option: str | None = None,
        code: str | None = None,
        values: Mapping[str, str] | None = None,
        remedy: Remedy | None = None,
    ) -> None:
        self.detail = message
        self.option = option
        self.code = code
        self.values: Mapping[str, str] = dict(values or {})
        self.remedy = remedy
        super().__init__(f"{option} {message}" if option else message)
        if hint is not None:
            self.hint = hint
        elif remedy is not None:
            self.hint = remedy.neutral()


class UsageError(IrkitError):
    """The command line asked for something that cannot be done as written."""

    exit_code = 2


class AlertError(UsageError):
    """An alert payload is not the shape its source sends (a server answers 422). The message
    names the field that is wrong and never quotes the payload: it is untrusted input."""


class OutsideSandbox(UsageError):
    """A live drill's runbook tried to write outside the drill's namespace (``irkit.drill.guard``):
    refused before any request is sent."""


class ConfigError(IrkitError):
    """A file irkit reads is malformed. The message starts with ``file:line:column:``."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
        remedy: Remedy | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = ":".join(str(p) for p in (path, line, column) if p is not None)
        super().__init__(f"{where}: {message}" if where else message, hint=hint, remedy=remedy)


class SimError(IrkitError):
    """The simulated cluster could not start or do what was asked of it."""


@dataclass(frozen=True)
class Request:
    """The Kubernetes request an error is about, in the responder's terms."""

    verb: str  # get, list, create, patch, delete
    resource: str  # plural, with ``/subresource`` when there is one
    namespace: str = ""
    name: str = ""
    user: str = ""


class ClusterError(IrkitError):
    """The Kubernetes API refused or failed a request. ``status`` is the HTTP code, if any;
    ``request`` what was asked (verb, resource, namespace, name, user), when the adapter knew."""

    status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request: Request | None = None,
        hint: str | None = None,
        remedy: Remedy | None = None,
    ) -> None:
        super().__init__(message, hint=hint, remedy=remedy)
        self.status = status
        self.request = request


class NotFound(ClusterError):
    exit_code = 4


class Forbidden(ClusterError):
    exit_code = 5


class Conflict(ClusterError):
    pass


class Invalid(ClusterError):
    exit_code = 2


class Unavailable(ClusterError):
    """Transient, worth retrying. ``retry_after``: the server's hint in seconds, if any."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request: Request | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, request=request)
        self.retry_after = retry_after


class EvidenceError(IrkitError):
    """An evidence bundle could not be written, packed or stored."""


class UploadError(EvidenceError):
    """The upload failed; the local bundle is kept and the message says where it is.
    ``kept``: that bundle's ``bundle``, ``tarball`` and ``sha256``, for the journal."""

    def __init__(
        self, message: str, *, hint: str | None = None, kept: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.kept = kept or {}


class AuditSourceError(IrkitError):
    """Audit events could not be read from their source; the message names the source and why."""


class NotifyError(IrkitError):
    """A notification was not delivered. The message names the channel and the destination host
    only: webhook URLs carry their secret in the path. ``transient``: 429, 5xx or no connection;
    worth another attempt of the step (``retry_after``: the destination's Retry-After)."""

    def __init__(
        self,
        message: str,
        *,
        destination: str,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.destination = destination
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


class Locked(IrkitError):
    """Another ``irkit run`` holds the incident's lock; the message names the incident."""


class VerifyError(IrkitError):
    """A bundle does not match its manifest (changed, missing or extra files)."""

    exit_code = 6


class PartialError(IrkitError):
    """Part of the job was done and part was not; the message says which."""

    exit_code = 3
