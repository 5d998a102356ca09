"""The journal: one fsync'd JSON line per event, readable back, safe with concurrent writers."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from irkit.errors import IrkitError
from irkit.incident.journal import Journal
from irkit.model.journal import Change, RunEvent


def _entry(i: int) -> RunEvent:
    """A command's step-end (the command is the step's action)."""
    change = Change("patch", "Pod", "prod", f"p{i}", {"labels": {}}, {"labels": {"q": "1"}})
    return RunEvent("step-end", "inc-1", "isolate", "isolate", "ok", changes=[change])


def test_entries_round_trip(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "sub" / "j.jsonl")
    journal.append(_entry(1))
    journal.append(_entry(2))
    lines = (tmp_path / "sub" / "j.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["changes"][0]["name"] for e in entries] == ["p1", "p2"]
    assert entries[0]["changes"][0]["after"] == {"labels": {"q": "1"}}
    assert entries[0]["time"].endswith("Z")
    assert (tmp_path / "sub" / "j.jsonl").stat().st_mode & 0o777 == 0o600


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    threads = [
        threading.Thread(target=lambda i=i: [journal.append(_entry(i)) for _ in range(25)])
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["action"] == "isolate" for line in lines)


def test_a_short_write_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    Journal(tmp_path / "j.jsonl").append(_entry(1))
    monkeypatch.undo()
    (line,) = (tmp_path / "j.jsonl").read_text().splitlines()
    assert json.loads(line)["changes"][0]["name"] == "p1"


def test_a_write_that_writes_nothing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "write", lambda fd, data: 0)
    with pytest.raises(IrkitError, match="cannot write the journal"):
        Journal(tmp_path / "j.jsonl").append(_entry(1))


def test_unwritable_journal_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(IrkitError, match="cannot write the journal"):
        Journal(blocker / "j.jsonl").append(_entry(1))
