"""Sandboxed Jinja2 for Markdown documents, with filters that keep hostile text in its place.

Templates are ours or the team's (reviewed files); the values are not: alert fields, pod names
and log-derived strings come from whoever triggered the alert. Autoescape is off (this is
Markdown, not HTML), so every value goes through a filter chosen for where it lands:

    md        table cells and prose: backslash, pipe, backtick, ``*``, ``[`` and ``]`` escaped,
              ``<`` ``>`` ``&`` as entities (no raw HTML), newlines as ``<br>``: one value, one cell
    code      an inline code span in a table cell: one line, fence longer than any backtick run
    mermaid   Mermaid timeline text: no ``:`` (it separates periods from events), ``#``, ``;``,
              ``%%``, newlines or angle brackets
    utc       an RFC 3339 time as ``YYYY-MM-DD HH:MM:SS.mmmZ`` (unparseable text is left as is)
    sections  timeline rows grouped by UTC date and then by second, for the Mermaid block
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from irkit.errors import ConfigError
from irkit.render.rca_data import TimelineRow

_MD = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "[": "\\[",
    "]": "\\]",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
}
_MD_CHARS = re.compile(r"[\\|`*\[\]<>&]")
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BACKTICKS = re.compile(r"`+")
# Look-alikes (ratio, full-width number sign and semicolon, angle quotes) keep the text readable.
_MERMAID = str.maketrans(
    {":": "\u2236", "#": "\uff03", ";": "\uff1b", "<": "\u2039", ">": "\u203a", "`": "'"}
)
MERMAID_MAX = 120


def md(value: Any) -> str:
    text = _CONTROL.sub("", _NEWLINES.sub("\n", "" if value is None else str(value)))
    text = _MD_CHARS.sub(lambda m: _MD[m.group()], text.replace("\t", " "))
    return text.replace("\n", "<br>")


def code(value: Any) -> str:
    text = _CONTROL.sub("?", _NEWLINES.sub(" ", "" if value is None else str(value)))
    if not text:
        return ""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    escaped = text.replace("|", "\\|")  # GFM splits cells on | even inside code spans
    return f"{fence}{pad}{escaped}{pad}{fence}"


def mermaid(value: Any) -> str:
    text = _CONTROL.sub(" ", _NEWLINES.sub(" ", "" if value is None else str(value)))
    text = text.translate(_MERMAID).replace("%%", "% %").strip()
    return text if len(text) <= MERMAID_MAX else text[: MERMAID_MAX - 1] + "…"


def parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc(value: Any) -> str:
    moment = parse_time(str(value)) if value else None
    if moment is None:
        return "" if value is None else str(value)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def sections(
    rows: Iterable[TimelineRow],
) -> list[tuple[str, list[tuple[str, list[TimelineRow]]]]]:
    out: list[tuple[str, list[tuple[str, list[TimelineRow]]]]] = []
    for row in rows:
        moment = parse_time(row.time)
        date, second = (
            (f"{moment:%Y-%m-%d}", f"{moment:%H:%M:%S}") if moment else ("undated", row.time)
        )
        if not out or out[-1][0] != date:
            out.append((date, []))
        periods = out[-1][1]
        if not periods or periods[-1][0] != second:
            periods.append((second, []))
        periods[-1][1].append(row)
    return out


def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, code=code, mermaid=mermaid, utc=utc, sections=sections)
    return env


def render(source: str, origin: Path | str, **context: Any) -> str:
    """Render ``source`` (read from ``origin``, named in errors) in the sandbox."""
    env = environment()
    try:
        return env.from_string(source).render(**context)
    except TemplateSyntaxError as e:
        raise ConfigError(
            f"template syntax error: {e.message}", path=str(origin), line=e.lineno
        ) from None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as e:
        raise ConfigError(f"template failed: {type(e).__name__}: {e}", path=str(origin)) from None
