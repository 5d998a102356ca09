"""BundleWriter: hashing while streaming, hostile names, failures, manifest, custody, tarball."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from irkit.errors import EvidenceError
from irkit.evidence.archive import pack
from irkit.evidence.bundle import BundleWriter
from irkit.model.evidence import Manifest, ManifestError, check_relpath, safe_name

T0 = datetime(2026, 11, 26, 3, 10, 0, tzinfo=UTC)


def writer(tmp_path: Path, incident: str = "inc-1", token: str = "abc123") -> BundleWriter:
    return BundleWriter(
        tmp_path / "evidence",
        incident,
        label="prod deployments/web",
        clock=lambda: T0,
        token=lambda: token,
    )


def test_folder_name_and_stream_hash(tmp_path: Path) -> None:
    w = writer(tmp_path)
    name = "irkit-evidence-inc-1-prod-deployments-web-20261126T031000Z-abc123"
    assert w.folder == tmp_path / "evidence" / name
    chunks = [b"line one\n", b"", b"line two\n"]
    entry = w.add_stream("logs/web-0/app.log", iter(chunks), source="/api/v1/x/log")
    data = b"".join(chunks)
    assert (w.folder / "logs/web-0/app.log").read_bytes() == data
    assert entry.size == len(data)
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert entry.source == "/api/v1/x/log" and entry.collected_at == "2026-11-26T03:10:00.000000Z"


def test_a_big_stream_is_never_held_in_memory(tmp_path: Path) -> None:
    w = writer(tmp_path)
    mib = b"x" * (1 << 20)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield bytes(mib)  # a fresh object each time: joining them would cost 64 MiB

    tracemalloc.start()
    try:
        entry = w.add_stream("logs/big.log", chunks(), "test")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry.size == 64 << 20
    assert peak < 8 << 20


@pytest.mark.parametrize(
    ("hostile", "safe"),
    [
        ("../../etc/passwd", "_._.._etc_passwd"),
        ("..", "_."),
        (".hidden", "_hidden"),
        ("", "_"),
        ("a b/c\x00d", "a_b_c_d"),
        ("pöd", "p_d"),
        ("web-0.app_1", "web-0.app_1"),
    ],
)
def test_safe_name(hostile: str, safe: str) -> None:
    assert safe_name(hostile) == safe
    check_relpath(safe_name(hostile))  # always a valid component


@pytest.mark.parametrize(
    "bad", ["../x", "/etc/passwd", "logs/../x", "logs//x", "logs/./x", "a\\b", ".x", "logs/"]
)
def test_unsafe_paths_are_refused(tmp_path: Path, bad: str) -> None:
    w = writer(tmp_path)
    with pytest.raises(EvidenceError, match="unsafe bundle path"):
        w.add_bytes(bad, b"x", "test")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_reserved_and_duplicate_paths_are_kept_apart(tmp_path: Path) -> None:
    w = writer(tmp_path)
    first = w.add_bytes("logs/p/c.log", b"1", "a")
    second = w.add_bytes("logs/p/c.log", b"2", "b")
    third = w.add_bytes("manifest.json", b"3", "c")
    assert first.path == "logs/p/c.log" and second.path == "logs/p/c-dup2.log"
    assert third.path == "manifest-dup2.json"
    assert (w.folder / second.path).read_bytes() == b"2"


def test_a_broken_stream_leaves_nothing_behind(tmp_path: Path) -> None:
    w = writer(tmp_path)

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("cut")

    with pytest.raises(ConnectionResetError):
        w.add_stream("logs/p/c.log", chunks(), "test")
    assert not (w.folder / "logs/p/c.log").exists()
    assert w.entries == []
    assert w.add_bytes("logs/p/c.log", b"again", "test").path == "logs/p/c.log"


def test_finish_writes_manifest_custody_tarball_and_sidecar(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.add_bytes("state/b.yaml", b"b: 1\n", "/apis/x/b")
    w.add_yaml("state/a.yaml", {"kind": "Pod", "metadata": {"name": "a"}}, "/api/v1/a")
    w.record_failure("logs/p/c.log", "/api/v1/p/log", "forbidden")
    bundle = w.finish({"incident": "inc-1", "collector": {"hostname": "h"}})

    manifest = json.loads((w.folder / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == ["state/a.yaml", "state/b.yaml"]
    assert manifest["counts"] == {"files": 2, "bytes": bundle.manifest.total_bytes, "failures": 1}
    assert manifest["failures"] == [
        {"artifact": "logs/p/c.log", "source": "/api/v1/p/log", "reason": "forbidden"}
    ]
    assert Manifest.from_json(manifest) == bundle.manifest
    custody = json.loads((w.folder / "custody.json").read_text())
    manifest_bytes = (w.folder / "manifest.json").read_bytes()
    assert custody["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert custody["collector"] == {"hostname": "h"} and custody["bundle"] == w.name

    assert bundle.tarball == tmp_path / "evidence" / f"{w.name}.tar.gz"
    assert bundle.sha256 == hashlib.sha256(bundle.tarball.read_bytes()).hexdigest()
    assert bundle.sidecar.read_text() == f"{bundle.sha256}  {w.name}.tar.gz\n"
    with tarfile.open(bundle.tarball) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [  # in the order written, the documents last
        f"{w.name}/{p}" for p in ("state/b.yaml", "state/a.yaml", "custody.json", "manifest.json")
    ]
    assert all(m.isfile() and m.mtime == int(T0.timestamp()) and m.uid == 0 for m in members)
    with pytest.raises(EvidenceError, match="already finished"):
        w.add_bytes("late.txt", b"", "test")


def test_packing_is_reproducible(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    (folder / "x").mkdir(parents=True)
    (folder / "x" / "1.log").write_bytes(b"one")
    (folder / "2.log").write_bytes(b"two")
    first = pack(folder, ["x/1.log", "2.log"], tmp_path / "one.tar.gz", 1_700_000_000)
    second = pack(folder, ["x/1.log", "2.log", "x/1.log"], tmp_path / "two.tar.gz", 1_700_000_000)
    assert first == second
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()


def test_a_finished_bundle_repacks_to_the_same_bytes(tmp_path: Path) -> None:
    """Members are packed as they are finished; the tarball's own order reproduces it."""
    w = writer(tmp_path)
    for name in ("logs/b.log", "logs/a.log", "state/c.yaml"):
        w.add_bytes(name, name.encode() * 100, "test")
    bundle = w.finish({})
    with tarfile.open(bundle.tarball) as tar:
        order = [m.name.split("/", 1)[1] for m in tar.getmembers()]
    assert order == ["logs/b.log", "logs/a.log", "state/c.yaml", "custody.json", "manifest.json"]
    again = pack(bundle.folder, order, tmp_path / "again.tar.gz", int(T0.timestamp()))
    assert again == bundle.sha256


