"""The terminal words the core's neutral errors with flags (issue 10): the core says ``scope pod``
and ``act for incident inc-A`` (tests/contract/test_isolate*.py, tests/unit/test_audit_sources.py
pin those and the structured fields); ``irkit.cli.wording`` says ``--scope pod`` and
``use --incident inc-A``. These run the commands and read what they print."""

from __future__ import annotations

from pathlib import Path

from helpers import cluster_for, invoke

from irkit.sim import SimCluster

NS = "production"


def test_isolate_scope_and_detach_are_worded_as_flags(sim: SimCluster) -> None:
    scoped = invoke("isolate", "deployment/frontend", "-n", NS, "--scope", "pod",
                    kubeconfig=sim.kubeconfig_path)  # fmt: skip
    assert scoped.exit_code == 2, scoped.output
    assert "--scope pod quarantines one pod: give pod/NAME as the target" in scoped.output
    detached = invoke("isolate", "deployment/frontend", "-n", NS, "--detach",
                      kubeconfig=sim.kubeconfig_path)  # fmt: skip
    assert detached.exit_code == 2, detached.output
    assert "--detach works with --scope pod (a single pod) only" in detached.output


def test_another_incidents_quarantine_says_which_incident_flag(sim: SimCluster) -> None:
    pods = cluster_for(sim).list("pods", NS, labels="app=api-server")
    pod = f"pod/{pods[0]['metadata']['name']}"
    first = invoke("isolate", pod, "-n", NS, "-i", "inc-A", kubeconfig=sim.kubeconfig_path)
    assert first.exit_code in (0, 3), first.output
    second = invoke("isolate", pod, "-n", NS, "-i", "inc-B", kubeconfig=sim.kubeconfig_path)
    assert second.exit_code == 1, second.output
    assert "already quarantined by incident 'inc-A'" in second.output
    assert "use --incident inc-A to change it, or release it first" in second.output


def test_cloudwatch_without_a_region_says_pass_region(tmp_path: Path) -> None:
    env: dict[str, str | None] = {name: None for name in ("AWS_REGION", "AWS_DEFAULT_REGION",
                                                          "AWS_PROFILE")}  # fmt: skip
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}  # fmt: skip
    done = invoke("collect", "deployment/api-server", "-n", NS, "--eks-cluster", "prod", env=env)
    assert done.exit_code == 1, done.output
    assert "cannot reach CloudWatch Logs for /aws/eks/prod/cluster" in done.output
    assert "pass --region (or set AWS_REGION) to the EKS cluster's region" in done.output
