"""Access to a Kubernetes cluster: the ``Cluster`` port and its adapter over the official client.

Only ``irkit.cluster.kube`` imports the ``kubernetes`` package; everything else sees plain JSON
dicts and irkit's own errors.
"""

from __future__ import annotations

from irkit.cluster.port import Cluster, Identity, Obj

__all__ = ["Cluster", "Identity", "Obj"]
