"""The two ways tests run the ``irkit`` command, and the cluster adapter on a simulator, shared
so every test module does them alike.

``invoke``: in-process through typer's ``CliRunner`` (fast; exceptions and output captured).
``IrkitProcess`` (the ``irkit_cli`` fixture): ``python -m irkit`` as a subprocess with a bare
environment, for what only a real process shows (exit codes, stdout vs stderr, the terminal).
Both add ``--kubeconfig`` last when given one, and neither reaches the developer's own state
directory: ``IRKIT_HOME`` is the test's ``tmp_path`` (set by ``conftest.irkit_home`` for the
in-process runs, passed explicitly to the subprocess). ``cluster_for``: the adapter connected to
a ``SimCluster`` as its admin or another user, with quick retries.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from typer.testing import CliRunner, Result

from irkit.cli.app import app
from irkit.settings import ClusterSettings, RetrySettings
from irkit.sim import SimCluster

if TYPE_CHECKING:
    from irkit.cluster.kube import KubeCluster

# Unset for in-process runs: a developer's IRKIT_DEBUG would turn error lines into tracebacks.
CLEAN: dict[str, str | None] = {"IRKIT_DEBUG": None, "IRKIT_INCIDENT": None}
# For commands that retry (irkit run): retries 100 times faster than the default.
FAST_RETRIES: dict[str, str | None] = {"IRKIT_RUN_RETRY_INITIAL": "0.01"}
# The adapter's retries in tests: the default number of attempts, backing off in hundredths.
QUICK_RETRY = RetrySettings(backoff_initial=0.01, backoff_max=0.05)


def invoke(
    *args: str, kubeconfig: str | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """``irkit ARGS [--kubeconfig K]`` in-process; ``env`` adds to (or unsets, with None) the
    test's environment, IRKIT_DEBUG and IRKIT_INCIDENT unset unless it sets them."""
    argv = [*args, "--kubeconfig", kubeconfig] if kubeconfig else list(args)
    return CliRunner().invoke(app, argv, env={**CLEAN, **(env or {})})


def irkit_argv(*args: str) -> list[str]:
    """The command line of ``irkit ARGS`` run from this checkout, for ``subprocess.Popen``."""
    return [sys.executable, "-m", "irkit", *args]


class IrkitProcess:
    """``python -m irkit`` in ``home`` (its working directory, HOME and IRKIT_HOME), with PATH
    the system's and nothing else of the caller's environment unless ``env`` adds it, or
    ``environ`` replaces that bare environment (IRKIT_HOME stays ``home``)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(
        self,
        *args: str,
        kubeconfig: str | None = None,
        env: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        cmd = irkit_argv(*args)
        if kubeconfig:
            cmd += ["--kubeconfig", kubeconfig]
        base = {"PATH": "/usr/bin:/bin", "HOME": str(self.home)} if environ is None else environ
        base = {**base, "IRKIT_HOME": str(self.home)}
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**base, **(env or {})},
            cwd=self.home,
        )


def cluster_for(
    sim: SimCluster,
    user: str | None = None,
    folder: Path | None = None,
    *,
    retry: RetrySettings | None = None,
) -> KubeCluster:
    """irkit's Kubernetes adapter on ``sim``: as its admin, or as ``user`` through a kubeconfig
    written into ``folder``. Retries back off in hundredths of a second unless ``retry`` says."""
    from irkit.cluster.kube import connect  # the kubernetes client only for tests that use it

    path = sim.kubeconfig_path
    if user is not None:
        assert folder is not None, "a user's kubeconfig needs a folder to be written to"
        path = sim.write_kubeconfig(folder / f"{user}.kubeconfig", user=user)
    return connect(ClusterSettings(kubeconfig=path, retry=retry or QUICK_RETRY))
