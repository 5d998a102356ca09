"""The one exception tree of irkit. Each class carries the exit code the CLI uses for it.

    IrkitError                      root; the CLI prints one line (+ a TIP) and exits ``exit_code``
    ├── UsageError              2   bad flags or arguments
    ├── ConfigError             2   a malformed scenario/runbook/settings file: file:line:column
    ├── SimError                1   the simulated cluster could not start or serve
    ├── ClusterError            1   the Kubernetes API refused or failed a request
    │   ├── NotFound            4   a namespace, workload or object does not exist
    │   ├── Forbidden           5   RBAC said no: names verb, resource, namespace and user
    │   ├── Conflict            1   someone else changed the object, or it is not ours to change
    │   ├── Invalid             2   the API server rejected an object as invalid
    │   └── Unavailable         1   transient (429, 5xx, timeouts, resets): retried, then raised
    ├── EvidenceError           1   a bundle could not be written, packed or stored
    │   └── UploadError         1   the upload to S3 failed; the local bundle is kept
    ├── AuditSourceError        1   audit logs could not be read (missing log group, no access)
    ├── NotifyError             1   a notification was not delivered: names the host, never the URL
    ├── Locked                  1   another irkit run holds the incident (one run at a time)
    ├── VerifyError             6   a bundle's contents do not match its manifest
    └── PartialError            3   the command did part of its job; the message says which part

Adapters translate library errors (``ApiException``, urllib3, botocore) into these with
``raise ... from e``; nothing else leaks out of them.
"""

from __future__ import annotations


class IrkitError(Exception):
    """Root of every error irkit raises on purpose."""

    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UsageError(IrkitError):
    """The command line asked for something that cannot be done as written."""

    exit_code = 2


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
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = ":".join(str(p) for p in (path, line, column) if p is not None)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class SimError(IrkitError):
    """The simulated cluster could not start or do what was asked of it."""


class ClusterError(IrkitError):
    """The Kubernetes API refused or failed a request. ``status`` is the HTTP code, if any."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


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

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
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
    only: webhook URLs carry their secret in the path. ``transient``: 429, 5xx or no connection,
    already retried a few times by the adapter; worth a later retry of the step."""

    def __init__(
        self,
        message: str,
        *,
        destination: str,
        status: int | None = None,
        transient: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.destination = destination
        self.status = status
        self.transient = transient


class Locked(IrkitError):
    """Another ``irkit run`` holds the incident's lock; the message names the incident."""


class VerifyError(IrkitError):
    """A bundle does not match its manifest (changed, missing or extra files)."""

    exit_code = 6


class PartialError(IrkitError):
    """Part of the job was done and part was not; the message says which."""

    exit_code = 3
