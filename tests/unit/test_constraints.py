"""A fresh install gets exactly what was tested (issue 7, item 6): constraints.txt pins every
dependency, the Makefile installs through it, and this venv matches it."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = PIN.match(line.strip())
            assert match, f"constraints.txt: not NAME==VERSION: {line!r}"
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_the_cli_libraries_are_pinned_and_installed_as_pinned() -> None:
    pins = _pins()
    for name in ("typer", "rich", "click", "kubernetes", "boto3", "pydantic", "pyyaml", "pytest"):
        assert name in pins, f"{name} is not pinned in constraints.txt"
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a platform-only pin
        assert installed == version, f"{name}: {installed} installed, {version} pinned"


def test_the_makefile_installs_through_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -c constraints.txt -e '.[test]'" in makefile
    assert re.search(r"^\$\(STAMP\): .*constraints\.txt", makefile, re.M)
