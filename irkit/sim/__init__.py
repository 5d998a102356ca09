"""``irkit.sim``: a simulated Kubernetes cluster; kubectl and the official client use it unchanged.

Public surface: ``SimCluster`` (start/stop, kubeconfig, runtime faults) and ``load_scenario``.
"""

from __future__ import annotations

from irkit.sim.cluster import SimCluster
from irkit.sim.scenario import Scenario, load_scenario

__all__ = ["Scenario", "SimCluster", "load_scenario"]
