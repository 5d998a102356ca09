"""``run``: a runbook, from its inputs to a journaled result (or a dry-run plan).

Before any step runs: the alert's size is checked, params are coerced and completed, and every
step whose templates read no earlier step's outputs is rendered and validated, so bad input
stops the run with nothing done and nothing written.

Resume (``resume=True``) reads the incident's journal: params, alert and started_at
come from the first run-start; steps whose last step-end is ok, unchanged or skipped are not
run again; the first other one (failed, awaiting approval, or started and never ended because
the process died) runs again, which is safe because every action is idempotent. A runbook file
whose sha256 differs from the journal's is refused, unless ``allow_changed`` (then each
finished step must still exist with the same action).

Dry run: no lock, no journal, no evidence; mutating actions send server-side dryRun writes and
the result's steps carry the concrete objects as their ``plan``.

The journal and the run lock are the ``IncidentStore``'s (``Adapters.store``; files under
``RunSettings.incidents_dir`` when none is given): the runner only appends, reads and locks
through it. The incident's folder (``IncidentPaths``) is for the steps' artefacts: evidence
bundles and ``rca.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from irkit.engine.execution import Execution, stamp
from irkit.engine.params import check_alert, coerce, resolve_params
from irkit.engine.ports import Adapters
from irkit.engine.prepare import check_all, template_context
from irkit.engine.result import FINISHED, RunResult
from irkit.errors import IrkitError, NotFound, UsageError
from irkit.incident.journal import NoJournal
from irkit.incident.paths import IncidentPaths
from irkit.incident.state import RunState, read_state
from irkit.incident.store import FileStore, IncidentJournal, IncidentStore
from irkit.model.journal import RUN_START
from irkit.redact import REDACTED, journaled_params
from irkit.runbook.loader import Loaded
from irkit.runbook.model import Runbook
from irkit.settings import RunSettings


def run(
    loaded: Loaded,
    *,
    params: Mapping[str, Any] | None = None,
    alert: Mapping[str, Any] | None = None,
    incident: str,
    adapters: Adapters,
    dry_run: bool = False,
    yes: bool = False,
    resume: bool = False,
    allow_changed: bool = False,
    settings: RunSettings | None = None,
    command: str = "",
) -> RunResult:
    settings = settings or RunSettings()
    paths = IncidentPaths.of(incident, Path(settings.incidents_dir))
    store = adapters.store or FileStore(Path(settings.incidents_dir))
    adapters = replace(adapters, store=store)
    journal = IncidentJournal(store, incident)
    info = runbook_info(loaded)
    command = command or f"irkit run {loaded.path} --incident {incident}"
    notes: list[str] = []  # what reading the journal skipped: resume refuses a damaged one
    if resume:
        if dry_run:
            raise UsageError("--dry-run plans a new run; it cannot be combined with --resume")
        if alert:
            raise UsageError(
                "a resumed run keeps the params and alert it started with (from its journal)",
                hint="drop --alert-file",
            )
        events = store.read(incident, notes)
        if read_state(events, notes) is None:  # checked before the lock creates the folder
            raise NotFound(
                f"incident {incident} has no run to resume ({_where(journal)} "
                + ("holds only commands run by hand)" if events else "does not exist)"),
                hint="check --resume ID (irkit incidents lists them), --incidents-dir and "
                "IRKIT_HOME",
            )
        with store.lock(incident):
            return _resume(
                loaded, paths, info, adapters, yes, allow_changed, settings, command, params or {}
            )
    payload = check_alert(dict(alert) if alert is not None else None, settings.alert_max_bytes)
    started_at = stamp(adapters.clock())
    base = template_context({}, payload, incident, started_at, {})
    values = resolve_params(loaded.runbook.params, params or {}, base)
    context = template_context(values, payload, incident, started_at, {})
    check_all(loaded.runbook, context)
    execution = Execution(
        loaded.runbook,
        Path(loaded.path).parent,
        paths,
        adapters,
        NoJournal(),
        context,
        settings,
        command,
        dry_run=dry_run,
        yes=yes,
    )
    if dry_run:
        adapters.output(f"plan for runbook {info['name']} (dry run: nothing is changed)")
        return execution.execute()
    with store.lock(incident):
        if read_state(store.read(incident, notes), notes) is not None:
            raise UsageError(
                f"incident {incident} already has a run ({_where(journal)})",
                hint=f"continue it with irkit run --resume {incident}, or use another --incident",
            )
        execution.journal = journal
        params_shown = journaled_params(values)  # secrets: never in the journal
        start = {
            "runbook": info,
            "params": params_shown,
            "alert": payload,
            "started_at": started_at,
        }
        _start(execution, start | {"severity": str(loaded.runbook.metadata.severity)})
        return execution.execute()


def _start(execution: Execution, data: dict[str, Any]) -> None:
    actor = execution.actor
    execution.event(RUN_START, data=data | {"actor": actor, "dry_run": False})
    journal = IncidentJournal(_store(execution.adapters), execution.incident)
    execution.out(
        f"running runbook {data['runbook']['name']} as incident {execution.incident} "
        f"(journal {_where(journal)})"
    )


def _store(adapters: Adapters) -> IncidentStore:
    if adapters.store is None:  # run() always sets one
        raise AssertionError("no incident store")
    return adapters.store


def _where(journal: IncidentJournal) -> str:
    """The journal's file, or where the store keeps it, for people to read."""
    return str(journal.path or f"the incident store's journal of {journal.incident}")