def test_packing_never_replaces_an_existing_tarball(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "1.log").write_bytes(b"one")
    (tmp_path / "t.tar.gz").write_bytes(b"someone else's")
    with pytest.raises(EvidenceError, match="exists"):
        pack(folder, ["1.log"], tmp_path / "t.tar.gz", 0)
    assert (tmp_path / "t.tar.gz").read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "t.tar.gz"]


def test_symlinks_are_never_packed(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (tmp_path / "secret").write_text("outside")
    (folder / "link.log").symlink_to(tmp_path / "secret")
    with pytest.raises(EvidenceError, match="cannot pack"):
        pack(folder, ["link.log"], tmp_path / "t.tar.gz", 0)


def test_parallel_writers(tmp_path: Path) -> None:
    w = writer(tmp_path)

    def work(n: int) -> None:
        for i in range(40):
            w.add_stream("logs/same.log", iter([f"{n}-{i}\n".encode()] * 3), f"t{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = w.entries
    assert len(entries) == 480 and len({e.path for e in entries}) == 480
    for e in entries:
        assert hashlib.sha256((w.folder / e.path).read_bytes()).hexdigest() == e.sha256


def test_existing_folder_is_not_reused(tmp_path: Path) -> None:
    writer(tmp_path)
    with pytest.raises(EvidenceError, match="already exists"):
        writer(tmp_path)


def test_two_bundles_of_one_incident_in_the_same_second_both_finish(tmp_path: Path) -> None:
    """A resume, two collect steps, two responders: same incident, target and second."""
    bundles = []
    for _ in range(2):
        w = BundleWriter(tmp_path / "evidence", "inc-1", label="prod pods web", clock=lambda: T0)
        w.add_bytes("state/a.yaml", b"a: 1\n", "test")
        bundles.append(w.finish({}))
    first, second = bundles
    assert first.name != second.name and first.tarball != second.tarball
    assert all(b.tarball.is_file() and b.sidecar.is_file() for b in bundles)
    assert first.name.startswith("irkit-evidence-inc-1-prod-pods-web-20261126T031000Z-")


def test_a_long_hostile_label_makes_a_short_safe_name(tmp_path: Path) -> None:
    w = BundleWriter(tmp_path, "inc-1", label="../" + "x" * 300 + "\x1b[31m", clock=lambda: T0)
    check_relpath(w.name)
    assert len(w.name) < 120 and "x" * 30 in w.name


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from irkit.errors import EvidenceError
from irkit.evidence.bundle import BundleWriter

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
w = BundleWriter(Path(sys.argv[1]), "inc-1")
for i in range(3):  # each file fits under the limit, the tarball of all three does not
    w.add_bytes(f"logs/p/{i}.log", Path(sys.argv[2]).read_bytes(), "test")
try:
    w.finish({})
except EvidenceError as e:
    print("refused:", e)
"""


def test_a_failure_while_packing_leaves_no_final_named_tarball(tmp_path: Path) -> None:
    """A real fault, not a patched call: the file-size limit makes the tarball's writes fail."""
    noise = tmp_path / "noise"
    noise.write_bytes(os.urandom(700_000))  # incompressible
    out = tmp_path / "evidence"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(out), str(noise)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused: cannot pack" in done.stdout and "File too large" in done.stdout
    left = sorted(p.name for p in out.iterdir())
    assert len(left) == 1 and left[0].startswith("irkit-evidence-inc-1-")  # the folder only
    assert not list(out.glob("*.tar.gz*")) and not list(out.glob(".*"))


@pytest.mark.parametrize(
    "files",
    [
        [{"path": "../x", "size": 1, "sha256": "0" * 64, "source": "", "collected_at": ""}],
        [{"path": "x", "size": -1, "sha256": "0" * 64, "source": "", "collected_at": ""}],
        [{"path": "x", "size": 1, "sha256": "nope", "source": "", "collected_at": ""}],
        [
            {
                "path": "manifest.json",
                "size": 1,
                "sha256": "0" * 64,
                "source": "",
                "collected_at": "",
            }
        ],
    ],
)
def test_hostile_manifests_are_refused(files: list[dict[str, object]]) -> None:
    doc = {"format": "irkit-evidence/v1", "bundle": "b", "incident": "i", "created_at": ""}
    with pytest.raises(ManifestError):
        Manifest.from_json({**doc, "files": files, "failures": []})


def test_a_253_character_pod_name_still_makes_valid_paths(tmp_path: Path) -> None:
    pods = ["a" * 253, "a" * 252 + "b"]
    names = [safe_name(p) for p in pods]
    assert names[0] != names[1] and all(len(n) <= 185 for n in names)
    w = writer(tmp_path)
    for pod in pods:
        w.add_bytes(f"state/pods/{safe_name(pod)}.yaml", b"kind: Pod\n", "test")
        w.add_bytes(f"logs/{safe_name(pod)}/{safe_name(pod)}.previous.log", b"x\n", "test")
    assert len(w.entries) == 4


def test_abort_leaves_no_tarball_and_no_partial_file(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.add_bytes("logs/p/c.log", b"x" * 100_000, "test")
    w.abort()
    left = sorted(p.name for p in (tmp_path / "evidence").iterdir())
    assert left == [w.name]  # the folder (what was read) only
    assert (w.folder / "logs/p/c.log").is_file()
    with pytest.raises(EvidenceError, match="already finished"):
        w.add_bytes("late.txt", b"", "test")
