"""How the terminal says an error: the structured fields of ``irkit.errors`` worded with CLI flags.

The core raises with neutral text plus ``option``, ``code`` and ``remedy``; a runbook user reads
``strict``, a terminal user ``--strict``. Only the CLI knows its flags, so only this module
turns those fields into ``--allow-cidr ...`` and ``use --incident INC-1 ...``; a future server
words the same fields its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from irkit.errors import IrkitError

Wording = Callable[[Mapping[str, str]], str]

MESSAGES: dict[str, Wording] = {
    "pod-scope-needs-pod": lambda v: "--scope pod quarantines one pod: give pod/NAME as the target",
    "detach-needs-pod-scope": lambda v: "--detach works with --scope pod (a single pod) only",
    "pod-without-owner": lambda v: f"pod {v['pod']} has no owner: use --scope pod",
}
REMEDIES: dict[str, Wording] = {
    "isolate-strict-conflict": lambda v: "remove or narrow those policies, or run without --strict",
    "owned-by-incident": lambda v: (
        f"use --incident {v['incident']} to change it, or release it first"
    ),
    "quarantined-by-incident": lambda v: (
        f"use --incident {v['incident']}, or release that quarantine first"
    ),
    "joined-incident": lambda v: f"use --incident {v['incident']} to change it on purpose",
    "give-params": lambda v: " ".join(f"--set {n}=VALUE" for n in v["names"].split(", ")),
    "kubeconfig": lambda v: "pass --kubeconfig and --context, or set KUBECONFIG",
    "kubeconfig-load": lambda v: "pass --kubeconfig/--context, or set KUBECONFIG",
    "kube-context-unset": lambda v: "pass --context NAME (or kubectl config use-context NAME)",
    "kube-context-unknown": lambda v: (
        "pass --context with one of those (kubectl config get-contexts)"
    ),
    "aws-region": lambda v: "pass --region (or set AWS_REGION) to the EKS cluster's region",
}


def flag(option: str) -> str:
    """A runbook input's command-line flag: ``allow_cidr`` -> ``--allow-cidr``."""
    return "--" + option.replace("_", "-")


def message(e: IrkitError) -> str:
    words = MESSAGES.get(e.code or "")
    if words is not None:
        return _say(words, e.values, str(e))
    if e.option:
        return f"{flag(e.option)} {e.detail}"
    return str(e)


def hint(e: IrkitError) -> str | None:
    remedy = e.remedy
    words = REMEDIES.get(remedy.code) if remedy is not None else None
    if remedy is None or words is None:
        return e.hint
    return _say(words, remedy.values, e.hint or "")


def _say(words: Wording, values: Mapping[str, str], fallback: str) -> str:
    try:
        return words(values)
    except KeyError:  # a value the raiser did not give: its neutral text is better than nothing
        return fallback
