"""Every action irkit has, by name: adding one is a spec module and a line here.

The runbook format (``irkit.runbook``: loader, schema, lint, permissions), the engine (runners,
checks) and the RCA (undo commands) read what they know about an action from its spec here,
and nowhere else. ``irkit.runbook.model.Action`` names the same actions for the runbook
format; ``tests/unit/test_action_specs.py`` keeps the two equal and every spec complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from irkit.actions.inputs import Input
from irkit.actions.spec import ActionSpec, Runner
from irkit.actions.specs.collect import COLLECT
from irkit.actions.specs.cordon import CORDON, UNCORDON
from irkit.actions.specs.isolate import ISOLATE
from irkit.actions.specs.label import ANNOTATE, LABEL
from irkit.actions.specs.notify import NOTIFY
from irkit.actions.specs.rca import RCA
from irkit.actions.specs.release import RELEASE
from irkit.actions.specs.scale import RESTORE, SCALE
from irkit.actions.specs.snapshot import SNAPSHOT
from irkit.actions.specs.wait import WAIT

_ALL = (
    ISOLATE,
    RELEASE,
    COLLECT,
    SNAPSHOT,
    SCALE,
    RESTORE,
    LABEL,
    ANNOTATE,
    CORDON,
    UNCORDON,
    NOTIFY,
    WAIT,
    RCA,
)

SPECS: Mapping[str, ActionSpec] = MappingProxyType({s.name: s for s in _ALL})
INPUTS: Mapping[str, type[Input]] = MappingProxyType({s.name: s.inputs for s in _ALL})
"""Each action's ``with:`` model, by action name."""


def spec_for(action: str) -> ActionSpec:
    return SPECS[action]


def runner_for(action: str) -> Runner:
    return SPECS[action].runner
