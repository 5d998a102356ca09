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
        from rich.console import Console
        from rich.markup import escape

        # Messages quote alert text and user input: escaped, never read as rich markup.
        console = Console(stderr=True, highlight=False)
        console.print(f"[bold red]ERROR[/] {escape(str(e))}", markup=True, soft_wrap=True)
        if e.hint:
            console.print(f"[yellow]TIP[/] {escape(e.hint)}", markup=True, soft_wrap=True)
        sys.exit(e.exit_code)
