"""Small helpers the collectors share: read from the cluster, record a refusal, write YAML.

Reading evidence must never stop at the first 403: each read is ``guarded``, so a refused or
failed read becomes a line in the manifest's failures and the collector goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from irkit.cluster.port import Obj
from irkit.errors import IrkitError
from irkit.evidence.bundle import BundleWriter
from irkit.evidence.redact import redact
from irkit.model.evidence import safe_name
from irkit.model.kinds import api_path, by_name

T = TypeVar("T")


def source(kind: str, namespace: str = "", name: str = "") -> str:
    """The API path an object or a list was read from, for the manifest."""
    rt = by_name(kind)
    return api_path(rt, namespace, name) if rt is not None else f"{kind}/{namespace}/{name}"


def guarded(writer: BundleWriter, artifact: str, src: str, read: Callable[[], T]) -> T | None:
    """``read()``, or ``None`` with a failure recorded when the cluster refuses or fails."""
    try:
        return read()
    except IrkitError as e:
        writer.record_failure(artifact, src, str(e))
        return None


def write_object(
    writer: BundleWriter, folder: str, obj: Obj, kind: str, *, qualified: bool = False
) -> None:
    """``<folder>/<name>.yaml`` (``<namespace>.<name>`` when ``qualified``), made safe: names
    come from cluster data; secret values taken out (``irkit.evidence.redact``)."""
    obj = redact(obj)
    meta = obj.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace") or "")
    file = safe_name(f"{namespace}.{name}" if qualified and namespace else name)
    relpath = f"{folder}/{file}.yaml"
    try:
        writer.add_yaml(relpath, obj, source(kind, namespace, name))
    except IrkitError as e:
        writer.record_failure(relpath, source(kind, namespace, name), str(e))
