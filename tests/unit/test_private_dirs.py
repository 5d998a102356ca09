"""Incident state and evidence folders are private: other local users cannot list them."""

from __future__ import annotations

import stat
from pathlib import Path

from irkit.evidence.bundle import BundleWriter
from irkit.fsutil import private_dirs
from irkit.incident.journal import Journal
from irkit.model.journal import RunEvent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_created_folder_is_0700_and_existing_ones_are_left(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    private_dirs(tmp_path / "a" / "b" / "c")
    assert [_mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    assert _mode(tmp_path) == 0o755


def test_journal_and_bundle_folders_are_private(tmp_path: Path) -> None:
    Journal(tmp_path / "home" / "incidents" / "inc-1" / "journal.jsonl").append(
        RunEvent(event="run-start", incident="inc-1")
    )
    assert _mode(tmp_path / "home") == 0o700 and _mode(tmp_path / "home" / "incidents") == 0o700
    writer = BundleWriter(tmp_path / "state" / "evidence", "inc-1")
    assert _mode(tmp_path / "state") == 0o700 and _mode(writer.folder) == 0o700
    writer.abort()
