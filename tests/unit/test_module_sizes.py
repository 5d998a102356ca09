"""Modules stay short (docs/architecture.md, "Layout and module sizes"): one job each, so none
grows past the ceiling; a module that does is split where its jobs part."""

from __future__ import annotations

from pathlib import Path

import irkit

CEILING = 400  # lines
PACKAGE = Path(irkit.__file__).resolve().parent


def test_no_module_is_over_the_ceiling() -> None:
    sizes = {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > CEILING} == {}


def test_every_module_says_why_it_exists() -> None:
    missing = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if path.stat().st_size and not path.read_text(encoding="utf-8").lstrip().startswith('"""')
    ]
    assert missing == []
