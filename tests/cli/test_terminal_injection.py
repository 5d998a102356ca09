"""Cluster data and alert text never reach the terminal raw (issue 7, item 4).

An HPA whose ownerReference ``kind`` carries ESC/BEL/CSI sequences makes ``irkit scale
--force`` refuse: the kind is in the ERROR line and in the TIP. The same refusal inside
``irkit run`` is a progress line. Nothing of it may reach
stdout or stderr as control characters; it must show visibly instead.
"""

from __future__ import annotations

from pathlib import Path

from helpers import IrkitProcess

from irkit.sim import SimCluster
from tests.conftest import api_client

NS = "production"
# OSC title change ended by BEL, clear screen, a C1 CSI (0x9b), a carriage return, a bidi override
EVIL = "Evil\x1b]0;pwned\x07\x1b[2J\x9b31m\rX\u202e"
RAW = ("\x1b", "\x07", "\x9b", "\r", "\u202e")


def _hpa_owned_by_evil(sim: SimCluster) -> None:
    from kubernetes import client

    api = client.AutoscalingV2Api(api_client(sim.kubeconfig_path))
    api.create_namespaced_horizontal_pod_autoscaler(
        NS,
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": "api-server",
                "ownerReferences": [
                    {"apiVersion": "x.io/v1", "kind": EVIL, "name": "ctl", "uid": "1234"}
                ],
            },
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "api-server",
                },
                "minReplicas": 1,
                "maxReplicas": 5,
            },
        },
    )


def _assert_inert(*texts: str) -> None:
    for text in texts:
        for char in RAW:
            assert char not in text, f"raw {char!r} reached the terminal: {text!r}"


def test_error_and_tip_show_hostile_owner_kinds_inert(
    irkit_cli: IrkitProcess, sim: SimCluster
) -> None:
    _hpa_owned_by_evil(sim)
    out = irkit_cli(
        "scale", "deployment/api-server", "-n", NS, "--force", kubeconfig=sim.kubeconfig_path
    )
    assert out.returncode == 1, out.stderr
    error, tip = out.stderr.splitlines()
    assert error.startswith("ERROR ") and tip.startswith("TIP ")
    _assert_inert(out.stdout, out.stderr)
    shown = r"Evil\x1b]0;pwned\x07\x1b[2J\x9b31m\rX\u202e/ctl"
    assert shown in error and shown in tip


def test_progress_lines_show_hostile_cluster_data_inert(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    _hpa_owned_by_evil(sim)
    runbook = tmp_path / "scale.yaml"
    runbook.write_text(
        "apiVersion: irkit.io/v1\nkind: Runbook\nmetadata: {name: scale}\nsteps:\n"
        "  - id: scale_down\n    action: scale\n    with:\n"
        "      namespace: production\n      target: deployment/api-server\n      force: true\n"
    )
    out = irkit_cli("run", str(runbook), "-i", "inc-1", kubeconfig=sim.kubeconfig_path)
    assert out.returncode == 1, out.stderr
    _assert_inert(out.stdout, out.stderr)
    shown = r"Evil\x1b]0;pwned\x07\x1b[2J\x9b31m\rX\u202e/ctl"
    failed = [line for line in out.stdout.splitlines() if "scale_down (scale): failed" in line]
    assert len(failed) == 1 and shown in failed[0], out.stdout
    assert shown in out.stderr.splitlines()[0]  # the ERROR line
