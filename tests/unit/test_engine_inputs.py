"""The engine's pure parts: params, the alert check, the journal read back for resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from irkit.engine.execution import is_transient, redact
from irkit.engine.params import check_alert, coerce, parse_sets, resolve_params
from irkit.engine.prepare import prepare
from irkit.errors import Conflict, IrkitError, NotifyError, Unavailable, UsageError
from irkit.incident.state import read_state
from irkit.incident.store import FileStore
from irkit.model.journal import RunEvent
from irkit.redact import REDACTED, journaled_params
from irkit.runbook.model import Param, Step
from irkit.runbook.templating import TemplateFailure

ALERT = {"commonLabels": {"namespace": "production", "deployment": "api-server"}}
BASE = {"alert": ALERT, "incident": {"id": "inc-1", "started_at": "2026-11-26T03:00:00Z"}}


def test_params_are_coerced_and_defaults_rendered() -> None:
    declared = {
        "namespace": Param(default="{{ alert.commonLabels.namespace }}"),
        "replicas": Param(type="integer", default=1),
        "scale_down": Param(type="boolean", default=True),
        "cidrs": Param(type="list"),
        "ticket": Param(default="IR-{{ incident.id }}"),
        "owner": Param(required=True),
    }
    given = {"replicas": "0", "scale_down": "no", "cidrs": "10.0.0.1/32, 10.0.0.2/32", "owner": "x"}
    values = resolve_params(declared, given, BASE)
    assert values == {
        "namespace": "production",
        "replicas": 0,
        "scale_down": False,
        "cidrs": ["10.0.0.1/32", "10.0.0.2/32"],
        "ticket": "IR-inc-1",
        "owner": "x",
    }


def test_unknown_and_missing_params_are_named() -> None:
    declared = {"namespace": Param(required=True), "workload": Param(required=True)}
    with pytest.raises(UsageError, match=r"unknown param 'namspace' \(did you mean 'namespace'"):
        resolve_params(declared, {"namspace": "x"}, BASE)
    with pytest.raises(UsageError, match="missing required params: namespace, workload"):
        resolve_params(declared, {}, BASE)


def test_a_default_over_a_missing_alert_field_names_the_param() -> None:
    declared = {"pod": Param(default="{{ alert.commonLabels.pod }}")}
    with pytest.raises(TemplateFailure, match="param 'pod' default"):
        resolve_params(declared, {}, BASE)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("integer", "12", 12),
        ("integer", 7, 7),
        ("boolean", "TRUE", True),
        ("boolean", "off", False),
        ("string", 3, "3"),
        ("list", ["a", 1], ["a", "1"]),
    ],
)
def test_coerce(kind: Any, value: Any, expected: Any) -> None:
    assert coerce("p", Param(type=kind), value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [("integer", "1.5"), ("integer", True), ("boolean", "maybe"), ("string", ["x"])],
)
def test_coerce_refuses(kind: Any, value: Any) -> None:
    with pytest.raises(UsageError, match="param 'p'"):
        coerce("p", Param(type=kind), value)


def test_parse_sets() -> None:
    assert parse_sets(["a=1", "b=x=y", "a=2"]) == {"a": "2", "b": "x=y"}
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_sets(["novalue"])


def test_the_alert_is_an_object_of_bounded_size() -> None:
    assert check_alert(None, 100) == {}
    assert check_alert({"a": "b"}, 100) == {"a": "b"}
    with pytest.raises(UsageError, match="more than the limit of 100"):
        check_alert({"a": "b" * 200}, 100)
    with pytest.raises(UsageError, match="JSON object"):
        check_alert(["a"], 100)


def test_only_transient_errors_are_retried() -> None:
    assert is_transient(Unavailable("503"))
    assert is_transient(NotifyError("429", destination="https://h", transient=True))
    assert not is_transient(NotifyError("400", destination="https://h"))
    assert not is_transient(Conflict("changed"))
    assert not is_transient(IrkitError("other"))


def test_webhook_urls_are_redacted() -> None:
    shown = redact("notify", {"url": "https://hooks.slack.com/services/T0/B0/secret", "x": 1})
    assert shown == {"url": "https://hooks.slack.com/…", "x": 1}
    assert redact("isolate", {"url": "kept"}) == {"url": "kept"}


def test_s3_uris_are_journaled_as_given_and_webhooks_are_not() -> None:
    values = {
        "s3": "s3://ir-evidence/cases/2026",
        "slack_webhook": "https://hooks.slack.com/services/T0/B0/secret",
        "relay": "https://relay.example.com/hook/abc",
        "namespace": "production",
    }
    assert journaled_params(values) == {
        "s3": "s3://ir-evidence/cases/2026",  # where the evidence went: the RCA shows it
        "slack_webhook": REDACTED,
        "relay": REDACTED,
        "namespace": "production",
    }


def test_an_rca_output_may_be_a_plain_md_file_name() -> None:
    parsed = Step.model_validate({"id": "s1", "action": "rca", "with": {"output": "rca-2.md"}})
    assert prepare(parsed, {**BASE, "alert": {}, "params": {}, "steps": {}}).inputs


def journal(base: Path) -> tuple[list[RunEvent], list[str]]:
    """The events and notes of ``base/journal.jsonl`` (a command of no incident's journal)."""
    notes: list[str] = []
    return FileStore(base).read("", notes), notes


def _write(path: Path, events: list[dict[str, Any]], tail: str = "") -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + tail)


