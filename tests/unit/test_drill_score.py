"""The scorecard's rules on plain data: each check passes, fails or skips for the stated reason."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from irkit.drill.scenario import CHECKS, DrillSpec, load_drill, parse_inject
from irkit.drill.score import (
    Facts,
    InjectFact,
    PathFact,
    StepFact,
    UndoFact,
    duplicates,
    passed,
    score,
)
from irkit.errors import ConfigError, UsageError

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "scenarios" / "compromised-pod.yaml"
PREVIOUS = "logs/api-server-x/api.previous.log"
ISOLATED = {"pods": ["api-server-x"], "namespace": "production"}


def spec(**expect: Any) -> DrillSpec:
    base: dict[str, Any] = {
        "alert": {"source": "alertmanager", "payload": {}},
        "compromised": {"namespace": "production", "selector": "app=api-server"},
        "expect": {
            "scaled_to_zero": ["deployment/api-server"],
            "evidence": [
                {"path": "logs/*api*previous*", "contains": "xmrig"},
                {"audit_of_pod": True},
            ],
            "max_seconds": {"contain": 30, "evidence": 120},
        }
        | expect,
        "must_pass": ["contained", "evidence", "steps"],
    }
    return DrillSpec.model_validate(base)


def good() -> Facts:
    return Facts(
        route="",
        run_status="completed",
        steps=[
            StepFact("isolate", "isolate", "ok", 1.5, "production/deployment/api-server", ISOLATED),
            StepFact("collect", "collect", "ok", 3.0, "", {"tarball": "/x.tar.gz"}),
            StepFact("scale_down", "scale", "ok", 3.2, "production/deployment/api-server"),
        ],
        evidence={PREVIOUS: "[xmrig] new job", "audit/events.jsonl": '{"name":"api-server-x"}'},
        compromised=["api-server-x"],
        running=["api-server-x"],
        open_paths=[],
        replicas={"deployment/api-server": 0},
        undo=UndoFact(replicas={"deployment/api-server": (3, 3)}),
        injects=[InjectFact("throttle@collect", True)],
    )


def by_name(facts: Facts, the_spec: DrillSpec | None = None) -> dict[str, Any]:
    return {c.name: c for c in score(the_spec or spec(), facts)}


def test_a_good_response_passes_every_check() -> None:
    checks = score(spec(), good())
    assert [c.name for c in checks] == ["route", *CHECKS]
    assert {c.name: c.status for c in checks} == dict.fromkeys(["route", *CHECKS], "pass")
    assert passed(checks)
    contain = checks[1]
    assert contain.seconds == 1.5 and contain.value == "1.50 s" and contain.budget == "<= 30 s"


def test_times_are_measured_to_the_first_isolate_ending_ok_and_held_to_the_budget() -> None:
    facts = replace(
        good(),
        steps=[
            StepFact("isolate", "isolate", "partial", 1.0, "production/deployment/api-server"),
            StepFact("quarantine", "isolate", "ok", 40.0, "production/pod/api-server-x", ISOLATED),
            StepFact("collect", "collect", "partial", 130.0, "", {"tarball": "/x.tar.gz"}),
        ],
    )
    checks = by_name(facts)
    assert checks["contain_time"].status == "fail"
    assert "over budget by 10.00 s" in checks["contain_time"].detail
    assert "quarantine" in checks["contain_time"].detail
    assert checks["evidence_time"].status == "fail" and checks["evidence_time"].seconds == 130.0
    # contain_time is not a must-pass check here: the drill still passes
    assert passed(score(spec(), facts))


def test_a_tabletop_shows_its_times_without_judging_them() -> None:
    facts = replace(
        good(), tabletop=True, steps=[StepFact("isolate", "isolate", "ok", 95.0, "", ISOLATED)]
    )
    check = by_name(facts)["contain_time"]
    assert (check.status, check.value, check.seconds) == ("skip", "95.00 s", 95.0)
    assert check.detail.startswith("tabletop:")


def test_no_isolate_ending_ok_fails_contain_time_naming_the_steps() -> None:
    facts = replace(good(), steps=[StepFact("isolate", "isolate", "partial", 1.0)])
    check = by_name(facts)["contain_time"]
    assert (check.status, check.value) == ("fail", "never")
    assert check.detail == "no isolate step ended ok (isolate partial)"
    assert by_name(replace(good(), steps=[]))["contain_time"].detail == (
        "the runbook has no isolate step"
    )


def test_missing_evidence_is_named_and_fails_the_must_pass_check() -> None:
    facts = replace(good(), evidence={PREVIOUS: "nothing to see", "audit/events.jsonl": ""})
    checks = score(spec(), facts)
    evidence = next(c for c in checks if c.name == "evidence")
    assert (evidence.status, evidence.value) == ("fail", "0/2")
    assert evidence.detail == "missing: logs/*api*previous* ~ /xmrig/; audit events of the pods"
    assert evidence.must_pass and not passed(checks)
    no_bundle = by_name(replace(good(), evidence=None, evidence_error="no collect step"))
    assert no_bundle["evidence"].detail == "no collect step"


def test_open_paths_fail_containment_unless_allowed() -> None:
    dns = PathFact("egress", "production/api-server-x", "kube-dns (UDP/TCP 53)", "UDP/53", dns=True)
    web = PathFact(
        "ingress",
        "production/api-server-x",
        "pods app=frontend in ns production",
        "TCP/8080",
        ("production/allow-frontend-to-api",),
    )
    facts = replace(good(), open_paths=[dns, web], running=["api-server-x"])
    check = by_name(facts)["contained"]
    assert (check.status, check.value) == ("fail", "2 open path(s)")
    assert "production/allow-frontend-to-api" in check.detail
    allowed = spec(allowed=[{"direction": "egress", "to": "dns"}])
    check = by_name(facts, allowed)["contained"]
    assert check.value == "1 open path(s)" and "kube-dns" not in check.detail
    both = spec(
        allowed=[
            {"direction": "egress", "to": "dns"},
            {"direction": "ingress", "from": "app=frontend", "ports": "TCP/8080"},
        ]
    )
    assert by_name(facts, both)["contained"].status == "pass"
    nothing = by_name(replace(good(), compromised=[]))["contained"]
    assert (nothing.status, nothing.value) == ("fail", "no pods")
    unknown = by_name(replace(good(), open_paths=None, containment_error="forbidden"))
    assert (unknown["contained"].status, unknown["contained"].detail) == ("fail", "forbidden")


def test_scaled_undo_injects_and_skips() -> None:
    facts = replace(
        good(),
        replicas={"deployment/api-server": 3},
        undo=UndoFact(
            ("irkit-quarantine-x",), ("api-server-x",), {"deployment/api-server": (3, 0)}
        ),
        injects=[InjectFact("second-pod@collect", False, "no compromised pod to copy")],
        run_status="failed",
        run_error="boom",
    )
    checks = by_name(facts)
    assert checks["scaled"].detail == "not at 0: deployment/api-server"
    assert checks["undo"].detail == (
        "policies left: irkit-quarantine-x; quarantine labels left on: api-server-x; "
        "deployment/api-server has 0 replicas, not 3"
    )
    assert "second-pod@collect (no compromised pod to copy)" in checks["injects"].detail
    assert checks["steps"].detail == "the run failed: boom"
    quiet = spec(undo=False, scaled_to_zero=[], evidence=[], contained=False)
    skipped = by_name(replace(good(), injects=[]), quiet)
    for name in ("undo", "scaled", "evidence", "contained", "injects"):
        assert skipped[name].status == "skip", name


def test_injects_a_live_drill_cannot_deliver_are_skipped_not_failed() -> None:
    note = "a simulator fault: a live drill cannot inject it"
    only = [InjectFact("throttle@collect", False, note, skipped=True)]
    check = by_name(replace(good(), injects=only))["injects"]
    assert (check.status, check.detail) == ("skip", f"skipped: throttle@collect ({note})")
    mixed = [*only, InjectFact("second-pod@collect", True, "created")]
    check = by_name(replace(good(), injects=mixed))["injects"]
    assert (check.status, check.value) == ("pass", "1/1 delivered")


def test_a_route_failure_always_fails_the_drill() -> None:
    checks = score(spec(), replace(good(), route="its match.alertmanager does not match"))
    assert checks[0].name == "route" and checks[0].must_pass and checks[0].status == "fail"
    assert not passed(checks)


def test_the_same_mutation_twice_is_a_duplicate_but_unchanged_is_not() -> None:
    steps = [
        StepFact("isolate", "isolate", "ok", 1.0, "production/deployment/api-server"),
        StepFact("again", "isolate", "unchanged", 2.0, "production/deployment/api-server"),
        StepFact("scale", "scale", "ok", 3.0, "production/deployment/api-server"),
        StepFact("scale_again", "scale", "ok", 4.0, "production/deployment/api-server"),
        StepFact("collect", "collect", "ok", 5.0, "production/deployment/api-server"),
        StepFact("collect2", "collect", "ok", 6.0, "production/deployment/api-server"),
    ]
    found = duplicates(steps)
    assert found == ["scale production/deployment/api-server twice (steps scale and scale_again)"]
    check = by_name(replace(good(), duplicates=found))["duplicates"]
    assert (check.status, check.value) == ("fail", "1")


def test_the_bundled_scenario_has_a_valid_drill_section() -> None:
    drill = load_drill(EXAMPLE)
    assert drill.runbook == (ROOT / "runbooks" / "compromised-pod.yaml").resolve()
    assert drill.spec.alert.source == "alertmanager"
    assert set(drill.spec.must_pass) == {"route", *CHECKS}


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("  compromised: {namespace: production}\n", "give exactly one of 'selector' or 'pods'"),
        ("  must_pass: [contianed]\n", "must_pass.0"),
        ("  injects: [{before: collect, kind: flood}]\n", "injects.0.kind"),
        ("  expect: {evidence: [{contains: x}]}\n", "give either 'path'"),
        ("  expect: {allowed: [{direction: ingress, to: dns}]}\n", "'to' goes with direction"),
        ("  extra: 1\n", "unknown field 'extra'"),
    ],
)
def test_a_bad_drill_section_names_its_file_and_line(
    tmp_path: Path, text: str, wanted: str
) -> None:
    lines = [
        "apiVersion: irkit.io/v1",
        "kind: Scenario",
        "metadata: {name: bad}",
        "drill:",
        "  alert: {source: alertmanager, payload: {}}",
        "  compromised: {namespace: production, selector: app=x}",
    ]
    key = text.split(":", maxsplit=1)[0].strip()
    lines = [ln for ln in lines if not ln.startswith(f"  {key}:")] + [text.rstrip()]
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as err:
        load_drill(path)
    assert str(err.value).startswith(f"{path}:")
    assert err.value.line is not None and err.value.line >= 4
    assert wanted in str(err.value)


def test_inject_flags() -> None:
    assert parse_inject("second-pod@collect").label == "second-pod@collect"
    for bad in ("throttle", "flood@collect", "fault@collect"):
        with pytest.raises(UsageError):
            parse_inject(bad)


def test_a_live_drill_rewrites_namespaces_and_skips_cluster_scoped_manifests() -> None:
    from irkit.drill.live import namespace_for, namespaced, rename_pod, rewrite_values
    from irkit.drill.scenario import load_drill

    drill = load_drill(EXAMPLE)
    ns = namespace_for("drill-compromised-pod-20261204-120000-ab12")
    assert ns == "irkit-drill-compromised-pod-20261204-120000-ab12"
    manifests, notes, used = namespaced(drill.scenario.manifests, ns)
    assert used == {"production"}
    assert {m["metadata"]["namespace"] for _, m in manifests} == {ns}
    kinds = {m["kind"] for _, m in manifests}
    assert "Event" not in kinds and "Namespace" not in kinds and "ClusterRole" not in kinds
    binding = next(m for _, m in manifests if m["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == ns
    assert notes == [
        "skipped cluster-scoped ClusterRole oncall-viewer",
        "skipped cluster-scoped ClusterRoleBinding oncall-viewer",
    ]
    payload = rewrite_values(drill.spec.alert.payload, used, ns)
    assert payload["commonLabels"]["namespace"] == ns
    assert rename_pod(payload, "api-server-live-1")["alerts"][0]["labels"]["pod"] == (
        "api-server-live-1"
    )
    assert drill.scenario.manifests[0]["metadata"].get("namespace") != ns  # copies, not edits


def test_contain_time_counts_only_an_isolate_of_a_compromised_pod() -> None:
    wrong = StepFact(
        "isolate", "isolate", "ok", 1.0, "production/deployment/frontend", {"pods": ["frontend-a"]}
    )
    check = by_name(replace(good(), steps=[wrong]))["contain_time"]
    assert check.status == "fail"
    assert (
        check.detail
        == "no isolate step that ended ok isolated a compromised pod: isolate isolated frontend-a"
    )


def test_a_compromised_pod_gone_is_contained_only_when_the_scenario_says_so() -> None:
    gone = replace(good(), running=[])
    check = by_name(gone)["contained"]
    assert check.status == "fail"
    assert check.detail == "pod api-server-x no longer exists: containment could not be verified"
    assert by_name(gone, spec(deleted_is_contained=True))["contained"].status == "pass"


def _event(user: str, at: str) -> str:
    body = {"user": {"username": user}, "objectRef": {"name": "api-server-x"}}
    return json.dumps(body | {"requestReceivedTimestamp": at})


def test_the_audit_item_ignores_the_drills_own_requests_and_those_after_the_alert() -> None:
    own = _event("sim-admin", "2026-12-04T10:00:00Z")
    later = _event("system:serviceaccount:production:api-server", "2026-12-04T10:00:05Z")
    custody = json.dumps({"collector": {"cluster_user": "collector-sa"}})
    collector = _event("collector-sa", "2026-12-04T09:59:00Z")
    members = {PREVIOUS: "[xmrig] new job", "custody.json": custody}
    facts = replace(
        good(),
        own_users=("sim-admin",),
        alert_at="2026-12-04T10:00:01+00:00",
        evidence=members | {"audit/events.jsonl": "\n".join([own, later, collector])},
    )
    check = by_name(facts)["evidence"]
    assert (check.status, check.detail) == ("fail", "missing: audit events of the pods")
    before = _event("system:serviceaccount:production:api-server", "2026-12-04T09:59:30Z")
    seen = replace(facts, evidence=members | {"audit/events.jsonl": "\n".join([own, before])})
    assert by_name(seen)["evidence"].status == "pass"
