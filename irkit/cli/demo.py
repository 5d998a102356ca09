"""``make demo`` / ``irkit sim demo``: start the simulated cluster and look around as a responder.

It talks to the simulator exactly as irkit talks to a real cluster: the official Kubernetes
client over HTTPS, with a kubeconfig. A later issue turns this into a scored drill.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from irkit.cli.console import console as clean_console
from irkit.sim.cluster import SimCluster

if TYPE_CHECKING:
    from rich.console import Console

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"

SUSPICIOUS = ("xmrig", "kworker", "stratum", "secrets")


class _Reader:
    """Raw JSON reads through the official client (``_preload_content=False``): plain dicts."""

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config  # late: keeps `irkit --help` fast

        api_client = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.net = client.NetworkingV1Api(api_client)

    @staticmethod
    def json(response: Any) -> Any:
        return json.loads(response.data)


def run_demo(scenario: Path, console: Console | None = None) -> None:
    out = console or clean_console()  # every string printed is made inert (cluster data)
    with SimCluster(scenario) as sim:
        out.print(f"[bold]irkit sim[/] {sim.url}  scenario [cyan]{escape(sim.scenario.name)}[/]")
        out.print(
            f"kubeconfig {sim.kubeconfig_path}\naudit log  {sim.audit_log_path}\n"
            "(both last only for this run: they are deleted when the demo ends)\n"
        )
        r = _Reader(sim.kubeconfig_path)
        pods = r.json(r.core.list_pod_for_all_namespaces(_preload_content=False))["items"]
        _pod_table(out, pods)

        deps = r.json(r.apps.list_namespaced_deployment("production", _preload_content=False))
        out.print(
            "deployments in production: "
            + ", ".join(
                f"{d['metadata']['name']} "
                f"{d['status'].get('readyReplicas', 0)}/{d['spec']['replicas']}"
                for d in deps["items"]
            )
        )
        pols = r.json(r.net.list_namespaced_network_policy("production", _preload_content=False))
        out.print(
            "network policies in production: "
            + ", ".join(p["metadata"]["name"] for p in pols["items"])
        )

        suspect = next((p for p in pods if _restarts(p)), None)
        if suspect is not None:
            _show_suspect(out, r, suspect)

        sim.add_user("demo-intern", ("demo:nobody",))
        path = sim.write_kubeconfig(
            Path(sim.kubeconfig_path).with_name("intern.kubeconfig"), "demo-intern"
        )
        intern = _Reader(path)
        try:
            intern.core.list_namespaced_secret("production", _preload_content=False)
        except Exception as e:  # the client's ApiException; its type is the client's business
            body = json.loads(getattr(e, "body", "{}") or "{}")
            out.print(
                "\nan unprivileged user is refused: "
                f"[yellow]{getattr(e, 'status', '?')}[/] {body.get('message')}"
            )

        _respond(out, sim)
        with open(sim.audit_log_path, encoding="utf-8") as f:
            audit_lines = sum(1 for _ in f)
        out.print(
            f"\n{sim.requests_served} requests served; the audit log has {audit_lines} events."
        )
        out.print(
            "Explore it with kubectl: [bold]irkit sim serve[/], "
            "then the `export KUBECONFIG=...` line it prints."
        )


def _restarts(pod: dict[str, Any]) -> int:
    return sum(
        cs.get("restartCount", 0) for cs in pod.get("status", {}).get("containerStatuses", [])
    )


def _pod_table(out: Console, pods: list[dict[str, Any]]) -> None:
    table = Table("NAMESPACE", "POD", "NODE", "STATUS", "RESTARTS", title="pods, all namespaces")
    for p in pods:
        restarts = _restarts(p)
        table.add_row(
            p["metadata"]["namespace"],
            p["metadata"]["name"],
            p["spec"].get("nodeName", ""),
            p["status"].get("phase", ""),
            str(restarts),
            style="bold red" if restarts else None,
        )
    out.print(table)


def _show_suspect(out: Console, r: _Reader, pod: dict[str, Any]) -> None:
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    out.print(
        f"\n[bold]{escape(ns)}/{escape(name)}[/] has restarted; its container [bold]api[/] logs:"
    )
    current = r.core.read_namespaced_pod_log(
        name, ns, container="api", tail_lines=6, timestamps=True
    )
    _print_log(out, current)
    out.print("[dim]before the restart (--previous):[/]")
    _print_log(out, r.core.read_namespaced_pod_log(name, ns, container="api", previous=True))
    selector = f"involvedObject.name={name}"
    events = r.json(
        r.core.list_namespaced_event(ns, field_selector=selector, _preload_content=False)
    )
    reasons = sorted({e["reason"] for e in events["items"]})
    out.print(f"events about the pod: {len(events['items'])} ({', '.join(reasons)})")


def _print_log(out: Console, text: str) -> None:
    for line in text.splitlines():
        style = "red" if any(w in line for w in SUSPICIOUS) else "dim"
        out.print(
            f"  {line}",
            style=style,
            markup=False,
            highlight=False,
            overflow="ellipsis",
            no_wrap=True,
        )


def _respond(out: Console, sim: SimCluster) -> None:
    """Run the shipped compromised-pod runbook against the simulator, as a responder would."""
    runbook = RUNBOOKS / "compromised-pod.yaml"
    if not runbook.is_file():
        out.print(f"[dim](no {runbook}: the runbook part of the demo needs a source checkout)[/]")
        return
    workdir = Path(tempfile.mkdtemp(prefix="irkit-demo-"))
    argv = [
        "run",
        str(runbook),
        "--set",
        "namespace=production",
        "--set",
        "workload=deployment/api-server",
        "--incident",
        "demo-incident",
        "--yes",
    ]
    out.print(f"\n[bold]Now respond: irkit {' '.join(argv)}[/]", highlight=False)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "irkit",
            *argv,
            "--kubeconfig",
            sim.kubeconfig_path,
            "--incidents-dir",
            str(workdir / "incidents"),
        ],
        cwd=workdir,
        check=False,
        env=os.environ | {"IRKIT_JOURNAL": str(workdir / "journal.jsonl")},
    )
    incident = workdir / "incidents" / "demo-incident"
    for bundle in sorted((incident / "evidence").glob("*.tar.gz")):
        # soft_wrap: a path is copied and pasted, so it must stay on one line
        out.print(f"evidence: {bundle}", highlight=False, soft_wrap=True)
        out.print(f"  check it with: irkit verify {bundle}", highlight=False, soft_wrap=True)
    if (incident / "rca.md").is_file():
        out.print(f"RCA draft: {incident / 'rca.md'}", highlight=False, soft_wrap=True)
