"""IRKIT_* environment variables: bad values are UsageErrors naming the variable."""

from __future__ import annotations

import pytest

from irkit.errors import UsageError
from irkit.settings import RunSettings, S3Settings, from_env


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1MB", "IRKIT_RUN_ALERT_MAX_BYTES='1MB': not a whole number"),
        ("0", "IRKIT_RUN_ALERT_MAX_BYTES='0': must be a number above 0"),
        ("-5", "must be a number above 0"),
    ],
)
def test_a_bad_number_names_the_variable(value: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        from_env(RunSettings, "IRKIT_RUN_", {"IRKIT_RUN_ALERT_MAX_BYTES": value})
    assert message in str(caught.value)


def test_floats_and_good_values() -> None:
    with pytest.raises(UsageError, match="IRKIT_RUN_RETRY_MAX='nan'"):
        from_env(RunSettings, "IRKIT_RUN_", {"IRKIT_RUN_RETRY_MAX": "nan"})
    got = from_env(RunSettings, "IRKIT_RUN_", {"IRKIT_RUN_ALERT_MAX_BYTES": " 2048 "})
    assert got.alert_max_bytes == 2048
    assert from_env(S3Settings, "X_", {"X_OBJECT_LOCK_DAYS": "0"}).object_lock_days == 0
