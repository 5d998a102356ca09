"""Access to a Kubernetes cluster: the ``Cluster`` port and its adapter (``kube``).

The adapter speaks HTTP itself (``http``, urllib3) from kubeconfigs it reads itself
(``kubeconfig``); the official ``kubernetes`` package is imported only for kubeconfig users
whose credentials come from an ``exec`` or ``auth-provider`` plugin. Everything else sees plain
JSON dicts and irkit's own errors.
"""

from __future__ import annotations

from irkit.cluster.port import Cluster, Identity, Obj

__all__ = ["Cluster", "Identity", "Obj"]
