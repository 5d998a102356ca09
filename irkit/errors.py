"""The one exception tree of irkit.

    IrkitError                  root: the CLI prints one line and exits with ``exit_code``
    ├── UsageError              bad flags or arguments (exit 2)
    ├── ConfigError             a malformed scenario/runbook/settings file: file:line (exit 2)
    └── SimError                the simulated cluster could not start or serve (exit 1)

Later issues add the Kubernetes tree (NotFound, Forbidden, Conflict, Unavailable) under IrkitError.
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
