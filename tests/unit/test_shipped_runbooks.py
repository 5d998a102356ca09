"""The runbooks irkit ships: each validates with no error and no warning, carries the editor
modeline, and says what the issue asks of it. (They run end to end on irkit.sim in the engine's
tests.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from irkit.runbook.loader import check, load_runbook
from irkit.runbook.model import Runbook
from irkit.runbook.templating import render_value

RUNBOOKS = Path(__file__).resolve().parent.parent.parent / "runbooks"
NAMES = [
    "compromised-pod",
    "crypto-miner",
    "suspicious-shell",
    "leaked-service-account-token",
    "suspicious-egress",
]
MODELINE = "# yaml-language-server: $schema=./schema.json"


def book(name: str) -> Runbook:
    return load_runbook(RUNBOOKS / f"{name}.yaml").runbook


def test_every_shipped_runbook_is_listed_here() -> None:
    assert sorted(p.stem for p in RUNBOOKS.glob("*.yaml")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_validates_with_no_findings_and_the_modeline(name: str) -> None:
    path = RUNBOOKS / f"{name}.yaml"
    assert path.read_text(encoding="utf-8").partition("\n")[0] == MODELINE
    loaded, findings = check(path)
    assert [str(f) for f in findings] == []
    assert loaded is not None and loaded.runbook.metadata.name == name


def actions(runbook: Runbook) -> list[str]:
    return [str(s.action) for s in runbook.steps]


def test_compromised_pod_follows_the_seeds_order() -> None:
    rb = book("compromised-pod")
    assert actions(rb) == ["snapshot", "isolate", "collect", "isolate", "notify", "scale", "rca"]
    # the pod the alert names: quarantined alone and detached, after collect read it in place
    pod = rb.step("quarantine_pod")
    assert pod.when == "params.pod" and pod.with_["scope"] == "pod" and pod.with_["detach"]
    assert rb.match.alertmanager is not None
    assert rb.match.alertmanager.labels == {"alertname": "PodCompromised"}
    labels = {"labels": {"pod": "api-server-x"}}
    for alert, pod_name in ((labels, "api-server-x"), ({"commonLabels": {}}, ""), ({}, "")):
        context: dict[str, Any] = {"alert": alert, "incident": {"id": "inc-1", "started_at": ""}}
        assert render_value(rb.params["pod"].default, context) == pod_name
    assert rb.step("scale_down").approval == "required"
    assert rb.step("scale_down").with_["replicas"] == 0
    assert rb.step("notify").when == "params.slack_webhook"
    assert rb.params["slack_webhook"].default == ""
    assert rb.params["workload"].required and rb.params["namespace"].required
    assert rb.params["s3"].default == ""


def test_crypto_miner_matches_falco_and_alertmanager_and_cuts_dns() -> None:
    rb = book("crypto-miner")
    assert actions(rb) == ["snapshot", "isolate", "collect", "scale", "rca"]
    assert rb.step("isolate").with_["allow_dns"] is False
    assert rb.step("scale_down").approval == "required"
    assert rb.match.alertmanager is not None and rb.match.falco is not None
    assert rb.match.alertmanager.labels == {"alertname": "CryptoMinerDetected"}
    assert any("miner" in rule.lower() for rule in rb.match.falco.rules)


def test_suspicious_shell_takes_namespace_and_pod_from_the_falco_event() -> None:
    rb = book("suspicious-shell")
    assert actions(rb) == ["snapshot", "isolate", "collect", "notify", "rca"]
    assert rb.match.falco is not None
    assert rb.match.falco.rules == ["Terminal shell in container"]
    assert rb.match.falco.priority == ">= notice"
    isolate = rb.step("isolate").with_
    assert isolate["scope"] == "pod" and isolate["target"] == "pod/{{ params.pod }}"
    event = {"output_fields": {"k8s.ns.name": "production", "k8s.pod.name": "api-server-x"}}
    context: dict[str, Any] = {"alert": event, "incident": {"id": "inc-1", "started_at": ""}}
    assert render_value(rb.params["namespace"].default, context) == "production"
    assert render_value(rb.params["pod"].default, context) == "api-server-x"


def test_crypto_miner_namespace_comes_from_either_kind_of_alert() -> None:
    default = book("crypto-miner").params["namespace"].default
    for alert in (
        {"output_fields": {"k8s.ns.name": "production"}},
        {"labels": {"alertname": "CryptoMinerDetected", "namespace": "production"}},
        {"alerts": [], "commonLabels": {"namespace": "production"}},
    ):
        assert render_value(default, {"alert": alert, "incident": {}}) == "production"


def test_leaked_token_collects_the_service_accounts_audit_trail() -> None:
    rb = book("leaked-service-account-token")
    assert actions(rb) == ["snapshot", "isolate", "collect", "rca"]
    collect = rb.step("collect").with_
    assert collect["actors"] == ["{{ params.namespace }}:{{ params.service_account }}"]
    assert collect["audit_log"] == ["{{ params.audit_log }}"]
    assert rb.params["service_account"].required


@pytest.mark.parametrize("name", NAMES)
def test_state_is_snapshotted_before_isolate_changes_it(name: str) -> None:
    """RFC 3227: the pods' labels and the policies as found, before isolate changes them."""
    rb = book(name)
    steps = actions(rb)
    if "isolate" in steps:
        assert steps[0] == "snapshot"
        snap, isolate = rb.step("snapshot").with_, rb.step("isolate").with_
        assert (snap["namespace"], snap["target"]) == (isolate["namespace"], isolate["target"])
