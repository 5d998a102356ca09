"""``leaky_policies``: which other policies keep traffic flowing to quarantined pods."""

from __future__ import annotations

from typing import Any

from irkit.actions.netpol import (
    MANAGED_BY,
    QUARANTINE_LABEL,
    AllowList,
    leaky_policies,
    quarantine_spec,
)


def policy(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


ALLOW_ALL = {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}
PODS = [{"app": "api", QUARANTINE_LABEL: "inc-1"}]


def test_an_allow_all_policy_labelled_as_irkits_still_warns() -> None:
    disguised = policy("totally-irkit", ALLOW_ALL, {MANAGED_BY: "irkit"})
    (warning,) = leaky_policies([disguised], PODS, "irkit-quarantine-deployment-api")
    assert "'totally-irkit'" in warning and "ingress" in warning


def test_irkits_own_deny_all_policies_never_warn() -> None:
    deny = quarantine_spec({"matchLabels": {QUARANTINE_LABEL: "inc-1"}}, AllowList())
    other = policy("irkit-quarantine-pod-api-0", deny, {MANAGED_BY: "irkit"})
    assert leaky_policies([other], PODS, "irkit-quarantine-deployment-api") == []
