"""Check a bundle against its manifest: a folder, a ``.tar.gz`` (and its ``.sha256``), or S3.

Every file is hashed again and compared with ``manifest.json``: a changed byte, a deleted file
and an added file are each reported by path. ``custody.json`` records the manifest's own hash,
so a manifest rewritten to match tampered files is caught too, unless custody was rewritten as
well; that is what the tarball's sidecar and the S3 object's recorded checksum are for.
Tarballs are read as streams, never unpacked, and refused at the first link, absolute path,
``..``, bad header, hidden padding, or byte after the tar end marker or the gzip member
(``irkit.evidence.untrusted``).

A tarball's own sha256 is checked against every record of it there is: its ``.sha256`` sidecar
(a missing one is a problem unless a hash is expected from elsewhere), ``--sha256``, and the
journal of its incident (``Expected.journals``: the one named with ``--incident``, or the one of
the incident the bundle's manifest names, when it is found), where ``collect`` recorded it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from irkit.errors import EvidenceError, VerifyError
from irkit.evidence.archive import CHUNK, sha256_file
from irkit.evidence.untrusted import Readable, iter_members
from irkit.model.evidence import CUSTODY_NAME, DOCUMENTS, MANIFEST_NAME, Manifest, ManifestError
from irkit.settings import S3Settings

MAX_DOCUMENT = 64 << 20  # a manifest of a million files is ~200 MB; ours are far smaller
Found = dict[str, tuple[str, int] | None]  # path -> (sha256, size), None when not a plain file
# What a truncated or corrupt gzip/tar stream, or an unreadable file, raises part-way through.
UNREADABLE = (tarfile.TarError, EOFError, OSError, zlib.error)
_HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Expected:
    """What the tarball's sha256 should be, from outside the bundle."""

    sha256: str | None = None
    """Given by the caller (``--sha256``)."""
    incident: str | None = None
    """The incident whose journal must record the bundle (``--incident``); None: the incident
    the bundle's manifest names, checked only when its journal is found."""
    journals: Callable[[str], Sequence[Path]] = lambda incident: ()
    """The journal files that may hold an incident's records (missing ones are skipped)."""


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
    problems: list[str] = field(default_factory=list)  # sidecar, custody, S3 checksum, journal
    notes: list[str] = field(default_factory=list)  # what was or could not be checked; not failures
    sha256: str = ""  # of the tarball, when one was verified
    incident: str = ""  # as the manifest names it

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
            "notes": self.notes,
            "sha256": self.sha256,
        }


def verify_bundle(
    path: str | Path, *, s3: S3Settings | None = None, expected: Expected | None = None
) -> VerifyReport:
    """Compare a bundle with its manifest. Unreadable input raises ``VerifyError``.

    ``s3://bucket/key.tar.gz`` is downloaded with ``S3Store`` (endpoint and region from ``s3``)
    and its recorded sha256 (object metadata) is checked against the bytes as well."""
    text = str(path)
    expected = expected or Expected()
    if expected.sha256 is not None and not (
        len(expected.sha256) == 64 and set(expected.sha256.lower()) <= _HEX64
    ):
        raise VerifyError(f"{expected.sha256[:80]!r} is not a SHA-256 hex digest", option="sha256")
    if text.startswith("s3://"):
        report = _verify_s3(text, s3 or S3Settings())
        _check_expected(report, expected, sidecar=True)
        return report
    local = Path(path)
    if local.is_dir():
        with _readable(text):
            report = _compare(text, *_scan_folder(local))
        _check_name(report, local.name, report.bundle)
        if expected.sha256 is not None:
            raise VerifyError(
                "is the hash of a tarball: give the .tar.gz, not a folder", option="sha256"
            )
        if expected.incident is not None:
            report.notes.append(
                "a folder has no tarball hash to check against the journal: verify the .tar.gz"
            )
        return report
    if local.is_file():
        with _readable(text):
            report = _compare(text, *_scan_tarball(local))
            report.sha256, _ = sha256_file(local)
        _check_name(report, local.name, f"{report.bundle}.tar.gz")
        sidecar = local.with_name(local.name + ".sha256")
        has_sidecar = sidecar.is_file()
        if has_sidecar:
            with _readable(str(sidecar)):
                _check_sidecar(sidecar, report)
        _check_expected(report, expected, sidecar=has_sidecar)
        return report
    raise VerifyError(f"no bundle at {text}: give a bundle folder, a .tar.gz or an s3:// URI")


def _check_name(report: VerifyReport, actual: str, wanted: str) -> None:
    """A bundle is recorded (journal, RCA, custody) by its name: a manifest renamed to dodge
    that record no longer matches the file it travels in."""
    if actual != wanted:
        report.problems.append(
            f"the file is named {actual!r} but its manifest says the bundle is {wanted!r}"
        )


