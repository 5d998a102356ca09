"""Checking an object against S3's own record of it (HeadObject): size, ChecksumSHA256 (composite
for multipart), irkit's ``x-amz-meta-sha256``, SSE and Object Lock retention.

Its own module because what counts as proof is a question apart from how the bytes were sent
(``irkit.evidence.s3_upload``): pure functions over the HeadObject reply, so the rules read in one
place. ``irkit.evidence.s3`` asks S3 and calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict


class ObjectInfo(TypedDict):
    """What ``S3Store.head`` reports about one stored object."""

    uri: str
    size: int
    sha256: str | None  # x-amz-meta-sha256: hex SHA-256 of the whole object, as irkit wrote it
    checksum_sha256: str | None  # S3's own record: base64, "-n" suffix for multipart
    version_id: str | None
    etag: str
    last_modified: str | None  # RFC 3339
    retain_until: str | None  # Object Lock retention, RFC 3339
    lock_mode: str | None
    sse: str | None


@dataclass(frozen=True)
class Expected:
    """What was sent, and what the settings ask of the stored object."""

    size: int
    sha256: str  # hex, lower case
    checksum: str  # ChecksumSHA256 sent (composite for multipart)
    version_id: str | None
    sse: str | None
    locked: bool


def problems_of(info: ObjectInfo, want: Expected) -> list[str]:
    """Every way S3's record differs from what was sent; [] when it is proven stored."""
    out = []
    if want.version_id and info["version_id"] not in (None, want.version_id):
        out.append(f"replaced: S3 has version {info['version_id']}, sent {want.version_id}")
    if info["size"] != want.size:
        out.append(f"size mismatch: S3 has {info['size']} bytes, the file {want.size}")
    got = info["checksum_sha256"]
    if got is None:  # size and irkit's own metadata prove nothing about the stored bytes
        out.append("the store did not confirm a SHA-256 checksum of the stored bytes")
    elif not same_checksum(got, want.checksum):
        out.append(f"checksum mismatch: S3 has {got}, expected {want.checksum}")
    if info["sha256"] != want.sha256:
        out.append(f"metadata sha256 mismatch: S3 has {info['sha256']}, expected {want.sha256}")
    if want.sse and info["sse"] != want.sse:
        out.append(f"encryption mismatch: S3 has {info['sse']}, asked {want.sse}")
    if want.locked and info["retain_until"] is None:
        out.append("no Object Lock retention on the object")
    return out


def same_checksum(got: str, expected: str) -> bool:
    """Equal, allowing a store that drops the ``-n`` part count of a composite checksum."""
    digest, _, parts = got.partition("-")
    want_digest, _, want_parts = expected.partition("-")
    return digest == want_digest and parts in ("", want_parts)


def object_info(uri: str, r: dict[str, Any]) -> ObjectInfo:
    """The HeadObject reply ``r`` as irkit reports it."""
    return ObjectInfo(
        uri=uri,
        size=int(r["ContentLength"]),
        sha256=r.get("Metadata", {}).get("sha256"),
        checksum_sha256=r.get("ChecksumSHA256"),
        version_id=r.get("VersionId"),
        etag=str(r.get("ETag", "")),
        last_modified=_rfc3339(r.get("LastModified")),
        retain_until=_rfc3339(r.get("ObjectLockRetainUntilDate")),
        lock_mode=r.get("ObjectLockMode"),
        sse=r.get("ServerSideEncryption"),
    )


def _rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