def test_read_state_for_resume(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    start = {"event": "run-start", "data": {"params": {"a": 1}, "runbook": {"sha256": "x"}}}
    events = [
        start,
        {"event": "step-start", "step": "one", "time": "2026-11-26T03:00:00.000000Z"},
        {
            "event": "step-end",
            "step": "one",
            "action": "isolate",
            "status": "ok",
            "data": {"outputs": {"policy": "p"}},
        },
        {"event": "step-start", "step": "two", "time": "2026-11-26T03:00:01.000000Z"},
    ]
    _write(path, events, tail='{"event": "step-e')  # torn by a crash
    state = read_state(*journal(tmp_path))
    assert state is not None
    assert state.start["params"] == {"a": 1} and state.runbook == {"sha256": "x"}
    assert state.done == {"one": {"status": "ok", "action": "isolate", "outputs": {"policy": "p"}}}
    assert state.open_since == {"two": "2026-11-26T03:00:01.000000Z"} and state.ended == ""
    assert read_state(*journal(tmp_path / "none")) is None


def test_a_damaged_journal_is_not_resumed(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"event": "run-start", "data": {}}\nnot json\n{"event": "run-end"}\n')
    with pytest.raises(IrkitError, match=":2: not a journal event"):
        read_state(*journal(tmp_path))


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"action": "rca", "with": {"output": "../../etc/cron.d/x"}}, "rca output"),
        ({"action": "rca", "with": {"output": "journal.jsonl"}}, "rca output"),
        ({"action": "rca", "with": {"output": ".lock"}}, "rca output"),
        ({"action": "rca", "with": {"output": ".x.md"}}, "rca output"),
        ({"action": "rca", "with": {"output": "evidence/b1/custody.json"}}, "rca output"),
        ({"action": "rca", "with": {"output": "evidence/x.md"}}, "rca output"),
        ({"action": "rca", "with": {"output": "{{ alert.file }}"}}, "rca output"),
        ({"action": "rca", "with": {"template": "/etc/shadow"}}, "rca template"),
        ({"action": "rca", "with": {"template": "{{ alert.path }}"}}, "rca template"),
        ({"action": "wait", "timeout": 5, "with": {"seconds": 10}}, "longer than the step's"),
        ({"action": "scale", "with": {"namespace": "p", "target": "pod/x"}}, "cannot scale"),
        ({"action": "isolate", "with": {"namespace": "p", "target": "pod/A_B"}}, "invalid pod"),
        ({"action": "label", "with": {"namespace": "p"}}, "exactly one of 'target'"),
    ],
)
def test_prepare_refuses_inputs_with_the_step_named(step: dict[str, Any], message: str) -> None:
    parsed = Step.model_validate({"id": "s1", **step})
    alert = {"path": "~/.ssh/id_rsa", "file": "journal.jsonl"}
    context = {**BASE, "alert": alert, "params": {}, "steps": {}}
    with pytest.raises(UsageError, match=message) as caught:
        prepare(parsed, context)
    assert str(caught.value).startswith("step 's1' (")
