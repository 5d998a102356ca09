"""Parsing of ``collect``'s options (times, actors, tags) and its terminal progress display.

Parsing is strict and happens before anything talks to a cluster or to AWS: a typo in
``--since`` must not cost a responder a half-collected bundle.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from irkit.errors import UsageError

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SA_PREFIX = "system:serviceaccount:"


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """RFC 3339 (``2026-11-26T03:00:00Z``) or a duration before now (``90s``, ``15m``, ``2h``,
    ``7d``), as an aware UTC datetime."""
    if m := _RELATIVE.match(text.strip()):
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(
            f"{option} {text!r}: give an RFC 3339 time with a zone (2026-11-26T03:00:00Z) or a "
            "duration before now (30m, 2h, 7d)"
        )
    return moment.astimezone(UTC)


def parse_actor(text: str) -> str:
    """``ns:name`` or ``system:serviceaccount:ns:name`` -> the audit log's username form."""
    rest = text.removeprefix(SA_PREFIX)
    namespace, sep, name = rest.partition(":")
    if not sep or not _NAME.match(namespace) or not _NAME.match(name):
        raise UsageError(
            f"--actor {text!r}: give a ServiceAccount as NAMESPACE:NAME or "
            "system:serviceaccount:NAMESPACE:NAME"
        )
    return f"{SA_PREFIX}{namespace}:{name}"


def parse_tags(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--tag {item!r}: give KEY=VALUE")
        tags[key.strip()] = value
    return tags


class TerminalProgress:
    """Two Rich bars (pods, bytes), for a person at a terminal; thread-safe as Rich is."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description:>6}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )
        self._bytes_bar = Progress(
            TextColumn("{task.description:>6}"), DownloadColumn(), TransferSpeedColumn()
        )
        self._pods = self._bar.add_task("pods", total=None)
        self._bytes = self._bytes_bar.add_task("logs", total=None)
        from rich.console import Group
        from rich.live import Live

        self._live = Live(Group(self._bar, self._bytes_bar), refresh_per_second=8)

    def __enter__(self) -> TerminalProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        return self._live.__exit__(exc_type, exc, tb)

    def started(self, pods: int) -> None:
        self._bar.update(self._pods, total=pods)

    def pod_done(self, pod: str) -> None:
        self._bar.advance(self._pods)

    def wrote(self, nbytes: int) -> None:
        self._bytes_bar.advance(self._bytes, nbytes)
