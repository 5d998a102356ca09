"""The one way the CLI writes to the terminal: every string is made inert first.

Cluster data (object names, owner-reference kinds, API error messages) and alert payloads are
hostile: an ESC sequence in a pod name must not recolour, retitle or rewrite a responder's
terminal, and a BEL or a carriage return must not hide a line. ``clean`` shows each control
character visibly (``\\x1b``, ``\\r``, ``\\u202e``) instead of sending it; every function here
calls it, and a test keeps the rest of ``irkit/cli`` from printing any other way.

Rich is imported only by ``console()`` and the ERROR/TIP lines, never at module import: the
CLI's start-up time matters to a responder.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console

# C0 controls but \t and \n, DEL, C1 controls (0x80-0x9f: CSI is 0x9b), and the Unicode
# bidirectional overrides and isolates that reorder what a line appears to say, the line and
# paragraph separators some terminals break on, and the zero-width characters that hide text.
_INVISIBLE = "\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff"
_UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_INVISIBLE}]")
_UNSAFE_KEEP_NL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\x1b": "\\x1b"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: object, *, block: bool = False) -> str:
    """``text`` with every terminal control character written out visibly.

    ``block=True`` keeps line breaks (a YAML document, an RCA): each line is still inert; one
    line (the default) shows a ``\\n`` in it as ``\\n``, so data cannot forge a second line."""
    pattern = _UNSAFE_KEEP_NL if block else _UNSAFE
    return pattern.sub(_visible, str(text))


def echo(text: object = "", *, err: bool = False, nl: bool = True, block: bool = False) -> None:
    """One line (or, with ``block``, several) to stdout, or stderr with ``err``."""
    typer.echo(clean(text, block=block), err=err, nl=nl)


def warn(text: object, *, label: str = "WARNING") -> None:
    """``WARNING ...`` in yellow on stderr (plain when stderr is not a terminal)."""
    typer.secho(f"{label} {clean(text)}", fg="yellow", err=True)


def write(document: str, stream: TextIO | None = None) -> None:
    """A whole document (markdown, JSON) as it is, line breaks and tabs kept."""
    (stream or sys.stdout).write(clean(document, block=True))


def dumps(data: Any, output: str) -> str:
    """``data`` as ``-o json`` or ``-o yaml`` text (newline-terminated): the same data either
    way. JSON's ``ensure_ascii`` and YAML's escapes write control characters out already."""
    if output == "yaml":
        import yaml

        return yaml.safe_dump(_plain(data), sort_keys=True, default_flow_style=False)
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def print_data(data: Any, output: str) -> None:
    """``-o json`` or ``-o yaml`` output for scripts."""
    echo(dumps(data, output), nl=False, block=True)


def _plain(data: Any) -> Any:
    """JSON-shaped data (what ``default=str`` makes of paths and times), for YAML too."""
    return json.loads(json.dumps(data, default=str))


def error(message: str, hint: str | None) -> None:
    """``ERROR ...`` (and ``TIP ...``) on stderr: the CLI's one error format."""
    from rich.markup import escape

    err = console(stderr=True)
    # Messages quote alert text and user input: escaped, never read as rich markup.
    err.print(f"[bold red]ERROR[/] {escape(clean(message))}", markup=True, soft_wrap=True)
    if hint:
        err.print(f"[yellow]TIP[/] {escape(clean(hint))}", markup=True, soft_wrap=True)


class LogHandler(logging.Handler):
    """Log records (a notifier's retry, a library's complaint) quote remote text too: they go
    to stderr through ``clean`` as ``WARNING ...`` lines, like the CLI's own warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:  # a bad format string in a library must not end the command
            self.handleError(record)
            return
        warn(message, label=record.levelname)


def install_log_handler() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, LogHandler) for h in root.handlers):
        root.addHandler(LogHandler(logging.WARNING))


def traceback_cleaned(error: BaseException) -> None:
    """An unexpected traceback (a bug; or IRKIT_DEBUG) quotes cluster data too: cleaned."""
    import traceback

    sys.stderr.write(clean("".join(traceback.format_exception(error)), block=True))


def console(*, stderr: bool = False) -> Console:
    """A rich Console whose every string (printed, or a table cell) goes through ``clean``."""
    from rich.console import Console

    class _CleanConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(clean(text, block=True), **kwargs)

    return _CleanConsole(stderr=stderr, highlight=False)