def _resume(
    loaded: Loaded,
    paths: IncidentPaths,
    info: dict[str, str],
    adapters: Adapters,
    yes: bool,
    allow_changed: bool,
    settings: RunSettings,
    command: str,
    given: Mapping[str, Any],
) -> RunResult:
    store = _store(adapters)
    notes: list[str] = []
    state = read_state(store.read(paths.incident, notes), notes)
    if state is None:
        journal = IncidentJournal(store, paths.incident)
        raise NotFound(f"incident {paths.incident}: {_where(journal)} holds no run-start")
    _check_runbook(state, info, loaded.runbook, allow_changed, paths.incident)
    done = {s: d for s, d in state.done.items() if d["status"] in FINISHED}
    outputs = {s: d["outputs"] for s, d in state.done.items()}
    start = state.start
    journaled = start.get("params") if isinstance(start.get("params"), dict) else {}
    alert = start.get("alert") if isinstance(start.get("alert"), dict) else {}
    started_at = str(start.get("started_at") or "")
    everything_done = all(step.id in done for step in loaded.runbook.steps)
    params = _secrets_again(loaded.runbook, journaled or {}, given, not everything_done)
    context = template_context(params, alert or {}, paths.incident, started_at, outputs)
    check_all(_unfinished(loaded.runbook, done), context)
    interrupted = {s: t for s, text in state.open_since.items() if (t := _parse(text))}
    execution = Execution(
        loaded.runbook,
        Path(loaded.path).parent,
        paths,
        adapters,
        NoJournal() if everything_done else IncidentJournal(store, paths.incident),
        context,
        settings,
        command,
        yes=yes,
        done=done,
        interrupted=interrupted,
    )
    if everything_done:
        adapters.output(f"incident {paths.incident}: every step is done; nothing to resume")
    else:
        shown = journaled_params(params)
        _start(execution, {"runbook": info, "params": shown, "resumed": True})
    return execution.execute()


def _secrets_again(
    runbook: Runbook, journaled: Mapping[str, Any], given: Mapping[str, Any], needed: bool
) -> dict[str, Any]:
    """The journaled params with the secrets (journaled as ``REDACTED``) given again by
    ``--set``: only those may be set on resume, and each is needed if a step is left to run."""
    redacted = sorted(k for k, v in journaled.items() if v == REDACTED)
    extra = sorted(set(given) - set(redacted))
    if extra:
        raise UsageError(
            f"a resumed run keeps the params it started with: --set {', '.join(extra)} refused"
            " (only params journaled as <redacted> are given again)",
            hint="drop those --set",
        )
    missing = [k for k in redacted if k not in given]
    if missing and needed:
        raise UsageError(
            f"the journal does not keep secret params; give them again: {', '.join(missing)}",
            hint=" ".join(f"--set {k}=VALUE" for k in missing),
        )
    params = dict(journaled)
    for name, value in given.items():
        declared = runbook.params.get(name)
        params[name] = coerce(name, declared, value) if declared is not None else value
    return params


def _check_runbook(
    state: RunState, info: dict[str, str], runbook: Runbook, allow_changed: bool, incident: str
) -> None:
    old = str(state.runbook.get("sha256") or "")
    if old == info["sha256"]:
        return
    if not allow_changed:
        raise UsageError(
            f"the runbook {info['path']} is not the one incident {incident} started with"
            f" (sha256 {old[:12]}…, now {info['sha256'][:12]}…): refusing to resume",
            hint="put the runbook back as it was, or resume with --allow-changed to use this "
            "version (finished steps are kept by id and must keep their action)",
        )
    actions = {s.id: str(s.action) for s in runbook.steps}
    for step_id, done in state.done.items():
        if done["status"] in FINISHED and actions.get(step_id) != done["action"]:
            raise UsageError(
                f"--allow-changed: step {step_id!r} ({done['action']}) finished in this "
                "incident but is no longer in the runbook with that action; cannot tell what "
                "is left to do"
            )


def _unfinished(runbook: Runbook, done: Mapping[str, Any]) -> Runbook:
    steps = [s for s in runbook.steps if s.id not in done]
    return runbook.model_copy(update={"steps": steps})


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def runbook_info(loaded: Loaded) -> dict[str, str]:
    path = Path(loaded.path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise IrkitError(f"cannot read the runbook {path}: {e.strerror or e}") from e
    return {"name": loaded.runbook.metadata.name, "path": str(path.resolve()), "sha256": digest}
