"""Incident ids become label values, object names and paths, and some are read off the cluster."""

from __future__ import annotations

import pytest

from irkit.errors import UsageError
from irkit.incident.ids import check_incident_id


@pytest.mark.parametrize("bad", ["inc-A\n", "inc-A\r", "\ninc-A", "a/b", "..", "a..b", "", "-x"])
def test_hostile_ids_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        check_incident_id(bad)


def test_a_plain_id_is_kept() -> None:
    assert check_incident_id("inc-20261204-1_2.a") == "inc-20261204-1_2.a"
