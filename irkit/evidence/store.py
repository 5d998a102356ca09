"""Where packed bundles go besides the local folder: the port S3 (and tests' fakes) implement."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    uri: str  # s3://bucket/key
    size: int
    sha256: str  # hex, of the whole object
    version_id: str | None = None
    retain_until: str | None = None  # Object Lock retention, RFC 3339


class EvidenceStore(Protocol):
    def put(self, local: Path, key: str, *, sha256: str, tags: dict[str, str]) -> StoredObject:
        """Upload a file, then verify size and checksum from the store's own record of it.

        Raises ``UploadError`` naming the exact cause; never leaves a half-written object
        reported as stored."""
        ...
