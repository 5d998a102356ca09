"""One place that turns irkit's errors into one clear line and a documented exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from irkit.errors import IrkitError


@contextmanager
def reported_errors() -> Iterator[None]:
    try:
        yield
    except IrkitError as e:
        if os.environ.get("IRKIT_DEBUG"):
            raise
        from irkit.cli.console import error
        from irkit.cli.wording import hint, message

        error(message(e), hint(e))  # cluster and alert text in both: made inert by console.clean
        sys.exit(e.exit_code)
