"""``make demo`` / ``irkit sim demo``: start the simulated cluster and look around as a responder.

It talks to the simulator exactly as irkit talks to a real cluster: the official Kubernetes
client over HTTP, with a kubeconfig. A later issue turns this into a scored drill.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from irkit.sim.cluster import SimCluster


def run_demo(scenario: Path, console: Console | None = None) -> None:
    from kubernetes import client, config  # late: keeps `irkit --help` fast
    from kubernetes.client.rest import ApiException

    out = console or Console()
    with SimCluster(scenario) as sim:
        out.print(f"[bold]irkit sim[/] {sim.url}  scenario [cyan]{sim.scenario.name}[/]")
        out.print(f"kubeconfig {sim.kubeconfig_path}   audit log {sim.audit_log_path}\n")
        api_client = config.new_client_from_config(config_file=sim.kubeconfig_path)
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        net = client.NetworkingV1Api(api_client)

        pods = core.list_pod_for_all_namespaces().items
        table = Table("NAMESPACE", "POD", "NODE", "STATUS", "RESTARTS", title="kubectl get pods -A")
        for p in pods:
            restarts = sum(cs.restart_count for cs in p.status.container_statuses or [])
            table.add_row(p.metadata.namespace, p.metadata.name, p.spec.node_name, p.status.phase,
                          str(restarts), style="bold red" if restarts else None)
        out.print(table)

        deps = apps.list_namespaced_deployment("production").items
        out.print("deployments in production: " + ", ".join(
            f"{d.metadata.name} {d.status.ready_replicas or 0}/{d.spec.replicas}" for d in deps))
        policies = net.list_namespaced_network_policy("production").items
        out.print("network policies in production: " + ", ".join(p.metadata.name for p in policies))

        suspect = next((p for p in pods if any(cs.restart_count for cs in p.status.container_statuses or [])), None)
        if suspect is not None:
            name, ns = suspect.metadata.name, suspect.metadata.namespace
            out.print(f"\n[bold]{ns}/{name}[/] restarted; its logs (container api):")
            current = core.read_namespaced_pod_log(name, ns, container="api", tail_lines=6)
            _print_log(out, current)
            previous = core.read_namespaced_pod_log(name, ns, container="api", previous=True)
            out.print("[dim]previous container:[/]")
            _print_log(out, previous)
            events = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
            out.print(f"events for the pod: {len(events)} ({', '.join(sorted({e.reason for e in events}))})")

        sim.add_user("demo-intern", ("demo:nobody",))
        intern = config.new_client_from_config(config_file=sim.write_kubeconfig(
            Path(sim.kubeconfig_path).with_name("intern.kubeconfig"), user="demo-intern"))
        try:
            client.CoreV1Api(intern).list_namespaced_secret("production")
        except ApiException as e:
            out.print(f"\nan unprivileged user is refused: [yellow]{e.status}[/] {_message(e)}")

        out.print(f"\n{sim.requests_served} requests served, each written to the audit log "
                  f"({sum(1 for _ in open(sim.audit_log_path, encoding='utf-8'))} lines).")
        if shutil.which("kubectl"):
            out.print("Try it yourself: [bold]irkit sim serve[/], then `export KUBECONFIG=...` and kubectl.")


def _print_log(out: Console, text: str) -> None:
    for line in text.splitlines():
        style = "red" if any(w in line for w in ("xmrig", "kworker", "stratum", "secrets")) else "dim"
        out.print(f"  {line}", style=style, markup=False, highlight=False)


def _message(e: Any) -> str:
    import json

    try:
        return str(json.loads(e.body)["message"])
    except (ValueError, KeyError, TypeError):
        return str(e.reason)
