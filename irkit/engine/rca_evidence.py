"""The RCA's Evidence section, read off the disk: every bundle a collect recorded, and every
bundle under ``incidents/<id>/evidence/``, with its manifest's file hashes and its custody record.

Manifests are read with ``Manifest.from_json`` (which checks every field), and custody's
``manifest_sha256`` and the tarball's ``.sha256`` sidecar are compared with what was recorded.
Nothing is re-hashed here (tarballs can be large): ``irkit verify`` does that. What cannot be
read or does not add up becomes a problem line in the document, never an exception.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from irkit.incident.paths import IncidentPaths
from irkit.model.evidence import CUSTODY_NAME, MANIFEST_NAME, Manifest, ManifestError
from irkit.render.rca_alert import text
from irkit.render.rca_data import EvidenceBundle, EvidenceFailure, EvidenceFile

MAX_DOCUMENT = 64 * 1024 * 1024  # bytes of a manifest.json or custody.json we are willing to read


def bundles(
    paths: IncidentPaths, recorded: Iterable[tuple[str, dict[str, Any]]]
) -> tuple[EvidenceBundle, ...]:
    """``recorded``: (step id or command, collect outputs) in journal order."""
    found: dict[str, EvidenceBundle] = {}
    for via, outputs in recorded:
        folder = _locate(outputs.get("bundle"), paths)
        key = str(folder.resolve()) if folder else text(outputs.get("bundle") or outputs)
        found.setdefault(key, _bundle(folder, via, outputs))
    if paths.evidence.is_dir():
        for manifest in sorted(paths.evidence.glob(f"*/{MANIFEST_NAME}")):
            folder = manifest.parent
            found.setdefault(str(folder.resolve()), _bundle(folder, "", {}))
    return tuple(found.values())


def _locate(recorded: Any, paths: IncidentPaths) -> Path | None:
    if not isinstance(recorded, str) or not recorded:
        return None
    for candidate in (Path(recorded), paths.root / recorded, paths.evidence / recorded):
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    return None


def _bundle(folder: Path | None, via: str, outputs: dict[str, Any]) -> EvidenceBundle:
    problems: list[str] = []
    recorded_folder = text(outputs.get("bundle"))
    if folder is None:
        problems.append(f"bundle folder {recorded_folder or '(not recorded)'} not found")
    manifest, manifest_sha = _manifest(folder, problems) if folder else (None, "")
    custody = _custody(folder, problems) if folder else {}
    custody_sha = text(custody.get("manifest_sha256"))
    if manifest_sha and custody_sha and manifest_sha != custody_sha:
        problems.append(
            f"manifest.json has sha256 {manifest_sha} but custody.json records {custody_sha}"
        )
    name = manifest.bundle if manifest else Path(recorded_folder).name or "(unknown bundle)"
    tarball = _tarball(folder, name, outputs)
    sha256 = text(outputs.get("sha256"))
    sidecar_sha = _sidecar(tarball)
    if sha256 and sidecar_sha and sha256 != sidecar_sha:
        problems.append(f"{tarball}.sha256 says {sidecar_sha}, the journal recorded {sha256}")
    collector = custody.get("collector")
    collector = collector if isinstance(collector, dict) else {}
    return EvidenceBundle(
        name=text(name),
        via=via,
        folder=str(folder) if folder else recorded_folder,
        tarball=tarball,
        tarball_sha256=sha256 or sidecar_sha,
        uris=_uris(outputs),
        status=text(outputs.get("status") or custody.get("status")),
        created_at=manifest.created_at if manifest else "",
        collected_by=" on ".join(
            text(collector[k]) for k in ("cluster_user", "hostname") if collector.get(k)
        ),
        manifest_sha256=manifest_sha,
        files=tuple(
            EvidenceFile(f.path, f.size, f.sha256, text(f.source))
            for f in (manifest.files if manifest else ())
        ),
        failures=_failures(manifest, outputs),
        problems=tuple(problems),
    )


def _manifest(folder: Path, problems: list[str]) -> tuple[Manifest | None, str]:
    """The manifest and the sha256 of its bytes (what custody.json records)."""
    path = folder / MANIFEST_NAME
    data = _read(path, problems)
    if data is None:
        return None, ""
    try:
        return Manifest.from_json(json.loads(data)), hashlib.sha256(data).hexdigest()
    except (ValueError, ManifestError) as e:
        problems.append(f"{path}: {text(str(e), 300)}")
        return None, hashlib.sha256(data).hexdigest()


def _custody(folder: Path, problems: list[str]) -> dict[str, Any]:
    path = folder / CUSTODY_NAME
    if not path.exists():
        problems.append(f"{path} missing")
        return {}
    data = _read(path, problems)
    try:
        value = json.loads(data) if data is not None else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        problems.append(f"{path}: not a JSON object")
        return {}
    return value


def _read(path: Path, problems: list[str]) -> bytes | None:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_DOCUMENT + 1)
    except OSError as e:
        problems.append(f"cannot read {path}: {e.strerror or e}")
        return None
    if len(data) > MAX_DOCUMENT:
        problems.append(f"{path} is larger than {MAX_DOCUMENT} bytes; not read")
        return None
    return data


def _tarball(folder: Path | None, name: str, outputs: dict[str, Any]) -> str:
    if isinstance(outputs.get("tarball"), str) and outputs["tarball"]:
        return str(outputs["tarball"])
    if folder is not None and (folder.parent / f"{name}.tar.gz").is_file():
        return str(folder.parent / f"{name}.tar.gz")
    return ""


def _sidecar(tarball: str) -> str:
    if not tarball:
        return ""
    try:
        line = Path(tarball + ".sha256").read_text(encoding="ascii", errors="replace")[:200]
    except OSError:
        return ""
    return line.split()[0] if line.split() else ""


def _uris(outputs: dict[str, Any]) -> tuple[str, ...]:
    uris: list[str] = []
    for key in ("uri", "uris", "s3"):
        value = outputs.get(key)
        items = value if isinstance(value, list) else [value]
        uris += [text(v, 1000) for v in items if isinstance(v, str) and v]
    return tuple(dict.fromkeys(uris))


def _failures(manifest: Manifest | None, outputs: dict[str, Any]) -> tuple[EvidenceFailure, ...]:
    if manifest is not None:
        return tuple(
            EvidenceFailure(text(f.artifact), text(f.source), text(f.reason))
            for f in manifest.failures
        )
    raw = outputs.get("failures")
    return tuple(
        EvidenceFailure(text(f.get("artifact")), text(f.get("source")), text(f.get("reason")))
        for f in (raw if isinstance(raw, list) else [])
        if isinstance(f, dict)
    )
