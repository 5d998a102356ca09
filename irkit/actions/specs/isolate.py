"""``isolate`` as a runbook step: its inputs, outputs, needs, runner and undo."""

from __future__ import annotations

from typing import Literal, cast

from irkit.actions.inputs import Targeted
from irkit.actions.isolate import IsolateRequest, isolate
from irkit.actions.needs import on, resolving
from irkit.actions.netpol import AllowList
from irkit.actions.spec import ActionSpec, StepCall, StepOutcome, plan, status
from irkit.actions.undo import irkit_on_target

REMEDY = (
    "remedy: remove or narrow those policies; isolate with strict: true to fail instead, or "
    "with scope: pod and detach: true to take the pod out of their selectors"
)


class IsolateInput(Targeted):
    """Cut the target off the network with a deny-all NetworkPolicy (``irkit isolate``)."""

    scope: Literal["workload", "pod"] | None = None
    """workload (default for workloads and selectors): the owner's pod selector, so replacement
    pods are isolated too; pod (default for pod/NAME): that pod only."""
    allow_dns: bool = False
    """Allow egress to the cluster DNS (kube-dns, port 53)."""
    allow_cidr: list[str] = []
    """Networks allowed in and out, e.g. a forensic workstation's ``10.0.9.0/24``."""
    allow_to: list[str] = []
    """Pods allowed in and out, as NAMESPACE or NAMESPACE/SELECTOR."""
    detach: bool = False
    """With scope pod: remove the labels Services and the owner select on, so traffic drains and a
    replacement starts."""
    strict: bool = False
    """Fail when other NetworkPolicies still allow traffic to the pods."""
    reason: str = ""
    """Why, recorded on the policy."""


def run(call: StepCall) -> StepOutcome:
    inp = cast(IsolateInput, call.inputs)
    allow = AllowList(inp.allow_dns, tuple(inp.allow_cidr), tuple(inp.allow_to)).check()
    reason = inp.reason or f"runbook {call.runbook.metadata.name}, step {call.step.id}"
    req = IsolateRequest(
        incident=call.incident,
        actor=call.actor,
        command=call.command,
        reason=reason,
        scope=inp.scope,
        allow=allow,
        detach=inp.detach,
        strict=inp.strict,
        dry_run=call.dry_run,
    )
    r = isolate(call.adapters.cluster, call.tgt, req, call.changes)
    outputs = {"policy": r.policy_name, "namespace": r.namespace, "pods": r.pods}
    # Other policies that still let traffic reach the pods: isolation is partial.
    partial = bool(getattr(r, "partial", bool(r.warnings)))
    warnings = [f"isolation partial: {w}" for w in r.warnings]
    if partial:
        warnings.append(REMEDY)
    note = f"networkpolicy/{r.policy_name} {r.status}; {len(r.pods)} pod(s) isolated"
    if partial:
        note += " (partial: other NetworkPolicies still allow traffic)"
    return StepOutcome(
        status(call, partial), outputs, note, plan(call, objects=[r.policy]), warnings
    )


ISOLATE = ActionSpec(
    name="isolate",
    inputs=IsolateInput,
    outputs=frozenset({"policy", "namespace", "pods"}),
    needs=(
        *resolving(),
        *on("list", ["networkpolicies"], note="other policies that would still let traffic in"),
        *on("get", ["networkpolicies"], note="irkit's own policy, read again after a 409"),
        *on("create", ["networkpolicies"]),
        *on("patch", ["networkpolicies"], note="updates irkit's own policy on new options"),
        *on("patch", ["pods"], note="the quarantine label"),
        *on("list", ["services"], option="detach", note="the labels Services select by"),
    ),
    runner=run,
    mutating=True,
    undo=irkit_on_target("release"),
)
