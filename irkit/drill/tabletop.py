"""The tabletop: a facilitator walks a team through the drill, one plain prompt at a time.

Plain lines in, plain lines out (``ask`` and ``say`` are given by the front end: stdin and
stdout for ``irkit drill --interactive``, so it works in tmux, over ssh, or fed by a script).
The alert is shown and the participants say what they would do (free text, recorded); a
``KUBECONFIG`` line lets them look at the simulated cluster with kubectl; then each runbook
step is shown before it runs (what it does) and after (its effect), pausing for the
facilitator's notes. Approvals are asked here too. Answers and notes go into the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from irkit.engine.alerts import Alert
from irkit.runbook.model import Runbook, Step

MAX_ANSWERS = 20
"""Answers taken per question: an empty line (or the end of input) moves on earlier."""


@dataclass
class Tabletop:
    ask: Callable[[str], str | None]
    """One line from the room; None at the end of input."""
    say: Callable[[str], None]
    answers: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (step id or "", note)
    approvals: list[tuple[str, bool]] = field(default_factory=list)
    runbook: Runbook | None = None

    def alert(self, alert: Alert, kubeconfig: str) -> None:
        self.say("")
        self.say(f"ALERT ({alert.source}, {alert.status}): {alert.name or 'unnamed'}")
        where = "/".join(p for p in (alert.namespace, alert.pod) if p)
        if where:
            self.say(f"  about: {where}")
        for key, value in _described(alert.payload).items():
            self.say(f"  {key}: {value}")
        if kubeconfig:
            self.say("Look around the cluster with kubectl in another pane:")
            self.say(f"  export KUBECONFIG={kubeconfig}")
        self.say("What would you do first? One answer per line; an empty line goes on.")
        for _ in range(MAX_ANSWERS):
            answer = self.ask("answer> ")
            if not answer:
                break
            self.answers.append(answer.strip())

    def before_step(self, step_id: str) -> None:
        steps = self.runbook.steps if self.runbook else []
        step = next((s for s in steps if s.id == step_id), None)
        if step is None:
            return
        self.say("")
        self.say(f"NEXT: {step.id} ({step.action})")
        if step.description:
            self.say(f"  {' '.join(step.description.split())}")

    def after_step(self, step_id: str, line: str) -> None:
        self.say(f"EFFECT: {line}")
        self.note(step_id)

    def note(self, step_id: str) -> None:
        text = self.ask("facilitator note (empty: go on)> ")
        if text and text.strip():
            self.notes.append((step_id, text.strip()))

    def approve(self, step: Step, rendered: Mapping[str, Any]) -> bool:
        what = ", ".join(f"{k}={v}" for k, v in rendered.items())
        self.say(f"APPROVAL: step {step.id} ({step.action}) {what}")
        answer = (self.ask(f"approve {step.id}? [y/N]> ") or "").strip().lower()
        approved = answer in ("y", "yes")
        self.approvals.append((step.id, approved))
        return approved


def _described(payload: Mapping[str, Any]) -> dict[str, str]:
    """A few readable lines of the alert: its annotations' summary/description, or Falco's
    output, each cut short (alert text is hostile: the front end shows control characters)."""
    out: dict[str, str] = {}
    annotations = payload.get("annotations")
    if isinstance(annotations, Mapping):
        for key in ("summary", "description"):
            if isinstance(annotations.get(key), str):
                out[key] = str(annotations[key])[:300]
    if isinstance(payload.get("output"), str):
        out["output"] = str(payload["output"])[:300]
    return out


__all__ = ["Tabletop"]
