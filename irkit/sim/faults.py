"""Fault injection for the simulated API server.

Incident response happens while the control plane is struggling: throttled (429), failing
(500/503), slow, or hanging up. Drills and tests describe such trouble as fault rules; the
server asks a :class:`FaultInjector` before answering each request and, when a rule fires,
sleeps, answers with the rule's error Status, or drops the connection.

Rules are plain values (from Python or from a drill's YAML via :meth:`FaultRule.from_dict`); the
injector owns the changing state (how often each rule may still fire, how often it did) behind
one lock, so handler threads never race on a count.
"""

from __future__ import annotations

import difflib
import random
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_TOO_MANY_REQUESTS = 429
_DEFAULT_RETRY_AFTER = 1

# Accepted keys (YAML camelCase and Python snake_case) -> (field, accepted types).
_KEYS: dict[str, tuple[str, tuple[type, ...]]] = {
    "method": ("method", (str,)),
    "path": ("path", (str,)),
    "resource": ("resource", (str,)),
    "status": ("status", (int,)),
    "retryAfter": ("retry_after", (int,)),
    "retry_after": ("retry_after", (int,)),
    "count": ("count", (int,)),
    "probability": ("probability", (int, float)),
    "latency": ("latency", (int, float)),
    "drop": ("drop", (bool,)),
    "dropResponse": ("drop_response", (bool,)),
    "drop_response": ("drop_response", (bool,)),
    "message": ("message", (str,)),
}


@dataclass(frozen=True)
class FaultRule:
    """When to misbehave (method, path regex, resource) and how (status, latency, drop).

    ``None`` filters match anything. ``resource`` is compared exactly, as RBAC does: ``pods``
    does not match ``pods/log`` requests. ``retry_after`` defaults to 1 second for status 429.
    """

    method: str | None = None
    path: str | None = None
    resource: str | None = None
    status: int | None = None
    retry_after: int | None = None
    count: int | None = None
    probability: float = 1.0
    latency: float = 0.0
    drop: bool = False
    drop_response: bool = False
    """Serve the request, then hang up before answering: the change happened, the client cannot
    know. The failure a retried create must survive."""
    message: str | None = None

    def __post_init__(self) -> None:
        _validate(self)
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())
        if self.status == _TOO_MANY_REQUESTS and self.retry_after is None:
            object.__setattr__(self, "retry_after", _DEFAULT_RETRY_AFTER)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from a drill file's mapping; unknown keys get a "did you mean" hint."""
        kwargs: dict[str, Any] = {}
        seen: dict[str, str] = {}
        for key, value in data.items():
            field_name = _field_for(str(key))
            if field_name in seen:
                raise ValueError(f"fault rule keys {seen[field_name]!r} and {key!r} are the same")
            seen[field_name] = key
            # YAML's null (or an empty value) means "use the default".
            if value is not None:
                kwargs[field_name] = _checked(str(key), value)
        return cls(**kwargs)

    def matches(self, method: str, path: str, resource: str | None) -> bool:
        """Whether the request is one this rule targets (probability and count aside)."""
        if self.method is not None and self.method != method.upper():
            return False
        if self.path is not None and re.search(self.path, path) is None:
            return False
        return self.resource is None or self.resource == resource


@dataclass
class _Slot:
    """An added rule with its mutable state, guarded by the injector's lock."""

    rule: FaultRule
    remaining: int | None
    fired: int = 0


