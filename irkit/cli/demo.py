"""``make demo`` / ``irkit sim demo``: start the simulated cluster and look around as a responder.

It talks to the simulator exactly as irkit talks to a real cluster: through irkit's own cluster
adapter (``irkit.cluster.kube``) over HTTPS, with a kubeconfig; the CLI never imports the
Kubernetes client itself. A later issue turns this into a scored drill.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from irkit.cli.console import console as clean_console
from irkit.errors import Forbidden
from irkit.sim.cluster import SimCluster

if TYPE_CHECKING:
    from rich.console import Console

    from irkit.cluster.port import Cluster

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"

SUSPICIOUS = ("xmrig", "kworker", "stratum", "secrets")


def _connect(kubeconfig: str) -> Cluster:
    from irkit.cluster.kube import connect  # late: keeps `irkit --help` fast
    from irkit.settings import ClusterSettings

    return connect(ClusterSettings(kubeconfig=kubeconfig))


def _log(cluster: Cluster, pod: str, ns: str, *, previous: bool = False) -> str:
    with cluster.stream_log(ns, pod, "api", previous=previous, timestamps=not previous) as chunks:
        return b"".join(chunks).decode("utf-8", "replace")


def run_demo(scenario: Path, console: Console | None = None) -> None:
    out = console or clean_console()  # every string printed is made inert (cluster data)
    with SimCluster(scenario) as sim:
        out.print(f"[bold]irkit sim[/] {sim.url}  scenario [cyan]{escape(sim.scenario.name)}[/]")
        out.print(
            f"kubeconfig {sim.kubeconfig_path}\naudit log  {sim.audit_log_path}\n"
            "(both last only for this run: they are deleted when the demo ends)\n"
        )
        r = _connect(sim.kubeconfig_path)
        pods = r.list("pods")
        _pod_table(out, pods)

        deps = r.list("deployments", "production")
        out.print(
            "deployments in production: "
            + ", ".join(
                f"{d['metadata']['name']} "
                f"{d['status'].get('readyReplicas', 0)}/{d['spec']['replicas']}"
                for d in deps
            )
        )
        pols = r.list("networkpolicies", "production")
        out.print(
            "network policies in production: " + ", ".join(p["metadata"]["name"] for p in pols)
        )

        suspect = next((p for p in pods if _restarts(p)), None)
        if suspect is not None:
            _show_suspect(out, r, suspect)

        sim.add_user("demo-intern", ("demo:nobody",))
        path = sim.write_kubeconfig(
            Path(sim.kubeconfig_path).with_name("intern.kubeconfig"), "demo-intern"
        )
        intern = _connect(str(path))
        try:
            intern.list("secrets", "production")
        except Forbidden as e:
            out.print(f"\nan unprivileged user is refused: [yellow]{e.status}[/] {escape(str(e))}")

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


def _show_suspect(out: Console, r: Cluster, pod: dict[str, Any]) -> None:
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    out.print(
        f"\n[bold]{escape(ns)}/{escape(name)}[/] has restarted; its container [bold]api[/] logs:"
    )
    current = _log(r, name, ns).splitlines()[-6:]
    _print_log(out, "\n".join(current))
    out.print("[dim]before the restart (--previous):[/]")
    _print_log(out, _log(r, name, ns, previous=True))
    events = r.list("events", ns, fields=f"involvedObject.name={name}")
    reasons = sorted({e["reason"] for e in events})
    out.print(f"events about the pod: {len(events)} ({', '.join(reasons)})")


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
