"""Which log a container has: the scenario's seeded logs, matched to pods by name or glob.

Pods made by controllers get names only at run time, so a scenario names them by glob
(``api-server-*``) or by the workload and replica index (resolved once the controllers ran).
Containers nobody seeded get a few plausible start-up lines, so every pod has a log.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from irkit.sim.logs import LogSource, TextLog


@dataclass(frozen=True)
class LogRule:
    namespace: str
    pod: str  # exact name or glob
    container: str  # exact name, glob, or "*" for every container
    previous: bool
    source: LogSource


class LogBook:
    def __init__(self) -> None:
        self._rules: list[LogRule] = []
        self._lock = threading.Lock()

    def add(self, rule: LogRule) -> None:
        with self._lock:
            # Later rules win, so a scenario can seed a default and override one pod.
            self._rules.insert(0, rule)

    def find(self, namespace: str, pod: str, container: str, previous: bool) -> LogSource | None:
        with self._lock:
            rules = list(self._rules)
        for r in rules:
            if (
                r.previous == previous
                and r.namespace == namespace
                and fnmatch.fnmatchcase(pod, r.pod)
                and fnmatch.fnmatchcase(container, r.container)
            ):
                return r.source
        return None

    def has_previous(self, namespace: str, pod: str, container: str) -> bool:
        return self.find(namespace, pod, container, previous=True) is not None


def default_log(pod: str, container: str, image: str, started: datetime) -> LogSource:
    text = "\n".join(
        (
            f"starting {container} ({image})",
            f"pod={pod} container={container} listening on :8080",
            "ready: health checks passing",
        )
    )
    return TextLog(text, start=started, interval=timedelta(seconds=1))
