"""Pack a bundle folder into a reproducible ``.tar.gz`` (reading one back: ``untrusted``).

Packing: regular files only, fixed owner, mode and time, gzip without a name or clock, so the
same files in the same order always pack to the same bytes and the tarball's SHA-256 can be
recomputed by anyone (``pack(folder, <member order of the tarball>, ...)``). ``TarStream``
writes members one by one as the collector finishes them, into a hidden temporary file next to
the tarball that is fsynced and only then linked under its final name: a crash or a full disk
never leaves a truncated ``.tar.gz`` under the name a responder would trust. A tarball given
to ``irkit verify`` may be hostile: ``irkit.evidence.untrusted`` reads it, strictly.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import secrets
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from irkit.errors import EvidenceError

CHUNK = 1 << 20
MODE = 0o600  # evidence holds logs that may be sensitive: owner-only, packed and unpacked
# zlib level 1 packs logs at ~170 MB/s (level 6: ~65 MB/s) for a tarball ~25% larger: packing
# runs beside the collection on one core, and the bundle should be preserved quickly.
LEVEL = 1


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.hash.update(view)
        self.size += len(view)
        return self.raw.write(view)

    def flush(self) -> None:
        self.raw.flush()


class TarStream:
    """A ``.tar.gz`` written member by member, published under ``tarball`` only by ``commit``.

    Not thread-safe: one thread adds the members (the bundle writer's packer)."""

    def __init__(self, folder: Path, tarball: Path, mtime: int) -> None:
        self.folder, self.tarball, self.mtime = folder, tarball, mtime
        self.partial = tarball.with_name(f".{tarball.name}.partial-{secrets.token_hex(4)}")
        self._members: set[str] = set()
        try:
            fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise EvidenceError(f"cannot pack {tarball}: {e.strerror or e}") from e
        self._raw = os.fdopen(fd, "wb")
        self._hashing = _HashingWriter(self._raw)
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._hashing, mtime=mtime, compresslevel=LEVEL
        )
        self._tar = tarfile.TarFile(
            fileobj=self._gz, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK
        )

    def add(self, rel: str) -> None:
        """Append ``folder/<rel>`` as ``<folder name>/<rel>``; a name already added is skipped."""
        if rel in self._members:
            return
        try:
            _add(self._tar, self.folder / rel, f"{self.folder.name}/{rel}", self.mtime)
        except OSError as e:
            raise EvidenceError(f"cannot pack {self.tarball}: {e.strerror or e}") from e
        self._members.add(rel)

    def commit(self) -> str:
        """Close, fsync and link the tarball under its final name (never over an existing
        file); its sha256. On failure nothing is left under the final name."""
        try:
            self._tar.close()
            self._gz.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
            publish(self.partial, self.tarball)
        except OSError as e:
            self.abort()
            raise EvidenceError(f"cannot pack {self.tarball}: {e.strerror or e}") from e
        return self._hashing.hash.hexdigest()

    def abort(self) -> None:
        """Drop the partial tarball (idempotent)."""
        for closing in (self._tar.close, self._gz.close, self._raw.close):
            with contextlib.suppress(OSError, ValueError, tarfile.TarError):
                closing()  # already failing: the partial file goes anyway
        self.partial.unlink(missing_ok=True)


def publish(partial: Path, final: Path) -> None:
    """Give the fsynced ``partial`` its ``final`` name without replacing an existing file, then
    fsync the folder so the name survives a crash."""
    try:
        os.link(partial, final)  # EEXIST instead of clobbering someone else's bundle
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if final.exists():  # a file system without hard links
            raise FileExistsError(errno.EEXIST, "File exists", str(final)) from e
        os.rename(partial, final)
    else:
        partial.unlink()
    _fsync_dir(final.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pack(folder: Path, relpaths: Iterable[str], tarball: Path, mtime: int) -> str:
    """Write ``tarball`` holding ``folder/<relpath>`` as ``<folder name>/<relpath>``, in the
    order given (repeats skipped); its sha256."""
    stream = TarStream(folder, tarball, mtime)
    try:
        for rel in relpaths:
            stream.add(rel)
    except BaseException:
        stream.abort()
        raise
    return stream.commit()


def _add(tar: tarfile.TarFile, path: Path, arcname: str, mtime: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        info = tarfile.TarInfo(arcname)
        info.size = os.fstat(f.fileno()).st_size
        info.mtime, info.mode = mtime, MODE
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, f)


def sha256_file(path: Path) -> tuple[str, int]:
    """The SHA-256 hex digest and size of a regular file (symlinks are not followed)."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def write_sidecar(tarball: Path, sha256: str) -> Path:
    """``<tarball>.sha256`` in ``sha256sum`` format, so ``sha256sum -c`` checks it too."""
    sidecar = tarball.with_name(tarball.name + ".sha256")
    partial = sidecar.with_name(f".{sidecar.name}.partial-{secrets.token_hex(4)}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(f"{sha256}  {tarball.name}\n".encode("ascii"))
            f.flush()
            os.fsync(f.fileno())
        publish(partial, sidecar)
    finally:
        partial.unlink(missing_ok=True)
    return sidecar
