"""``irkit validate`` and ``irkit schema``: check runbooks before an incident, and give editors
the JSON Schema that checks them while they are written.

Findings go to stdout one per line as ``file:line:column: severity: message``, the form editors
and CI annotate from, then one summary line. Exit 2 on any error, 0 with only warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.common import Output, check_output
from irkit.cli.console import echo, print_data
from irkit.cli.errors import reported_errors

RUNBOOK_SUFFIXES = (".yaml", ".yml")


def validate(
    runbooks: Annotated[
        list[Path],
        typer.Argument(
            help="Runbook files, or folders of them (*.yaml, *.yml).", show_default=False
        ),
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as errors (exit 2 on any).")
    ] = False,
    output: Output = "text",
) -> None:
    """Check runbooks: schema, actions' inputs, templates and references, then lint warnings."""
    from irkit.runbook.loader import Finding, check

    with reported_errors():
        check_output(output)
        files = _expand(runbooks)
        findings: list[Finding] = []
        for path in files:
            findings += check(path)[1]
        if strict:
            findings = [Finding("error", f.path, f.line, f.column, f.message) for f in findings]
        errors = sum(f.severity == "error" for f in findings)
        warnings = len(findings) - errors
        if output != "text":
            print_data(
                {
                    "runbooks": [str(f) for f in files],
                    "valid": not errors,
                    "errors": errors,
                    "warnings": warnings,
                    "findings": [vars(f) for f in findings],
                },
                output,
            )
        else:
            for finding in findings:
                echo(str(finding))
            echo(_summary(len(files), errors, warnings))
        if errors:
            raise typer.Exit(2)


def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the runbook format (for yaml-language-server and other editors)."""
    from irkit.errors import UsageError
    from irkit.runbook.schema import schema_text

    with reported_errors():
        text = schema_text()
        if out is None:
            echo(text, nl=False, block=True)
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
        echo(f"wrote {out}", err=True)


def _expand(paths: list[Path]) -> list[Path]:
    from irkit.errors import UsageError

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in RUNBOOK_SUFFIXES)
            if not found:
                raise UsageError(f"{path}: no *.yaml or *.yml runbooks in this folder")
            files += found
        else:
            files.append(path)  # a missing file is a finding, like any other unreadable runbook
    return files


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(files: int, errors: int, warnings: int) -> str:
    checked = _plural(files, "runbook")
    if not errors and not warnings:
        return f"{checked} valid"
    verdict = "invalid" if errors else "valid"
    return (
        f"{checked} checked: {_plural(errors, 'error')}, {_plural(warnings, 'warning')} ({verdict})"
    )
