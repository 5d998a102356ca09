"""Fault rules and the injector the simulated API server consults before answering."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from irkit.sim.faults import FaultInjector, FaultRule

POD_LOG = "/api/v1/namespaces/prod/pods/web-1/log"
POD = "/api/v1/namespaces/prod/pods/web-1"


def test_count_is_spent_then_the_rule_stops_matching() -> None:
    rule = FaultRule(status=503, count=2)
    injector = FaultInjector([rule])
    picks = [injector.pick("GET", POD, "pods") for _ in range(4)]
    assert picks == [rule, rule, None, None]
    assert injector.fired_count(rule) == 2
    assert injector.rules == (rule,)


def test_unlimited_rule_keeps_firing() -> None:
    rule = FaultRule(latency=0.5)
    injector = FaultInjector([rule])
    assert all(injector.pick("GET", POD, "pods") is rule for _ in range(50))
    assert injector.fired_count(rule) == 50


def test_first_matching_rule_that_fires_wins() -> None:
    never = FaultRule(status=500, probability=0.0)
    exhausted = FaultRule(status=429, count=1)
    fallback = FaultRule(status=503)
    injector = FaultInjector([never, exhausted, fallback], seed=1)
    assert injector.pick("GET", POD, "pods") is exhausted
    assert injector.pick("GET", POD, "pods") is fallback
    assert injector.fired_count(never) == 0


def test_probability_with_a_seed_is_reproducible() -> None:
    def run(seed: int) -> list[bool]:
        injector = FaultInjector([FaultRule(status=500, probability=0.5)], seed=seed)
        return [injector.pick("GET", POD, "pods") is not None for _ in range(200)]

    first = run(42)
    assert first == run(42)
    assert 50 < sum(first) < 150
    assert first != run(43)


def test_certain_rules_do_not_shift_the_seeded_draws_of_others() -> None:
    def run(*rules: FaultRule) -> list[bool]:
        injector = FaultInjector(rules, seed=5)
        return [injector.pick("GET", POD, "pods") is not None for _ in range(100)]

    never = FaultRule(status=500, probability=0.0)
    assert run(never, FaultRule(status=503, probability=0.5)) == run(
        FaultRule(status=503, probability=0.5)
    )


def test_probability_one_always_fires_and_zero_never() -> None:
    always = FaultInjector([FaultRule(status=500, probability=1.0)], seed=7)
    never = FaultInjector([FaultRule(status=500, probability=0.0)], seed=7)
    assert all(always.pick("GET", POD, "pods") for _ in range(100))
    assert not any(never.pick("GET", POD, "pods") for _ in range(100))


def test_path_is_a_regex_searched_in_the_request_path() -> None:
    injector = FaultInjector([FaultRule(path="/pods/.*/log", drop=True)])
    assert injector.pick("GET", POD_LOG, "pods/log") is not None
    assert injector.pick("GET", POD, "pods") is None


def test_method_filter_is_case_insensitive() -> None:
    rule = FaultRule(method="delete", status=500)
    injector = FaultInjector([rule])
    assert rule.method == "DELETE"
    assert injector.pick("GET", POD, "pods") is None
    assert injector.pick("DELETE", POD, "pods") is rule
    assert injector.pick("delete", POD, "pods") is rule


def test_resource_filter_is_exact() -> None:
    injector = FaultInjector([FaultRule(resource="pods", status=500)])
    assert injector.pick("GET", POD, "pods") is not None
    assert injector.pick("GET", POD_LOG, "pods/log") is None
    assert injector.pick("GET", "/version", None) is None


def test_retry_after_defaults_to_one_second_for_429_only() -> None:
    assert FaultRule(status=429).retry_after == 1
    assert FaultRule(status=429, retry_after=5).retry_after == 5
    assert FaultRule(status=503).retry_after is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "must do something"),
        ({"status": 200}, r"400\.\.599"),
        ({"status": 600}, r"400\.\.599"),
        ({"status": 500, "probability": 1.5}, "between 0 and 1"),
        ({"status": 500, "probability": -0.1}, "between 0 and 1"),
        ({"status": 500, "count": 0}, "count must be >= 1"),
        ({"latency": -1.0}, "latency must be >= 0"),
        ({"status": 500, "drop": True}, "excludes status"),
        ({"latency": 1.0, "retry_after": 3}, "set status too"),
        ({"drop": True, "message": "boom"}, "set status too"),
        ({"status": 503, "retry_after": -1}, "retry_after must be >= 0"),
        ({"status": 500, "path": "/pods/(log"}, "not a valid regular expression"),
    ],
)
def test_invalid_rules_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FaultRule(**kwargs)


def test_from_dict_accepts_camel_and_snake_case() -> None:
    expected = FaultRule(method="GET", path="/log", status=429, retry_after=3, count=2)
    data = {"method": "get", "path": "/log", "status": 429, "count": 2}
    assert FaultRule.from_dict({**data, "retryAfter": 3}) == expected
    assert FaultRule.from_dict({**data, "retry_after": 3}) == expected
    assert FaultRule.from_dict({"latency": 1, "probability": 1}) == FaultRule(latency=1.0)
    assert FaultRule.from_dict({"status": 500, "count": None}).count is None


@pytest.mark.parametrize(
    ("key", "hint"),
    [("stauts", "'status'"), ("retryafter", "'retryAfter'"), ("latancy", "'latency'")],
)
def test_from_dict_suggests_the_nearest_key(key: str, hint: str) -> None:
    with pytest.raises(
        ValueError, match=f"unknown fault rule key '{key}' \\(did you mean {hint}\\?\\)"
    ):
        FaultRule.from_dict({key: 1, "status": 500})


def test_from_dict_without_a_close_match_lists_known_keys() -> None:
    with pytest.raises(ValueError, match="known keys: method, path") as info:
        FaultRule.from_dict({"zzzzzz": 1})
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"status": "503"}, "'status' must be int"),
        ({"status": True}, "must not be a boolean"),
        ({"status": 500, "probability": "0.5"}, "'probability' must be int or float"),
        ({"status": 429, "retryAfter": 1, "retry_after": 2}, "are the same"),
    ],
)
def test_from_dict_rejects_bad_values(data: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FaultRule.from_dict(data)


def test_add_remove_clear_and_snapshots() -> None:
    first, second = FaultRule(status=500), FaultRule(status=500)
    injector = FaultInjector()
    assert injector.add(first) is first
    injector.add(second)
    snapshot = injector.rules
    assert len(snapshot) == 2
    assert snapshot[0] is first
    injector.remove(first)
    assert injector.rules == (second,)
    assert injector.rules[0] is second
    assert len(snapshot) == 2
    with pytest.raises(ValueError, match="not in this injector"):
        injector.remove(first)
    with pytest.raises(ValueError, match="already added"):
        injector.add(second)
    injector.clear()
    assert not injector.rules
    assert injector.pick("GET", POD, "pods") is None
    with pytest.raises(KeyError):
        injector.fired_count(second)


def test_count_is_spent_atomically_across_threads() -> None:
    # Thousands of picks with threads switching as often as possible: a race on the count in
    # pick() would show up as lost decrements, so more fires than the count allows.
    rule = FaultRule(status=503, count=80_000)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    injector = FaultInjector([rule])
    fired: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        hits = sum(injector.pick("GET", POD, "pods") is not None for _ in range(20_000))
        with lock:
            fired.append(hits)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert sum(fired) == 80_000
    assert injector.fired_count(rule) == 80_000
