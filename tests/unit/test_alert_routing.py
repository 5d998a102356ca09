"""Alert payloads -> records, and records -> runbooks (what serve and drill share)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from irkit.engine.alerts import alertmanager_alerts, falco_alert
from irkit.engine.routing import matches, route, routes
from irkit.errors import AlertError, ConfigError
from irkit.runbook.model import Match

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "tests" / "fixtures" / "alerts"


def _json(name: str) -> Any:
    return json.loads((ALERTS / name).read_text())


def _match(data: dict[str, Any]) -> Match:
    return Match.model_validate(data)


def test_alertmanager_group_gives_one_record_per_alert_keyed_by_fingerprint_and_start() -> None:
    body = _json("alertmanager-miner.json")
    second = copy.deepcopy(body["alerts"][0])
    second["fingerprint"] = "aaaa"
    second["labels"]["pod"] = "other"
    body["alerts"].append(second)
    found = alertmanager_alerts(body)
    assert [a.pod for a in found] == ["api-server-c7cpph9p5s-d4jql", "other"]
    assert found[0].key == "am:5d3e0c9a1b2f4e67:2026-11-26T03:05:36.123Z"
    assert found[0].namespace == "production" and found[0].name == "CryptoMinerDetected"
    assert found[0].payload["commonLabels"]["alertname"] == "CryptoMinerDetected"
    assert found[0].payload["labels"]["pod"] == "api-server-c7cpph9p5s-d4jql"
    again = alertmanager_alerts(_json("alertmanager-miner.json"))[0]
    assert again.key == found[0].key  # redelivery: same key
    later = _json("alertmanager-miner.json")
    later["alerts"][0]["startsAt"] = "2026-11-27T03:05:36Z"
    assert alertmanager_alerts(later)[0].key != found[0].key  # fires again: a new incident


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(version="3"), "version"),
        (lambda b: b.update(alerts=[]), "alerts"),
        (lambda b: b["alerts"][0].update(status="maybe"), "alerts[0].status"),
        (lambda b: b["alerts"][0].update(labels={"a": 1}), "alerts[0].labels"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda b: b["alerts"][0].update(startsAt="x" * 5000), "alerts[0].startsAt"),
    ],
)
def test_a_malformed_alertmanager_payload_names_the_field_and_never_quotes_it(
    change: Any, field: str
) -> None:
    body = _json("alertmanager-miner.json")
    change(body)
    with pytest.raises(AlertError) as e:
        alertmanager_alerts(body)
    assert str(e.value).startswith(f"{field}:")
    assert "yesterday" not in str(e.value) and "xxxx" not in str(e.value)


def test_falco_events_in_one_window_share_a_key_and_uuid_does_not_matter() -> None:
    event = _json("falco-shell.json")
    first = falco_alert(event)
    again = dict(event, uuid="another", time="2026-11-26T03:08:59.1Z")
    assert falco_alert(again).key == first.key
    later = dict(event, time="2026-11-26T03:10:00Z")
    assert falco_alert(later).key != first.key
    other_pod = copy.deepcopy(event)
    other_pod["output_fields"]["k8s.pod.name"] = "web-1"
    assert falco_alert(other_pod).key != first.key
    assert (first.namespace, first.pod, first.status) == (
        "production",
        "api-server-c7cpph9p5s-d4jql",
        "firing",
    )


@pytest.mark.parametrize("body", [[], {"rule": "x"}, {"rule": "x", "time": "now", "priority": "n"}])
def test_a_malformed_falco_event_is_refused(body: Any) -> None:
    with pytest.raises(AlertError):
        falco_alert(body)


def test_alertmanager_matching_labels_regex_and_status() -> None:
    alert = alertmanager_alerts(_json("alertmanager-miner.json"))[0]
    rule = {"alertmanager": {"labels": {"alertname": "CryptoMinerDetected"}}}
    assert matches(_match(rule), alert)
    assert matches(_match({"alertmanager": {"labels": {"namespace": "~prod.*"}}}), alert)
    assert not matches(_match({"alertmanager": {"labels": {"namespace": "~prod"}}}), alert)
    assert not matches(_match({"alertmanager": {"labels": {"missing": "~.*"}}}), alert)
    assert not matches(_match({"falco": {"rules": ["CryptoMinerDetected"]}}), alert)
    resolved = _json("alertmanager-miner.json")
    resolved["alerts"][0]["status"] = "resolved"
    done = alertmanager_alerts(resolved)[0]
    assert not matches(_match(rule), done)  # resolved alerts start nothing by default
    assert matches(_match({"alertmanager": {"status": "any"}}), done)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        (">= notice", True),
        (">= warning", False),
        ("< warning", True),
        ("notice", True),
        ("== critical", False),
        ("<= debug", False),
    ],
)
def test_falco_priority_comparators(priority: str, expected: bool) -> None:
    alert = falco_alert(_json("falco-shell.json"))  # priority Notice
    assert matches(_match({"falco": {"priority": priority}}), alert) is expected


def test_falco_rules_tags_and_output_fields() -> None:
    alert = falco_alert(_json("falco-shell.json"))
    assert matches(_match({"falco": {"rules": ["nope", "~Terminal shell.*"]}}), alert)
    assert not matches(_match({"falco": {"rules": ["Terminal shell"]}}), alert)
    assert matches(_match({"falco": {"tags": ["shell", "T1059"]}}), alert)
    assert not matches(_match({"falco": {"tags": ["shell", "T0000"]}}), alert)
    fields = {"k8s.ns.name": "production", "proc.tty": "34816"}  # numbers compare as text
    assert matches(_match({"falco": {"output_fields": fields}}), alert)
    assert not matches(_match({"falco": {"output_fields": {"k8s.ns.name": "prod"}}}), alert)


def test_the_shipped_runbooks_route_the_fixture_alerts_first_match_by_file_name() -> None:
    shipped = routes(ROOT / "runbooks")
    files = [Path(loaded.path).name for loaded in shipped]
    assert files == sorted(files) and len(files) >= 2
    miner = route(alertmanager_alerts(_json("alertmanager-miner.json"))[0], shipped)
    shell = route(falco_alert(_json("falco-shell.json")), shipped)
    assert miner is not None and miner.runbook.metadata.name == "crypto-miner"
    assert shell is not None and shell.runbook.metadata.name == "suspicious-shell"
    unknown = alertmanager_alerts(_json("alertmanager-miner.json"))[0]
    unknown.payload["labels"]["alertname"] = "DiskFull"
    assert route(unknown, shipped) is None


def test_a_directory_with_an_invalid_runbook_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: irkit.io/v1\nkind: Runbook\nsteps: []\n")
    with pytest.raises(ConfigError):
        routes(tmp_path)
    with pytest.raises(ConfigError):
        routes(tmp_path / "missing")
