"""JSON logs for ``irkit serve``: one object per line on stderr, with the ids to follow an
alert from its request to its run (incident, run, job, source). A log collector parses them;
alert text never goes in a message (only ids, names and counts)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER = "irkit.server"
FIELDS = ("incident", "run", "job", "source")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value:
                line[name] = value
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update({k: v for k, v in extra.items() if k not in line})
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(line, default=str, ensure_ascii=True)


def setup(
    stream: TextIO | None = None,
    level: int = logging.INFO,
    names: tuple[str, ...] = (LOGGER, "uvicorn"),
) -> None:
    """JSON lines to ``stream`` (stderr by default) for the server's logger and uvicorn's."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def log(level: int, msg: str, **fields: Any) -> None:
    """``msg`` with ``incident``, ``run``, ``job``, ``source`` and any other fields."""
    ids = {k: fields.pop(k) for k in FIELDS if k in fields}
    logging.getLogger(LOGGER).log(level, msg, extra={**ids, "fields": fields})