def _check_expected(report: VerifyReport, expected: Expected, *, sidecar: bool) -> None:
    """The tarball's sha256 against ``--sha256`` and the incident's journal; a tarball with
    no sidecar and no hash from elsewhere is a problem: nothing outside it vouches for it."""
    vouched = False
    if expected.sha256 is not None:
        if expected.sha256.lower() != report.sha256:
            report.problems.append(
                f"the tarball's sha256 is {report.sha256}, not the expected {expected.sha256}"
            )
        vouched = True
    vouched |= _check_journal(report, expected)
    if not sidecar:
        if vouched:
            report.notes.append("no .sha256 sidecar next to the tarball (a hash was given)")
        else:
            report.problems.append(
                "no .sha256 sidecar next to the tarball, and no expected hash: nothing outside "
                "the tarball vouches for it; give --sha256 HEX or --incident ID"
            )


def _check_journal(report: VerifyReport, expected: Expected) -> bool:
    """True when a journal recorded this tarball (whatever the hash)."""
    incident = expected.incident or report.incident
    if expected.incident is not None and report.incident != expected.incident:
        report.problems.append(
            f"the bundle's manifest names incident {report.incident!r}, not {expected.incident!r}"
        )
    if not incident:
        return False
    journals = [p for p in expected.journals(incident) if p.is_file()]
    if not journals:
        (report.problems if expected.incident else report.notes).append(
            f"no journal of incident {incident} found: the tarball's hash was not checked "
            "against the one collect recorded"
        )
        return False
    recorded: set[str] = set()
    for journal in journals:
        with _readable(str(journal)):
            recorded |= recorded_sha256(journal, incident, report.bundle)
    shown = ", ".join(str(j) for j in journals)
    if not recorded:  # the incident's journal exists: a bundle of it must be in it
        report.problems.append(
            f"the journal of incident {incident} ({shown}) records no bundle {report.bundle}"
        )
        return False
    if report.sha256 not in recorded:
        report.problems.append(
            f"the journal of incident {incident} ({shown}) records sha256 "
            f"{', '.join(sorted(recorded))} for {report.bundle}; the tarball's is {report.sha256}"
        )
    else:
        report.notes.append(f"sha256 matches the journal of incident {incident} ({shown})")
    return True


def recorded_sha256(journal: Path, incident: str, bundle: str) -> set[str]:
    """The sha256 values a journal recorded for ``bundle`` of ``incident``: ``irkit collect``
    entries (``outputs``) and runbook step-ends (``data.outputs``). Unreadable lines are skipped:
    the journal is irkit's own file, and its lines are checked one by one."""
    found: set[str] = set()
    with journal.open("rb") as f:
        for line in f:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if not isinstance(record, dict) or record.get("incident") != incident:
                continue
            outputs = record.get("outputs")
            if not isinstance(outputs, dict):
                data = record.get("data")
                outputs = data.get("outputs") if isinstance(data, dict) else None
            if not isinstance(outputs, dict) or not isinstance(outputs.get("sha256"), str):
                continue
            names = {Path(str(outputs.get(k) or "")).name for k in ("bundle", "tarball")}
            if bundle in names or f"{bundle}.tar.gz" in names:
                found.add(outputs["sha256"].lower())
    return found - {""}


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
            report.sha256 = actual
    if info["sha256"] != actual:
        recorded = info["sha256"] or "none"
        report.problems.append(f"the object's recorded sha256 ({recorded}) is not its content's")
    if info["size"] != size:
        report.problems.append(f"the object's size {info['size']} != the {size} bytes downloaded")
    return report


def _check_sidecar(sidecar: Path, report: VerifyReport) -> None:
    with sidecar.open("rb") as f:
        expected = f.read(4096).decode("utf-8", "replace").split(maxsplit=1)
    if not expected or expected[0].lower() != report.sha256:
        recorded = expected[0][:64] if expected else "nothing"
        report.problems.append(
            f"{sidecar.name} records {recorded!r}; the tarball's sha256 is {report.sha256}"
        )


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
                with path.open("rb") as f:
                    documents[rel] = _read_limited(f, rel)
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


def _read_limited(stream: Readable, name: str) -> bytes:
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
    except RecursionError:
        raise VerifyError(f"{source}: {MANIFEST_NAME} is nested too deeply: not irkit's") from None
    except (ValueError, ManifestError) as e:
        raise VerifyError(f"{source}: {MANIFEST_NAME} is not a valid irkit manifest: {e}") from e
    report = VerifyReport(source, manifest.bundle, checked=len(manifest.files))
    report.incident = manifest.incident
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
    except (ValueError, AttributeError, RecursionError):
        recorded = None
    if recorded != hashlib.sha256(manifest).hexdigest():
        report.changed.append(MANIFEST_NAME)
        report.problems.append(
            f"{MANIFEST_NAME} does not have the sha256 that {CUSTODY_NAME} recorded for it"
        )
