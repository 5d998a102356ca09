"""The journal: one fsync'd JSON line per entry, readable back, safe with concurrent writers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from irkit.errors import IrkitError
from irkit.journal import Journal
from irkit.model.journal import Change, Entry


def _entry(i: int) -> Entry:
    change = Change("patch", "Pod", "prod", f"p{i}", {"labels": {}}, {"labels": {"q": "1"}})
    return Entry(
        command="isolate", actor="me", target="pod/p -n prod", result="ok", changes=[change]
    )


def test_entries_round_trip(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "sub" / "j.jsonl")
    journal.append(_entry(1))
    journal.append(_entry(2))
    entries = list(journal.entries())
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
    assert len(lines) == 200 and all(json.loads(line)["command"] == "isolate" for line in lines)


def test_a_corrupt_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal(path).append(_entry(1))
    with path.open("a") as f:
        f.write("{not json\n")
    with pytest.raises(IrkitError, match=r"j.jsonl:2: not a journal entry"):
        list(Journal(path).entries())


def test_unwritable_journal_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(IrkitError, match="cannot write the journal"):
        Journal(blocker / "j.jsonl").append(_entry(1))
