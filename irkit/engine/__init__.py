"""The runbook engine: runs a validated runbook's steps against a cluster, in order.

    result = run(load_runbook("runbooks/compromised-pod.yaml"), params={}, alert=payload,
                 incident="inc-42", adapters=Adapters(cluster=cluster))

Everything the engine talks to is passed in (``irkit.engine.ports``): it imports neither the
Kubernetes client, boto3, typer nor rich. Each step runs through the same action code as the
matching CLI command (its action's runner, ``irkit.actions.registry``); the run is journaled
event by event so that
``resume=True`` can continue after a crash without repeating a finished mutation. The CLI
response commands run as one-step runs (``irkit.engine.command``: ``isolate``, ``release``,
``scale``, ``restore``, ``collect``) into the same journal, in the same format, kept by the
``IncidentStore`` in ``Adapters.store`` (``irkit.incident.store``).
"""

from __future__ import annotations

from irkit.engine.ports import Adapters
from irkit.engine.result import RunResult, StepReport
from irkit.engine.runner import run

__all__ = ["Adapters", "RunResult", "StepReport", "run"]
