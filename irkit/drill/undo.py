"""Undo a drill's response the way a responder would after the review, and check it held.

Every isolate step of the run is released and every scale step restored (restores first, in
reverse order, as the runbooks' own undo lines say: ``irkit restore``, then ``irkit release``),
each as the same one-step command run ``irkit release``/``irkit restore`` journal
(``irkit.engine.command``) into the drill's incident. Then the cluster is read back: no
quarantine policy or label of the incident left, each workload at its replicas from before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from irkit.actions.release import release
from irkit.actions.scale import restore
from irkit.cluster.port import Cluster
from irkit.drill.observe import quarantine_left, replicas
from irkit.drill.score import StepFact, UndoFact
from irkit.engine.command import CommandSpec, one_step_run
from irkit.errors import IrkitError
from irkit.incident.journal import EventSink
from irkit.model.target import parse_target

UNDOES = {"scale": "restore", "isolate": "release"}


def undo(
    cluster: Cluster,
    steps: Sequence[StepFact],
    *,
    incident: str,
    namespace: str,
    before: Mapping[str, int | None],
    journal: EventSink,
    clock: Callable[[], datetime],
    say: Callable[[str], None],
) -> UndoFact:
    """Undo what ``steps`` changed; ``before``: each workload's replicas before the drill."""
    todo: list[tuple[str, str]] = []
    for action in ("scale", "isolate"):
        for s in reversed(steps):
            done = s.status in ("ok", "partial", "unchanged")
            if s.action == action and done and s.target and (UNDOES[action], s.target) not in todo:
                todo.append((UNDOES[action], s.target))
    errors = []
    for command, where in todo:
        try:
            _one(cluster, command, where, incident, journal, clock)
            say(f"undo: irkit {command} {where.partition('/')[2]} -n {where.partition('/')[0]}")
        except IrkitError as e:
            errors.append(f"{command} {where}: {e}")
    try:
        policies, pods = quarantine_left(cluster, namespace, incident)
        now = replicas(cluster, namespace, [ref for ref, n in before.items() if n is not None])
    except IrkitError as e:
        return UndoFact(error="; ".join([*errors, f"cannot read the cluster back: {e}"]))
    back = {ref: (int(before[ref] or 0), got) for ref, got in now.items()}
    return UndoFact(tuple(policies), tuple(pods), back, "; ".join(errors))


def _one(
    cluster: Cluster,
    command: str,
    where: str,
    incident: str,
    journal: EventSink,
    clock: Callable[[], datetime],
) -> None:
    namespace, _, what = where.partition("/")
    if what.startswith("-l "):
        target = parse_target(namespace, None, what[3:])
    else:
        target = parse_target(namespace, what, None)
    actor = cluster.identity.user
    argv = ["irkit", command, what, "-n", namespace, "-i", incident]
    spec = CommandSpec(command, incident, actor, str(target), argv)
    with one_step_run(spec, journal, clock) as rec:
        if command == "release":
            result = release(cluster, target, incident=incident, changes=rec.changes)
            rec.outputs = {"policy": result.policy_name, "status": result.status}
        else:
            restored = restore(cluster, target, changes=rec.changes)
            rec.outputs = restored.to_json()
        rec.result = "ok" if rec.changes else "unchanged"


__all__ = ["undo"]
