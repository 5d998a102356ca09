"""Read a bundle tarball that may be hostile: every byte accounted for, nothing extracted.

``tarfile`` and ``gzip`` are lenient readers, and leniency hides content from ``irkit verify``:
``gzip`` reads a second member appended to the file as if it were part of the first, and
``tarfile`` ends the archive quietly at the first header it cannot parse or at the first zero
block, whatever follows. So the stream is read here by hand, for the one layout irkit packs:

- exactly one gzip member, no comment or extra field in its header (a file name, if any, of
  ``[A-Za-z0-9._-]`` only), CRC and length checked, and nothing after it in the file;
- ustar/pax headers with valid checksums; regular files (and empty folders) only, each padded
  with zeros to the 512-byte block; pax records limited to those ``tarfile`` writes;
- the end-of-archive marker (two zero blocks), then nothing but zeros to the end.

Anything else raises ``EvidenceError`` naming what was found and where (decompressed offset).
Decompression is bounded (``CHUNK`` at a time), so a gzip bomb costs time, not memory.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from irkit.errors import EvidenceError
from irkit.model.evidence import ManifestError, check_relpath

CHUNK = 1 << 20
BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
MAX_PAX = 1 << 20  # a pax header of irkit's is under 1 KiB
PAX_KEYS = frozenset({"path", "size", "mtime", "uid", "gid", "uname", "gname", "hdrcharset"})
_FEXTRA, _FNAME, _FCOMMENT = 0x04, 0x08, 0x10
MAX_GZIP_NAME = 255
_GZIP_NAME = re.compile(rb"^[A-Za-z0-9._-]{1,255}$")


class _Gunzip:
    """The decompressed bytes of exactly one gzip member that must end the file."""

    def __init__(self, raw: IO[bytes], name: str) -> None:
        self._raw, self._name = raw, name
        self._z = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only, CRC/ISIZE checked
        self._pending = b""  # compressed input not yet given to zlib
        self._buf, self._pos = b"", 0  # decompressed, not yet handed out from _pos on
        self.offset = 0  # decompressed bytes handed out
        head = raw.read(10)
        if len(head) < 10 or head[:3] != b"\x1f\x8b\x08":
            raise EvidenceError(f"{name} is not a gzip file")
        if head[3] & (_FEXTRA | _FCOMMENT):
            raise EvidenceError(
                f"{name}: the gzip header carries a comment or an extra field; irkit writes none"
            )
        if head[3] & _FNAME:  # gzip and tarfile's "w:gz" write the file's name: a name only
            stored = raw.read(MAX_GZIP_NAME + 1).partition(b"\0")
            if not stored[1] or not _GZIP_NAME.match(stored[0]):
                raise EvidenceError(f"{name}: the gzip header's file name is not a file name")
            head += stored[0] + b"\0"
            self._pending = stored[2]
        self._pending = head + self._pending

    def _fill(self) -> bool:
        """Decompress some more into the buffer; False at the end of the member."""
        while not self._z.eof:
            if not self._pending:
                self._pending = self._raw.read(CHUNK)
                if not self._pending:
                    raise EvidenceError(f"cannot read {self._name}: the gzip stream is truncated")
            out = self._z.decompress(self._pending, CHUNK)
            self._pending = self._z.unconsumed_tail
            if self._z.eof:
                self._check_end()
            if out:
                self._buf = self._buf[self._pos :] + out
                self._pos = 0
                return True
        return False

    def _check_end(self) -> None:
        extra = len(self._z.unused_data) + len(self._raw.read(1))
        if extra:
            raise EvidenceError(
                f"{self._name}: data after the end of the gzip stream (a second gzip member or "
                "appended bytes); an irkit tarball is one gzip member"
            )

    def read(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n and self._fill():
            pass
        data = self._buf[self._pos : self._pos + n]
        self._pos += len(data)
        self.offset += len(data)
        return data

    def read_exact(self, n: int, what: str) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise EvidenceError(f"cannot read {self._name}: the tar stream ends inside {what}")
        return data


class Readable(Protocol):
    def read(self, n: int = ..., /) -> bytes: ...


class _Member:
    """A file-like view of one member's data, read straight from the stream."""

    def __init__(self, stream: _Gunzip, size: int) -> None:
        self._stream, self.left = stream, size

    def read(self, n: int = CHUNK) -> bytes:
        data = self._stream.read_exact(min(n, self.left), "a member's data") if self.left else b""
        self.left -= len(data)
        return data


