"""Folders for incident state and evidence, created private (0700): incident ids, bundle names
and journals name the workloads under investigation, which other local users need not see."""

from __future__ import annotations

from pathlib import Path


def private_dirs(path: Path) -> None:
    """``mkdir -p`` with mode 0700 for every folder it creates (``Path.mkdir(parents=True)``
    makes the parents with the default mode); folders that exist are left as they are."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
