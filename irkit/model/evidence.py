"""The evidence manifest: what a bundle holds, with hashes, sources and what could not be taken.

Pure values with their JSON form. ``manifest.json`` is read back by ``irkit verify`` from a
bundle that may have been tampered with, so ``Manifest.from_json`` checks every field and every
path before anything trusts it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

MANIFEST_FORMAT = "irkit-evidence/v1"
MANIFEST_NAME = "manifest.json"
CUSTODY_NAME = "custody.json"
DOCUMENTS = frozenset({MANIFEST_NAME, CUSTODY_NAME})

_COMPONENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest (or a path in one) is not what irkit writes."""


MAX_SAFE_NAME = 185  # 15 characters below check_relpath's 200, for a suffix


def safe_name(text: str) -> str:
    """A file-name component from hostile text (pod, container, source names): ``[A-Za-z0-9._-]``,
    no leading dot (so never ``.`` or ``..``). A long one (a pod name may have 253 characters)
    is cut to 176 characters plus ``-`` and 8 hex digits of its sha256: unique still, and short
    enough that a suffix such as ``.previous.log`` keeps the component within 200."""
    name = _UNSAFE.sub("_", text) or "_"
    if len(name) > MAX_SAFE_NAME:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"{name[: MAX_SAFE_NAME - 9]}-{digest}"
    return "_" + name[1:] if name.startswith(".") else name


def check_relpath(relpath: str) -> str:
    """``relpath`` if it is a relative path of safe components, else ``ManifestError``."""
    parts = relpath.split("/")
    if relpath.startswith("/") or not all(_COMPONENT.match(p) for p in parts):
        raise ManifestError(
            f"unsafe bundle path {relpath[:200]!r}: relative, components of [A-Za-z0-9._-], "
            "none empty or starting with a dot"
        )
    return relpath


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the bundle folder, '/'-separated
    size: int
    sha256: str
    source: str  # the API path (or audit source) it came from
    collected_at: str  # RFC 3339, UTC

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "source": self.source,
            "collected_at": self.collected_at,
        }


@dataclass(frozen=True)
class Failure:
    artifact: str  # the bundle path it would have had, or what it is
    source: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "source": self.source, "reason": self.reason}


@dataclass(frozen=True)
class Manifest:
    bundle: str
    incident: str
    created_at: str
    files: tuple[ManifestEntry, ...] = ()
    failures: tuple[Failure, ...] = field(default=())

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "bundle": self.bundle,
            "incident": self.incident,
            "created_at": self.created_at,
            "counts": {
                "files": len(self.files),
                "bytes": self.total_bytes,
                "failures": len(self.failures),
            },
            "files": [f.to_json() for f in self.files],
            "failures": [f.to_json() for f in self.failures],
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"not an irkit manifest (format {MANIFEST_FORMAT!r} expected)")
        files = [_entry(raw, i) for i, raw in enumerate(_list(data, "files"))]
        seen: set[str] = set()
        for entry in files:
            if entry.path in seen or entry.path in DOCUMENTS:
                raise ManifestError(f"files: {entry.path!r} listed twice or reserved")
            seen.add(entry.path)
        failures = [
            Failure(_str(raw, "artifact"), _str(raw, "source"), _str(raw, "reason"))
            for raw in _list(data, "failures")
        ]
        return cls(
            _str(data, "bundle"),
            _str(data, "incident"),
            _str(data, "created_at"),
            tuple(files),
            tuple(failures),
        )


def _entry(raw: Any, index: int) -> ManifestEntry:
    if not isinstance(raw, dict):
        raise ManifestError(f"files[{index}] is not an object")
    size, digest = raw.get("size"), raw.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"files[{index}].size is not a size")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise ManifestError(f"files[{index}].sha256 is not a SHA-256 hex digest")
    return ManifestEntry(
        check_relpath(_str(raw, "path")),
        size,
        digest,
        _str(raw, "source"),
        _str(raw, "collected_at"),
    )


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ManifestError(f"{key!r} is not a list")
    return value


def _str(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise ManifestError(f"{key!r} is not a string")
    return value