class FaultInjector:
    """The active fault rules, consulted in order; thread-safe.

    Rules are tracked by identity (the object :meth:`add` returned), so two equal rules are two
    rules, each with its own count.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int | None = None) -> None:
        self._lock = threading.Lock()
        # Not for security: a seed makes a drill's "random" failures reproducible.
        self._random = random.Random(seed)  # noqa: S311
        self._slots: list[_Slot] = []
        for rule in rules:
            self.add(rule)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """A snapshot of the rules, exhausted ones included, in evaluation order."""
        with self._lock:
            return tuple(slot.rule for slot in self._slots)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            if self._find(rule) is not None:
                raise ValueError("fault rule already added")
            self._slots.append(_Slot(rule, remaining=rule.count))
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            slot = self._find(rule)
            if slot is None:
                raise ValueError("fault rule not in this injector")
            self._slots.remove(slot)

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()

    def fired_count(self, rule: FaultRule) -> int:
        """How many times the rule fired; KeyError if it is not (or no longer) in the injector."""
        with self._lock:
            slot = self._find(rule)
            if slot is None:
                raise KeyError("fault rule not in this injector")
            return slot.fired

    def pick(self, method: str, path: str, resource: str | None) -> FaultRule | None:
        """The first rule that matches the request and fires, spending one of its count."""
        with self._lock:
            for slot in self._slots:
                if slot.remaining == 0 or not slot.rule.matches(method, path, resource):
                    continue
                if not self._roll(slot.rule.probability):
                    continue
                slot.fired += 1
                if slot.remaining is not None:
                    slot.remaining -= 1
                return slot.rule
        return None

    def _roll(self, probability: float) -> bool:
        # Certain outcomes skip the generator, so adding an always-on rule to a seeded drill
        # does not shift the random draws of the others.
        if probability >= 1.0:
            return True
        if probability <= 0.0:
            return False
        return self._random.random() < probability

    def _find(self, rule: FaultRule) -> _Slot | None:
        return next((slot for slot in self._slots if slot.rule is rule), None)


def _validate(rule: FaultRule) -> None:
    if rule.status is None and rule.latency == 0 and not rule.drop and not rule.drop_response:
        raise ValueError(
            "a fault rule must do something: set status, latency, drop or drop_response"
        )
    if rule.drop_response and (rule.drop or rule.status is not None):
        raise ValueError("drop_response serves the request then hangs up: no drop, no status")
    if rule.status is not None and not 400 <= rule.status <= 599:
        raise ValueError(f"status must be an HTTP error code (400..599), got {rule.status}")
    if rule.drop and rule.status is not None:
        raise ValueError("drop closes the connection without answering: it excludes status")
    if rule.status is None and (rule.retry_after is not None or rule.message is not None):
        raise ValueError("retry_after and message belong to an error answer: set status too")
    if rule.retry_after is not None and rule.retry_after < 0:
        raise ValueError(f"retry_after must be >= 0 seconds, got {rule.retry_after}")
    if rule.count is not None and rule.count < 1:
        raise ValueError(f"count must be >= 1 (leave it out for no limit), got {rule.count}")
    if not 0.0 <= rule.probability <= 1.0:
        raise ValueError(f"probability must be between 0 and 1, got {rule.probability}")
    if rule.latency < 0:
        raise ValueError(f"latency must be >= 0 seconds, got {rule.latency}")
    if rule.path is not None:
        try:
            re.compile(rule.path)
        except re.error as e:
            raise ValueError(f"path is not a valid regular expression ({e}): {rule.path!r}") from e


def _field_for(key: str) -> str:
    if key in _KEYS:
        return _KEYS[key][0]
    # Compared in lower case so that "retryafter" finds "retryAfter".
    by_lower = {known.lower(): known for known in reversed(_KEYS)}
    hint = difflib.get_close_matches(key.lower(), list(by_lower), n=1)
    suggestion = f" (did you mean {by_lower[hint[0]]!r}?)" if hint else ""
    known = ", ".join(k for k in _KEYS if k != "retry_after")
    raise ValueError(f"unknown fault rule key {key!r}{suggestion}; known keys: {known}")


def _checked(key: str, value: Any) -> Any:
    types = _KEYS[key][1]
    # bool is an int in Python, but "status: true" in YAML is a mistake, not a status code.
    if isinstance(value, bool) and bool not in types:
        raise ValueError(f"fault rule key {key!r} must not be a boolean, got {value!r}")
    if not isinstance(value, types):
        expected = " or ".join(t.__name__ for t in types)
        raise ValueError(f"fault rule key {key!r} must be {expected}, got {value!r}")
    if float in types and isinstance(value, int | float):
        return float(value)
    return value
