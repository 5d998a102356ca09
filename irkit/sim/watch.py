"""The simulator's open watches: which stored changes each watch wants, queued for its stream.

Its own module because a watch is a subscriber, not storage: the store calls ``Watches`` under its
lock after every write, and the HTTP server drains a ``Watch``'s queue as a chunked stream.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Any

from irkit.model.kinds import ResourceType
from irkit.model.selectors import FieldSelector, LabelSelector

Obj = dict[str, Any]


@dataclass
class Watch:
    """One open watch: events for one resource type, optionally one namespace, filtered."""

    rt: ResourceType
    namespace: str | None
    labels: LabelSelector | None
    fields: FieldSelector | None
    events: queue.Queue[tuple[str, Obj] | None] = field(default_factory=queue.Queue)

    def wants(self, rt: ResourceType, obj: Obj) -> bool:
        meta = obj["metadata"]
        if rt.key != self.rt.key:
            return False
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if self.labels and not self.labels.matches(meta.get("labels") or {}):
            return False
        return not (self.fields and not self.fields.matches(obj))


class Watches:
    """The open watches of one store; every method is called under the store's lock."""

    def __init__(self) -> None:
        self._open: list[Watch] = []

    def open(self, w: Watch, initial: list[Obj]) -> Watch:
        """Register ``w``, its queue first filled with ADDED for ``initial``."""
        for obj in initial:
            w.events.put(("ADDED", obj))
        self._open.append(w)
        return w

    def close(self, w: Watch) -> None:
        if w in self._open:
            self._open.remove(w)

    def notify(self, rt: ResourceType, event: str, obj: Obj) -> None:
        for w in self._open:
            if w.wants(rt, obj):
                w.events.put((event, obj))
