"""``wait``: pause a runbook (let a rollout settle, give people time to read a notification).

``sleep`` and ``clock`` are injected so tests and dry-run plans do not wait for real.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from irkit.errors import UsageError

MAX_SECONDS = 3600.0  # as the runbook format allows; longer pauses are a second run


@dataclass(frozen=True)
class WaitResult:
    seconds: float  # asked for
    waited: float  # measured by ``clock``; 0 with dry_run
    dry_run: bool


def wait(
    seconds: float,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WaitResult:
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"wait: seconds must be more than 0 and at most 3600, not {seconds}")
    if dry_run:
        return WaitResult(seconds, 0.0, True)
    start = clock()
    sleep(seconds)  # resumes after signals by itself (PEP 475)
    return WaitResult(seconds, clock() - start, False)


def outputs(result: WaitResult) -> dict[str, Any]:
    """``steps.<id>.outputs`` for wait."""
    return {"seconds": result.seconds}
