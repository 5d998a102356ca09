"""Errors carry structured fields; the engine decides retries on them and the CLI words them."""

from __future__ import annotations

import pytest

from irkit.actions.netpol import AllowList
from irkit.cli.wording import hint, message
from irkit.cluster.errors import RequestInfo, from_status
from irkit.engine.execution import is_transient
from irkit.engine.params import resolve_params
from irkit.errors import (
    Conflict,
    IrkitError,
    NotifyError,
    Remedy,
    Request,
    Unavailable,
    UsageError,
)
from irkit.runbook.model import Param


def test_every_error_has_the_retry_fields() -> None:
    for e in (IrkitError("x"), Conflict("x"), UsageError("x")):
        assert e.transient is False and e.retry_after is None and not is_transient(e)
    assert is_transient(Unavailable("503", retry_after=2.0))
    throttled = NotifyError("429", destination="https://h", transient=True, retry_after=3.0)
    assert is_transient(throttled) and throttled.retry_after == 3.0


def test_a_cluster_error_names_its_request() -> None:
    info = RequestInfo("patch", "deployments/scale", "production", "api", "oncall")
    e = from_status(503, b"{}", {"Retry-After": "4"}, info)
    assert isinstance(e, Unavailable) and e.transient and e.retry_after == 4.0
    assert e.request == Request("patch", "deployments/scale", "production", "api", "oncall")


def test_an_option_is_named_neutrally_in_the_core_and_as_a_flag_by_the_cli() -> None:
    with pytest.raises(UsageError) as err:
        AllowList(cidrs=("10.0.0.0/33",)).check()
    assert err.value.option == "allow_cidr"
    assert str(err.value).startswith("allow_cidr '10.0.0.0/33' is not an IP network")
    assert message(err.value).startswith("--allow-cidr '10.0.0.0/33' is not an IP network")


def test_a_remedy_is_worded_by_the_front_end() -> None:
    with pytest.raises(UsageError) as err:
        resolve_params({"ns": Param(type="string", required=True)}, {}, {})
    assert err.value.remedy == Remedy("give-params", {"names": "ns"})
    assert err.value.hint == "give a value for: ns"
    assert hint(err.value) == "--set ns=VALUE"
    assert "--" not in (Conflict("x", remedy=Remedy("isolate-strict-conflict")).hint or "")
