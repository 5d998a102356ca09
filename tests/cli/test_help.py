"""``--help`` and ``-h`` of every command and sub-command work (issue 7, item 6: ``irkit
isolate --help`` crashed on rich markup in a help string). The tree is walked, not listed, so
a new command is covered the day it is added."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import typer

from irkit.cli.app import app


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    subs = getattr(command, "commands", None)  # a group (typer's own or click's)
    if subs is not None:
        for name, sub in sorted(subs.items()):
            out += _paths(sub, (*path, name))
    return out


PATHS = _paths(typer.main.get_command(app))


def test_the_walk_finds_every_command() -> None:
    found = {" ".join(p) for p in PATHS}
    assert {"", "isolate", "release", "collect", "run", "sim", "sim serve", "sim demo"} <= found
    assert len(found) >= 17


def _help(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "irkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "100"},
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command(flag: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_help, [(*p, flag) for p in PATHS]))
    for path, result in zip(PATHS, results, strict=True):
        shown = " ".join(("irkit", *path))
        assert result.returncode == 0, f"{shown} {flag}: {result.stderr[-2000:]}"
        assert result.stdout.startswith(f"Usage: {shown} "), f"{shown} {flag}: {result.stdout}"
        assert result.stderr == ""


def test_version_flag() -> None:
    from irkit import __version__

    result = _help(("--version",))
    assert result.returncode == 0 and result.stdout == f"irkit {__version__}\n"


def test_shell_completion_is_offered() -> None:
    # typer finds the shell among the process's parents: bash is made the direct one (the
    # trailing ':' keeps bash from exec-ing python in its place), so the test does not depend
    # on how pytest itself was started
    result = subprocess.run(
        ["bash", "-c", '"$0" -m irkit --show-completion; :', sys.executable],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "100"},
    )
    assert result.returncode == 0 and "_IRKIT_COMPLETE" in result.stdout, result.stderr


RESULT_COMMANDS = [
    "isolate",
    "release",
    "scale",
    "restore",
    "collect",
    "verify",
    "run",
    "rca",
    "preflight",
    "validate",
    "rbac",
]


def test_every_command_that_prints_results_takes_output() -> None:
    root: Any = typer.main.get_command(app)
    for name in RESULT_COMMANDS:
        options = {o for p in root.commands[name].params for o in p.opts}
        assert {"-o", "--output"} <= options, name
