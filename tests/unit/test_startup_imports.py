"""`irkit --help` must start fast (a responder waits for it): the CLI module imports none of the
heavy libraries; each command imports what it needs when it runs. bench/cli_start.py times it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("kubernetes", "boto3", "botocore", "pydantic", "jinja2", "yaml", "urllib3", "cryptography")


def test_the_cli_module_imports_no_heavy_library() -> None:
    code = f"import sys, irkit.cli.app; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
