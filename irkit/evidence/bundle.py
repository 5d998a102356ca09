"""Write an evidence bundle: files hashed as they are written, a manifest, custody, a tarball.

    writer = BundleWriter(Path("evidence"), "inc-42", label="production deployment/web")
    writer.add_stream("logs/web-0/app.log", chunks, source="/api/v1/.../pods/web-0/log")
    writer.record_failure("logs/web-1/app.log", source, "forbidden: ...")
    bundle = writer.finish(custody={...})  # manifest.json, custody.json, .tar.gz, .tar.gz.sha256

Streams go to disk chunk by chunk through SHA-256, so a 10 GB log costs 64 KiB of memory. The
writer is shared by the collector's worker threads: bookkeeping is under one lock, writing is
not. Each finished file is handed to one packer thread that appends it to the tarball at once,
so packing runs beside the collection instead of after it (tar members are in the order files
were finished, then ``manifest.json`` and ``custody.json``). Paths are checked strictly
(``check_relpath``); names taken from cluster data must go through ``safe_name`` first, so a pod
called ``../../etc`` cannot write outside the bundle.

A bundle's name is unique: incident, a slug of what was collected, the UTC second and a random
token, so a resumed run, a runbook with two collect steps or two responders collecting in the
same second never collide.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from irkit.errors import EvidenceError
from irkit.evidence.archive import TarStream, write_sidecar
from irkit.fsutil import private_dirs
from irkit.model.evidence import (
    CUSTODY_NAME,
    DOCUMENTS,
    MANIFEST_NAME,
    Failure,
    Manifest,
    ManifestEntry,
    ManifestError,
    check_relpath,
)

Clock = Callable[[], datetime]
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 48
ABORT_WAIT = 2.0  # seconds an abort waits for the packer before leaving it to finish alone


def bundle_name(
    incident: str, label: str, created: datetime, token: str, kind: str = "evidence"
) -> str:
    """``irkit-<kind>-<incident>[-<label slug>]-<UTC second>-<token>``; ``kind`` is
    ``evidence`` (a collect) or ``snapshot`` (the state before isolation)."""
    slug = _SLUG_UNSAFE.sub("-", label.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug[: MAX_SLUG - 9].rstrip('-')}-{digest}"
    stamp = f"{created.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return "-".join(p for p in (f"irkit-{kind}", incident, slug, stamp, token) if p)


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Bundle:
    name: str
    folder: Path
    tarball: Path
    sidecar: Path
    sha256: str  # of the tarball
    manifest: Manifest

    @property
    def tarball_size(self) -> int:
        return self.tarball.stat().st_size


class BundleWriter:
    def __init__(
        self,
        out_dir: Path,
        incident: str,
        *,
        label: str = "",
        kind: str = "evidence",
        clock: Clock = utc_now,
        token: Callable[[], str] = lambda: secrets.token_hex(3),
    ) -> None:
        self._clock = clock
        self.created = clock()
        self.incident = incident
        self.name = bundle_name(incident, label, self.created, token(), kind)
        self.folder = Path(out_dir) / self.name
        try:
            private_dirs(self.folder.parent)
            self.folder.mkdir(mode=0o700)
        except FileExistsError:
            raise EvidenceError(f"the bundle folder {self.folder} already exists") from None
        except OSError as e:
            raise EvidenceError(f"cannot create {self.folder}: {e.strerror or e}") from e
        self._lock = threading.Lock()
        self._taken: set[str] = set(DOCUMENTS)
        self._made: set[str] = {""}  # folders created inside the bundle
        self._entries: list[ManifestEntry] = []
        self._failures: list[Failure] = []
        self._finished = False
        self.tarball = self.folder.parent / f"{self.name}.tar.gz"
        self._packer = _Packer(self.folder, self.tarball, int(self.created.timestamp()))

    @property
    def failures(self) -> list[Failure]:
        with self._lock:
            return list(self._failures)

    @property
    def entries(self) -> list[ManifestEntry]:
        with self._lock:
            return list(self._entries)

    # ---- adding --------------------------------------------------------------------------------
    def add_stream(self, relpath: str, chunks: Iterable[bytes], source: str) -> ManifestEntry:
        """Write ``chunks`` to ``relpath`` (made unique if taken); on error nothing is kept."""
        rel = self._reserve(relpath)
        path = self.folder / rel
        digest, size = hashlib.sha256(), 0
        try:
            try:
                parent = rel.rpartition("/")[0]
                if parent not in self._made:  # one mkdir per folder, not per file
                    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    self._made.add(parent)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                f = os.fdopen(fd, "wb", buffering=0)  # a full disk fails in write, not close
            except OSError as e:
                raise EvidenceError(f"cannot write {path}: {e.strerror or e}") from e
            with f:
                for chunk in chunks:  # the source's own errors pass through unchanged
                    digest.update(chunk)
                    size += len(chunk)
                    try:
                        _write_all(f, chunk)
                    except OSError as e:
                        raise EvidenceError(f"cannot write {path}: {e.strerror or e}") from e
        except BaseException:
            path.unlink(missing_ok=True)
            with self._lock:
                self._taken.discard(rel)
            raise
        entry = ManifestEntry(rel, size, digest.hexdigest(), source, rfc3339(self._clock()))
        with self._lock:
            self._entries.append(entry)
        self._packer.put(rel)
        return entry

    def add_bytes(self, relpath: str, data: bytes, source: str) -> ManifestEntry:
        return self.add_stream(relpath, (data,), source)

    def add_yaml(self, relpath: str, obj: Any, source: str) -> ManifestEntry:
        text = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
        return self.add_bytes(relpath, text.encode("utf-8"), source)

    def record_failure(self, artifact: str, source: str, reason: str) -> Failure:
        failure = Failure(artifact, source, reason)
        with self._lock:
            self._failures.append(failure)
        return failure

    def _reserve(self, relpath: str) -> str:
        try:
            check_relpath(relpath)
        except ManifestError as e:
            raise EvidenceError(str(e)) from None
        with self._lock:
            if self._finished:
                raise EvidenceError(f"the bundle {self.name} is already finished")
            rel, n = relpath, 1
            stem, dot, ext = relpath.rpartition(".")
            if "/" in ext or not stem or stem.endswith("/"):
                stem, dot, ext = relpath, "", ""
            while rel in self._taken:  # two hostile names that sanitise alike: keep both
                n += 1
                rel = f"{stem}-dup{n}{dot}{ext}"
            self._taken.add(rel)
            return rel

    # ---- finishing -----------------------------------------------------------------------------
    def finish(self, custody: Mapping[str, Any]) -> Bundle:
        """Write manifest.json and custody.json, close ``<name>.tar.gz`` and write its ``.sha256``.

        On any failure no file is left under either final name."""
        with self._lock:
            self._finished = True
            entries = sorted(self._entries, key=lambda e: e.path)
            failures = tuple(self._failures)
        try:
            manifest = Manifest(
                self.name, self.incident, rfc3339(self.created), tuple(entries), failures
            )
            manifest_bytes = _json_bytes(manifest.to_json())
            custody_doc = {
                **custody,
                "bundle": self.name,
                "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            }
            self._write_document(MANIFEST_NAME, manifest_bytes)
            self._write_document(CUSTODY_NAME, _json_bytes(custody_doc))
            for name in sorted(DOCUMENTS):
                self._packer.put(name)
            sha256 = self._packer.close()
        except BaseException:
            self.abort()
            raise
        try:
            sidecar = write_sidecar(self.tarball, sha256)
        except OSError as e:
            raise EvidenceError(f"cannot write {self.tarball}.sha256: {e.strerror or e}") from e
        return Bundle(self.name, self.folder, self.tarball, sidecar, sha256, manifest)

    def abort(self) -> None:
        """Stop packing and drop the partial tarball; the folder (what was read) stays."""
        with self._lock:
            self._finished = True
        self._packer.abort()

    def _write_document(self, name: str, data: bytes) -> None:
        path = self.folder / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            raise EvidenceError(f"cannot write {path}: {e.strerror or e}") from e


class _Packer:
    """One thread appending finished files to the tarball, in the order they were finished.

    Started by the first file, so a writer that is never used leaves nothing behind. The first
    packing error stops the packing; ``close`` raises it."""

    def __init__(self, folder: Path, tarball: Path, mtime: int) -> None:
        self._args = (folder, tarball, mtime)
        self._stream: TarStream | None = None
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._aborted = False
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def put(self, rel: str) -> None:
        with self._start:
            if self._thread is None:
                self._stream = TarStream(*self._args)
                self._thread = threading.Thread(target=self._run, name="packer", daemon=True)
                self._thread.start()
        self._queue.put(rel)

    def close(self) -> str:
        """Pack what is queued, then publish the tarball; its sha256."""
        self._stop()
        if self._error is not None:
            raise self._error
        assert self._stream is not None  # finish() always queues the documents
        return self._stream.commit()

    def abort(self) -> None:
        """Drop the partial tarball without waiting long for a big member being packed (an
        interrupted collect must stop promptly): the packer closes it when that member is done."""
        self._aborted = True
        with self._start:
            thread, stream = self._thread, self._stream
        if thread is None or stream is None:
            return
        self._queue.put(None)
        thread.join(timeout=ABORT_WAIT)
        if thread.is_alive():
            stream.partial.unlink(missing_ok=True)
        else:
            stream.abort()

    def _stop(self) -> None:
        with self._start:
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        assert self._stream is not None
        while (rel := self._queue.get()) is not None:
            if self._error is not None or self._aborted:
                continue  # drain: the tarball is lost already
            try:
                self._stream.add(rel)
            except BaseException as e:  # raised again by close(), in the caller's thread
                self._error = e
        if self._aborted:
            self._stream.abort()


def _write_all(f: Any, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[f.write(view) :]


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
