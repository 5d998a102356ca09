"""Small helpers the collectors share: read from the cluster, record a refusal, write objects.

Reading evidence must never stop at the first 403: each read is ``guarded`` (a list being
iterated: ``guarded_iter``), so a refused or failed read becomes a line in the manifest's
failures and the collector goes on. Every object goes into the bundle through ``evidence_form``,
as one YAML file (``write_object``) or as one JSON line of a big list (``write_lines``, Events:
streamed page by page, so memory stays flat in the number of objects).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
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


def guarded_iter(writer: BundleWriter, artifact: str, src: str, items: Iterable[T]) -> Iterator[T]:
    """``items`` until the cluster refuses or fails; then a failure is recorded and it stops."""
    try:
        yield from items
    except IrkitError as e:
        writer.record_failure(artifact, src, str(e))


def evidence_form(obj: Obj) -> Obj:
    """The one door every object passes on its way into the bundle (file or line): secret
    values taken out (``irkit.evidence.redact``)."""
    redacted: Obj = redact(obj)
    return redacted


LINES_CHUNK = 256 * 1024


def write_lines(writer: BundleWriter, relpath: str, objs: Iterable[Obj], src: str) -> int:
    """``relpath`` with one JSON object per line, streamed; the number of objects written.

    A list that fails part-way keeps the lines read so far and records why it is incomplete."""
    count = 0
    broken: list[IrkitError] = []

    def chunks() -> Iterator[bytes]:
        nonlocal count
        buffer: list[bytes] = []
        size = 0
        try:
            for obj in objs:
                # ensure_ascii: a lone surrogate from hostile JSON still makes valid UTF-8
                line = json.dumps(evidence_form(obj), separators=(",", ":")).encode() + b"\n"
                buffer.append(line)
                size += len(line)
                count += 1
                if size >= LINES_CHUNK:
                    yield b"".join(buffer)
                    buffer, size = [], 0
        except IrkitError as e:
            broken.append(e)
        yield b"".join(buffer)

    try:
        writer.add_stream(relpath, chunks(), src)
    except IrkitError as e:
        writer.record_failure(relpath, src, str(e))
        return 0
    if broken:
        writer.record_failure(relpath, src, f"incomplete after {count} objects: {broken[0]}")
    return count


def write_object(
    writer: BundleWriter, folder: str, obj: Obj, kind: str, *, qualified: bool = False
) -> None:
    """``<folder>/<name>.yaml`` (``<namespace>.<name>`` when ``qualified``), made safe: names
    come from cluster data."""
    obj = evidence_form(obj)
    meta = obj.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace") or "")
    file = safe_name(f"{namespace}.{name}" if qualified and namespace else name)
    relpath = f"{folder}/{file}.yaml"
    try:
        writer.add_yaml(relpath, obj, source(kind, namespace, name))
    except IrkitError as e:
        writer.record_failure(relpath, source(kind, namespace, name), str(e))