def iter_members(tarball: Path) -> Iterator[tuple[str, Readable]]:
    """``(relative path, stream)`` of each file under the tarball's single top folder; a
    stream not read to its end is skipped. Raises ``EvidenceError`` on anything unexpected."""
    name = str(tarball)
    try:
        with tarball.open("rb") as raw:
            stream = _Gunzip(raw, name)
            top: str | None = None
            pax: dict[str, str] = {}
            while True:
                at = stream.offset
                header = stream.read_exact(BLOCK, "a header")
                if header == ZERO_BLOCK:
                    _check_tail(stream, name, at)
                    return
                info = _header(header, name, at)
                size = int(pax["size"]) if "size" in pax else info.size
                if info.type == tarfile.XHDTYPE:
                    pax = _pax(_data(stream, info.size, name), name, at)
                    continue
                path = pax.get("path", info.name)
                pax = {}
                rel, top = _checked(info, path, top, size)
                if info.isdir():
                    continue
                member = _Member(stream, size)
                yield rel, member
                while member.read():
                    pass
                _padding(stream, size, name)
    except EvidenceError:
        raise
    except (OSError, zlib.error, ValueError) as e:
        raise EvidenceError(f"cannot read {name}: {e}") from e


def _header(block: bytes, name: str, at: int) -> tarfile.TarInfo:
    try:
        return tarfile.TarInfo.frombuf(block, "utf-8", "strict")
    except (tarfile.HeaderError, UnicodeDecodeError) as e:
        raise EvidenceError(
            f"{name}: a bad tar header at offset {at} ({e}): data hidden after the archive?"
        ) from None


def _checked(info: tarfile.TarInfo, path: str, top: str | None, size: int) -> tuple[str, str]:
    shown = path[:200]
    if not (info.isreg() or info.isdir()) or info.linkname:
        raise EvidenceError(f"refusing tarball member {shown!r}: links, devices, other types")
    if info.isdir() and size:
        raise EvidenceError(f"refusing tarball member {shown!r}: a folder with data")
    path = path.removesuffix("/")
    try:
        check_relpath(path)
    except ManifestError:
        raise EvidenceError(
            f"refusing tarball member {shown!r}: absolute, '..' or unsafe name"
        ) from None
    first, _, rel = path.partition("/")
    top = first if top is None else top
    if first != top:
        raise EvidenceError(f"refusing tarball member {shown!r}: outside {top}/")
    if info.isreg() and not rel:
        raise EvidenceError(f"refusing tarball member {shown!r}: not a file")
    return rel, top


def _data(stream: _Gunzip, size: int, name: str) -> bytes:
    if size > MAX_PAX:
        raise EvidenceError(f"{name}: a pax header of {size} bytes; irkit writes small ones")
    data = stream.read_exact(size, "a pax header")
    _padding(stream, size, name)
    return data


def _pax(data: bytes, name: str, at: int) -> dict[str, str]:
    """``tarfile``'s records: ``"<length> <key>=<value>\\n"``, only the keys irkit may write."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        length_text, space, _ = data[pos : pos + 20].partition(b" ")
        length = int(length_text) if space and length_text.isdigit() else 0
        record = data[pos : pos + length]
        key, eq, value = record[len(length_text) + 1 : -1].partition(b"=")
        if length <= 0 or not eq or not record.endswith(b"\n"):
            raise EvidenceError(f"{name}: a malformed pax header at offset {at}")
        text_key = key.decode("utf-8", "replace")
        if text_key not in PAX_KEYS:
            raise EvidenceError(f"{name}: an unexpected pax record {text_key[:50]!r} at {at}")
        records[text_key] = value.decode("utf-8", "strict")
        pos += length
    if "size" in records and not records["size"].isdigit():
        raise EvidenceError(f"{name}: a pax size that is not a number at offset {at}")
    return records


def _padding(stream: _Gunzip, size: int, name: str) -> None:
    pad = -size % BLOCK
    if pad and stream.read_exact(pad, "a member's padding").count(0) != pad:
        raise EvidenceError(f"{name}: data hidden in a member's padding")


def _check_tail(stream: _Gunzip, name: str, at: int) -> None:
    """After the first zero block: a second one, then zeros only, to the end of the stream."""
    total = 0
    while chunk := stream.read(CHUNK):
        if chunk.count(0) != len(chunk):
            raise EvidenceError(
                f"{name}: data after the tar end-of-archive marker at offset {at}: "
                "a second archive or appended content"
            )
        total += len(chunk)
    if total < BLOCK:
        raise EvidenceError(f"{name}: the tar end-of-archive marker is incomplete")
