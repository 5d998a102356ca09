"""One spec per action, complete: what the runbook format, the engine and the RCA know of an
action comes from its ``ActionSpec`` in ``irkit.actions.registry``, so a missing or half-filled
spec must fail here rather than in the middle of an incident."""

from __future__ import annotations

import inspect

import pytest

from irkit.actions.inputs import Input
from irkit.actions.registry import INPUTS, SPECS, runner_for, spec_for
from irkit.actions.spec import ActionSpec
from irkit.model.journal import Change
from irkit.runbook.model import Action


def test_the_registry_has_a_spec_for_every_action_and_no_other() -> None:
    assert set(SPECS) == {str(a) for a in Action}
    assert set(INPUTS) == set(SPECS)


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_every_spec_is_complete(action: Action) -> None:
    spec = spec_for(action)
    assert isinstance(spec, ActionSpec)
    assert spec.name == action
    assert issubclass(spec.inputs, Input) and spec.inputs.__doc__, "inputs model with a docstring"
    assert INPUTS[action] is spec.inputs
    assert spec.outputs and all(isinstance(o, str) and o for o in spec.outputs)
    assert callable(spec.runner) and runner_for(action) is spec.runner
    assert list(inspect.signature(spec.runner).parameters) == ["call"]
    assert isinstance(spec.needs, tuple)
    if spec.mutating:
        assert spec.needs, "a mutating action changes objects: it needs permissions"
        # a containment says how to undo it; an action lifting one is its undo
        assert (spec.undo is not None) != spec.lifts
    else:
        assert spec.undo is None and not spec.lifts and not spec.destructive


def test_the_flags_are_the_ones_lint_and_the_rca_rely_on() -> None:
    mutating = {n for n, s in SPECS.items() if s.mutating}
    destructive = {n for n, s in SPECS.items() if s.destructive}
    contains = {n for n, s in SPECS.items() if s.undo is not None}
    lifts = {n for n, s in SPECS.items() if s.lifts}
    assert contains == {"isolate", "scale", "cordon", "label", "annotate"}
    assert lifts == {"release", "restore", "uncordon"}
    assert mutating == contains | lifts
    assert destructive == {"scale", "cordon"}
    assert {n for n, s in SPECS.items() if s.bundles} == {"collect", "snapshot"}
    assert {n for n, s in SPECS.items() if s.secret_url} == {"notify"}
    needless = {n for n, s in SPECS.items() if not s.needs}
    assert needless == {"notify", "wait", "rca"}  # no Kubernetes API


def test_undo_commands_are_one_safe_line() -> None:
    undo = spec_for("isolate").undo
    assert undo is not None
    line = undo(["pod/evil;rm -rf /\nx", "-n", "prod"], [], "inc-1")
    assert line == "irkit release 'pod/evil;rm -rf /?x' -n prod -i inc-1"
    cordon = spec_for("cordon").undo
    assert cordon is not None
    node = Change("patch", "Node", "", "node-1", before=None, after=None)
    assert cordon(["node-1"], [node], "") == "irkit uncordon node-1"
