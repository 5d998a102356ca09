"""irkit.cli.console: control characters are shown, never sent; and the CLI prints only
through it (a grep over irkit/cli keeps new code from bypassing it)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from irkit.cli import console as term
from irkit.cli.console import clean

CLI = Path(__file__).resolve().parents[2] / "irkit" / "cli"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name-1.2", "plain name-1.2"),
        ("\x1b[31mred\x1b[0m", r"\x1b[31mred\x1b[0m"),
        ("title\x1b]0;pwned\x07", r"title\x1b]0;pwned\x07"),
        ("csi\x9b2J", r"csi\x9b2J"),
        ("nul\x00del\x7f", r"nul\x00del\x7f"),
        ("over\rwrite", r"over\rwrite"),
        ("two\nlines", r"two\nlines"),
        ("tab\tkept", "tab\tkept"),
        ("rtl\u202eevil\u2066", r"rtl\u202eevil\u2066"),
        ("line\u2028sep\u2029par", r"line\u2028sep\u2029par"),
        ("zero\u200bwidth\ufeff", r"zero\u200bwidth\ufeff"),
        ("ünïcode ✓ 日本", "ünïcode ✓ 日本"),
    ],
)
def test_clean_shows_every_control_character(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_blocks_keep_line_breaks_but_nothing_else() -> None:
    assert clean("a\nb\x1b[2J\r\n", block=True) == "a\nb\\x1b[2J\\r\n"
    assert clean(42) == "42"


def test_every_c0_c1_and_del_is_escaped() -> None:
    controls = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) != "\t"]
    for char in controls:
        out = clean(f"a{char}b")
        assert char not in out and out.startswith("a\\") and out.endswith("b")


def test_rich_tables_and_prints_are_cleaned() -> None:
    from rich.table import Table

    out = term.console()
    out.file = io.StringIO()
    table = Table("NAME")
    table.add_row("pod\x1b]0;x\x07")
    out.print(table)
    out.print("evil\x9b31m", markup=False)
    text = out.file.getvalue()
    assert "\x1b]" not in text and "\x07" not in text and "\x9b" not in text
    assert r"pod\x1b]0;x\x07" in text and r"evil\x9b31m" in text


def test_error_lines_are_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    term.error("bad \x1b[2J [bold]markup[/]", "try \x07 this")
    err = capsys.readouterr().err
    assert err == "ERROR bad \\x1b[2J [bold]markup[/]\nTIP try \\x07 this\n"


def test_json_and_yaml_outputs_carry_data_inert(capsys: pytest.CaptureFixture[str]) -> None:
    term.print_data({"name": "a\x1b[2Jb\x9b"}, "json")
    term.print_data({"name": "a\x1b[2Jb\x9b"}, "yaml")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out
    assert '"name": "a\\u001b[2Jb\\u009b"' in out


def test_log_records_are_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    handler = term.LogHandler(logging.WARNING)
    logger = logging.getLogger("irkit.test.console")
    logger.addHandler(handler)
    try:
        logger.warning("remote said %s", "\x1b]0;pwned\x07")
    finally:
        logger.removeHandler(handler)
    assert capsys.readouterr().err == "WARNING remote said \\x1b]0;pwned\\x07\n"


# Direct ways to write to the terminal; only irkit/cli/console.py may use them.
_BYPASS = re.compile(
    r"\b(typer|click)\.(echo|secho)\b|(?<![.\w])print\(|\brich\.print\b|\bsys\.std(out|err)\."
    r"write\b|\bConsole\(|\bos\.write\("
)


def test_the_cli_prints_only_through_the_console_module() -> None:
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        if path.name == "console.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _BYPASS.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == [], "print through irkit.cli.console instead:\n" + "\n".join(offenders)


def test_tracebacks_are_cleaned_too(tmp_path: Path) -> None:
    """With IRKIT_DEBUG (or a bug) the traceback quotes the same hostile text."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "IRKIT_DEBUG": "1", "IRKIT_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "irkit", "verify", str(tmp_path / "x\x1b]0;pwned\x07")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode != 0 and "Traceback" in out.stderr
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr
    assert r"x\x1b]0;pwned\x07" in out.stderr
