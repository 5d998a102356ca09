"""Scenario files written at test time, for settings the example scenario does not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def bare_pod(name: str, *containers: str, namespace: str = "default") -> dict[str, Any]:
    """A Pod manifest with no owner; the simulated kubelet starts it Running."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": c, "image": f"example.com/{c}:1"} for c in containers]},
    }


def write_scenario(
    folder: Path, spec: dict[str, Any], manifests: list[dict[str, Any]] = (), name: str = "t"
) -> Path:
    """A multi-document scenario file: the ``kind: Scenario`` settings, then the manifests."""
    settings = {
        "apiVersion": "irkit.io/v1",
        "kind": "Scenario",
        "metadata": {"name": name},
        "spec": spec,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all([settings, *manifests], sort_keys=False), encoding="utf-8")
    return path
