"""Check a bundle against its manifest: a folder, a ``.tar.gz`` (and its ``.sha256``), or S3.

Every file is hashed again and compared with ``manifest.json``: a changed byte, a deleted file
and an added file are each reported by path. ``custody.json`` records the manifest's own hash,
so a manifest rewritten to match tampered files is caught too, unless custody was rewritten as
well; that is what the tarball's sidecar and the S3 object's recorded checksum are for.
Tarballs are read as streams, never unpacked, and refused at the first link, absolute path or
``..`` (``irkit.evidence.archive``).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from irkit.errors import EvidenceError, VerifyError
from irkit.evidence.archive import CHUNK, iter_members, sha256_file
from irkit.model.evidence import CUSTODY_NAME, DOCUMENTS, MANIFEST_NAME, Manifest, ManifestError
from irkit.settings import S3Settings

MAX_DOCUMENT = 64 << 20  # a manifest of a million files is ~200 MB; ours are far smaller
Found = dict[str, tuple[str, int] | None]  # path -> (sha256, size), None when not a plain file
# What a truncated or corrupt gzip/tar stream, or an unreadable file, raises part-way through.
UNREADABLE = (tarfile.TarError, EOFError, OSError, zlib.error)


@contextmanager
def _readable(what: str) -> Iterator[None]:
    """Turn a read failure into one line (exit 6), not a traceback."""
    try:
        yield
    except UNREADABLE as e:
        raise VerifyError(f"cannot read {what}: {e or type(e).__name__}") from e


@dataclass
class VerifyReport:
    source: str
    bundle: str = ""
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # sidecar, custody, S3 checksum

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra or self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "bundle": self.bundle,
            "ok": self.ok,
            "checked": self.checked,
            "changed": self.changed,
            "missing": self.missing,
            "extra": self.extra,
            "problems": self.problems,
        }


def verify_bundle(path: str | Path, *, s3: S3Settings | None = None) -> VerifyReport:
    """Compare a bundle with its manifest. Unreadable input raises ``VerifyError``.

    ``s3://bucket/key.tar.gz`` is downloaded with ``S3Store`` (endpoint and region from ``s3``)
    and its recorded sha256 (object metadata) is checked against the bytes as well."""
    text = str(path)
    if text.startswith("s3://"):
        return _verify_s3(text, s3 or S3Settings())
    local = Path(path)
    if local.is_dir():
        with _readable(text):
            return _compare(text, *_scan_folder(local))
    if local.is_file():
        with _readable(text):
            report = _compare(text, *_scan_tarball(local))
        sidecar = local.with_name(local.name + ".sha256")
        if sidecar.is_file():
            with _readable(str(sidecar)):
                _check_sidecar(local, sidecar, report)
        return report
    raise VerifyError(f"no bundle at {text}: give a bundle folder, a .tar.gz or an s3:// URI")


def _verify_s3(uri: str, settings: S3Settings) -> VerifyReport:
    from irkit.evidence.s3 import S3Store, parse_s3_uri  # boto3 only when S3 is asked for

    bucket, key = parse_s3_uri(uri)
    if not key:
        raise VerifyError(f"{uri} names a bucket, not a bundle: give s3://BUCKET/KEY.tar.gz")
    store = S3Store(replace(settings, bucket=bucket, prefix=""))
    with tempfile.TemporaryDirectory(prefix="irkit-verify-") as tmp:
        try:
            info = store.head(key)
            local = store.download(key, Path(tmp) / "bundle.tar.gz")
        except EvidenceError as e:
            raise VerifyError(f"cannot fetch {uri}: {e}", hint=e.hint) from e
        with _readable(uri):
            report = _compare(uri, *_scan_tarball(local))
            actual, size = sha256_file(local)
    if info["sha256"] != actual:
        recorded = info["sha256"] or "none"
        report.problems.append(f"the object's recorded sha256 ({recorded}) is not its content's")
    if info["size"] != size:
        report.problems.append(f"the object's size {info['size']} != the {size} bytes downloaded")
    return report


def _check_sidecar(tarball: Path, sidecar: Path, report: VerifyReport) -> None:
    expected = sidecar.read_text(encoding="utf-8", errors="replace").split(maxsplit=1)
    actual, _ = sha256_file(tarball)
    if not expected or expected[0].lower() != actual:
        report.problems.append(f"{sidecar.name}: the tarball's sha256 is {actual}, not as recorded")


# ---- reading what is there ---------------------------------------------------------------------
def _scan_folder(folder: Path) -> tuple[Found, dict[str, bytes]]:
    found: Found = {}
    documents: dict[str, bytes] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in [*files, *(d for d in dirs if (Path(root) / d).is_symlink())]:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            mode = path.lstat().st_mode
            if not stat.S_ISREG(mode):
                found[rel] = None
            elif rel in DOCUMENTS:
                documents[rel] = _read_limited(path.open("rb"), rel)
            else:
                found[rel] = sha256_file(path)
    return found, documents


def _scan_tarball(tarball: Path) -> tuple[Found, dict[str, bytes]]:
    found: Found = {}
    documents: dict[str, bytes] = {}
    try:
        for rel, stream in iter_members(tarball):
            if rel in found or rel in documents:
                raise VerifyError(f"{tarball}: the member {rel!r} appears twice")
            if rel in DOCUMENTS:
                documents[rel] = _read_limited(stream, rel)
                continue
            digest, size = hashlib.sha256(), 0
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
            found[rel] = (digest.hexdigest(), size)
    except EvidenceError as e:
        raise VerifyError(str(e)) from e
    return found, documents


def _read_limited(stream: IO[bytes], name: str) -> bytes:
    with stream:
        data = stream.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        raise VerifyError(f"{name} is larger than {MAX_DOCUMENT >> 20} MiB: not irkit's")
    return data


# ---- comparing ---------------------------------------------------------------------------------
def _compare(source: str, found: Found, documents: dict[str, bytes]) -> VerifyReport:
    raw = documents.get(MANIFEST_NAME)
    if raw is None:
        raise VerifyError(f"{source}: no {MANIFEST_NAME}: not an irkit bundle, or it was removed")
    try:
        manifest = Manifest.from_json(json.loads(raw))
    except (ValueError, ManifestError) as e:
        raise VerifyError(f"{source}: {MANIFEST_NAME} is not a valid irkit manifest: {e}") from e
    report = VerifyReport(source, manifest.bundle, checked=len(manifest.files))
    for entry in manifest.files:
        actual = found.get(entry.path, "absent")
        if actual == "absent":
            report.missing.append(entry.path)
        elif actual != (entry.sha256, entry.size):
            report.changed.append(entry.path)
    listed = {e.path for e in manifest.files}
    report.extra.extend(sorted(p for p in found if p not in listed))
    _check_custody(documents.get(CUSTODY_NAME), raw, report)
    return report


def _check_custody(custody: bytes | None, manifest: bytes, report: VerifyReport) -> None:
    if custody is None:
        report.missing.append(CUSTODY_NAME)
        return
    try:
        recorded = json.loads(custody).get("manifest_sha256")
    except (ValueError, AttributeError):
        recorded = None
    if recorded != hashlib.sha256(manifest).hexdigest():
        report.changed.append(MANIFEST_NAME)
        report.problems.append(
            f"{MANIFEST_NAME} does not have the sha256 that {CUSTODY_NAME} recorded for it"
        )
