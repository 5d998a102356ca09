"""verify_bundle: intact bundles pass; changed, missing, extra files and hostile tarballs do not."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from irkit.errors import VerifyError
from irkit.evidence.bundle import Bundle, BundleWriter
from irkit.evidence.s3 import S3Store
from irkit.evidence.verify import Expected, verify_bundle
from irkit.settings import S3Settings

LOG = "logs/web-0/app.log"


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    w = BundleWriter(tmp_path / "evidence", "inc-9")
    w.add_stream(LOG, iter([b"2026-11-26T03:05:04Z hello\n"] * 100), "/api/v1/log")
    w.add_yaml("state/pods/web-0.yaml", {"kind": "Pod"}, "/api/v1/pods/web-0")
    return w.finish({"incident": "inc-9"})


def test_intact_folder_and_tarball(bundle: Bundle) -> None:
    for path in (bundle.folder, bundle.tarball):
        report = verify_bundle(path)
        assert report.ok, report
        assert report.checked == 2 and report.bundle == bundle.name


def test_flipped_byte_is_changed(bundle: Bundle) -> None:
    path = bundle.folder / LOG
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_bundle(bundle.folder)
    assert report.changed == [LOG] and not report.missing and not report.extra
    assert not report.ok


def test_deleted_file_is_missing_and_added_file_is_extra(bundle: Bundle) -> None:
    (bundle.folder / "state/pods/web-0.yaml").unlink()
    (bundle.folder / "logs" / "planted.log").write_text("not collected\n")
    report = verify_bundle(bundle.folder)
    assert report.missing == ["state/pods/web-0.yaml"]
    assert report.extra == ["logs/planted.log"]
    assert report.changed == []


def test_symlink_in_folder_is_not_followed(bundle: Bundle, tmp_path: Path) -> None:
    outside = tmp_path / "outside.log"
    outside.write_bytes((bundle.folder / LOG).read_bytes())  # same content, elsewhere
    (bundle.folder / LOG).unlink()
    (bundle.folder / LOG).symlink_to(outside)
    assert verify_bundle(bundle.folder).changed == [LOG]


def test_manifest_rewritten_to_match_is_caught_by_custody(bundle: Bundle) -> None:
    path = bundle.folder / LOG
    path.write_bytes(b"forged\n")
    manifest_path = bundle.folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for f in manifest["files"]:
        if f["path"] == LOG:
            f["sha256"], f["size"] = hashlib.sha256(b"forged\n").hexdigest(), 7
    manifest_path.write_text(json.dumps(manifest))
    report = verify_bundle(bundle.folder)
    assert report.changed == ["manifest.json"] and report.problems


def test_no_manifest_is_an_error(bundle: Bundle) -> None:
    (bundle.folder / "manifest.json").unlink()
    with pytest.raises(VerifyError, match=r"no manifest\.json"):
        verify_bundle(bundle.folder)


def test_nothing_there(tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match="no bundle at"):
        verify_bundle(tmp_path / "nope.tar.gz")


def test_sidecar_mismatch(bundle: Bundle) -> None:
    bundle.sidecar.write_text(f"{'0' * 64}  {bundle.tarball.name}\n")
    report = verify_bundle(bundle.tarball)
    assert not report.ok and "sha256" in report.problems[0]
    assert not report.changed  # the contents themselves are intact


def _repack(bundle: Bundle, dest: Path, edit: Any) -> Path:
    """Copy the bundle's tarball member by member, letting ``edit`` change the list."""
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(bundle.tarball) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            members.append((m, f.read() if f else b""))
    with (
        dest.open("wb") as raw,
        gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as gz,  # no name in the header, as irkit
        tarfile.open(fileobj=gz, mode="w") as out,
    ):
        for info, data in edit(members):
            info.size = len(data)
            out.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return dest


def test_changed_member_in_tarball(bundle: Bundle, tmp_path: Path) -> None:
    def flip(members: list[tuple[tarfile.TarInfo, bytes]]) -> Iterator[tuple[Any, bytes]]:
        for info, data in members:
            yield info, (data.replace(b"hello", b"jello", 1) if info.name.endswith(LOG) else data)

    report = verify_bundle(_repack(bundle, tmp_path / "t.tar.gz", flip))
    assert report.changed == [LOG]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("{top}/../../escape.txt", tarfile.REGTYPE),
        ("/etc/cron.d/evil", tarfile.REGTYPE),
        ("{top}/logs/link.log", tarfile.SYMTYPE),
        ("{top}/logs/hard.log", tarfile.LNKTYPE),
        ("other-top/x.log", tarfile.REGTYPE),
    ],
)
def test_hostile_tarball_members_are_refused(
    bundle: Bundle, tmp_path: Path, name: str, kind: bytes
) -> None:
    def plant(members: list[tuple[tarfile.TarInfo, bytes]]) -> Iterator[tuple[Any, bytes]]:
        yield from members
        info = tarfile.TarInfo(name.format(top=bundle.name))
        info.type = kind
        info.linkname = "/etc/passwd" if kind != tarfile.REGTYPE else ""
        yield info, b"" if kind != tarfile.REGTYPE else b"pwned"

    hostile = _repack(bundle, tmp_path / "hostile.tar.gz", plant)
    with pytest.raises(VerifyError, match="refusing tarball member"):
        verify_bundle(hostile)
    assert not (tmp_path / "escape.txt").exists()


def test_duplicate_member_is_refused(bundle: Bundle, tmp_path: Path) -> None:
    def twice(members: list[tuple[tarfile.TarInfo, bytes]]) -> Iterator[tuple[Any, bytes]]:
        yield from members
        yield from [(i, d) for i, d in members if i.name.endswith(LOG)]

    with pytest.raises(VerifyError, match="appears twice"):
        verify_bundle(_repack(bundle, tmp_path / "dup.tar.gz", twice))


# ---- S3 (moto in process) ----------------------------------------------------------------------
@pytest.fixture
def aws(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="evidence")
        yield client


def test_s3_object_verified_with_its_recorded_sha256(aws: Any, bundle: Bundle) -> None:
    store = S3Store(S3Settings(bucket="evidence", prefix="cases"))
    stored = store.put(bundle.tarball, bundle.tarball.name, sha256=bundle.sha256, tags={})
    report = verify_bundle(stored.uri)
    assert report.ok, report
    assert report.checked == 2


def test_s3_object_with_a_wrong_recorded_sha256(aws: Any, bundle: Bundle) -> None:
    key = f"cases/{bundle.tarball.name}"
    aws.put_object(
        Bucket="evidence", Key=key, Body=bundle.tarball.read_bytes(), Metadata={"sha256": "0" * 64}
    )
    report = verify_bundle(f"s3://evidence/{key}")
    assert not report.ok and "recorded sha256" in report.problems[0]
    assert not report.changed


def test_s3_object_missing(aws: Any) -> None:
    with pytest.raises(VerifyError, match="cannot fetch"):
        verify_bundle("s3://evidence/cases/none.tar.gz")


def test_a_truncated_tarball_is_a_verify_error(bundle: Bundle) -> None:
    data = bundle.tarball.read_bytes()
    bundle.tarball.write_bytes(data[: len(data) // 2])
    with pytest.raises(VerifyError, match="cannot read"):
        verify_bundle(bundle.tarball)


def test_garbage_in_the_middle_of_a_tarball_is_a_verify_error(bundle: Bundle) -> None:
    data = bytearray(bundle.tarball.read_bytes())
    data[40:200] = bytes(160)
    bundle.tarball.write_bytes(bytes(data))
    with pytest.raises(VerifyError):
        verify_bundle(bundle.tarball)


# ---- content hidden around the archive (issue 7, item 3) ----------------------------------------
def _tar_bytes(bundle: Bundle) -> bytes:
    return gzip.decompress(bundle.tarball.read_bytes())


def _end_marker(tar: bytes) -> int:
    """The offset of the end-of-archive marker: after the last non-zero block."""
    last = len(tar.rstrip(b"\0"))
    return -(-last // 512) * 512


def _rewrite(bundle: Bundle, tar: bytes) -> None:
    """Recompress ``tar`` as irkit does and fix the sidecar, so only the hidden part differs."""
    packed = gzip.compress(tar, mtime=0)
    bundle.tarball.write_bytes(packed)
    bundle.sidecar.write_text(f"{hashlib.sha256(packed).hexdigest()}  {bundle.tarball.name}\n")


def _one_member_tar(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_the_untouched_tarball_passes_the_strict_reader(bundle: Bundle) -> None:
    report = verify_bundle(bundle.tarball)
    assert report.ok and report.sha256 == bundle.sha256, report


def test_data_after_a_bad_tar_header_is_refused(bundle: Bundle) -> None:
    tar = _tar_bytes(bundle)
    end = _end_marker(tar)
    bad_header = b"HIDDEN-HEADER".ljust(512, b"x")  # no valid checksum: tarfile stops quietly
    _rewrite(bundle, tar[:end] + bad_header + b"exfiltrated secrets".ljust(1024, b"\0") + tar[end:])
    with pytest.raises(VerifyError, match="bad tar header"):
        verify_bundle(bundle.tarball)


def test_a_second_archive_after_the_end_marker_is_refused(bundle: Bundle) -> None:
    tar = _tar_bytes(bundle)
    _rewrite(bundle, tar + _one_member_tar(f"{bundle.name}/logs/hidden.log", b"hidden\n"))
    with pytest.raises(VerifyError, match="after the tar end-of-archive marker"):
        verify_bundle(bundle.tarball)


def test_an_appended_gzip_member_is_refused(bundle: Bundle) -> None:
    packed = bundle.tarball.read_bytes()
    hidden = gzip.compress(_one_member_tar("x/hidden.log", b"hidden\n"), mtime=0)
    bundle.tarball.write_bytes(packed + hidden)
    bundle.sidecar.write_text(f"{hashlib.sha256(packed + hidden).hexdigest()}  x\n")
    with tarfile.open(bundle.tarball) as lenient:
        assert lenient.getnames()  # the lenient reader sees nothing wrong
    with pytest.raises(VerifyError, match="after the end of the gzip stream"):
        verify_bundle(bundle.tarball)


def test_bytes_appended_after_the_gzip_member_are_refused(bundle: Bundle) -> None:
    with bundle.tarball.open("ab") as f:
        f.write(b"trailing")
    with pytest.raises(VerifyError, match="after the end of the gzip stream"):
        verify_bundle(bundle.tarball)


def test_data_hidden_in_a_members_padding_is_refused(bundle: Bundle) -> None:
    tar = bytearray(_tar_bytes(bundle))
    marker = tar.find(b"2026-11-26T03:05:04Z hello\n" * 100)  # LOG's data, 2800 bytes
    assert marker > 0
    pad_at = marker + 2800  # padded to 3072 with zeros
    tar[pad_at : pad_at + 6] = b"hidden"
    _rewrite(bundle, bytes(tar))
    with pytest.raises(VerifyError, match="padding"):
        verify_bundle(bundle.tarball)


def test_a_gzip_comment_is_refused(bundle: Bundle) -> None:
    packed = bytearray(bundle.tarball.read_bytes())
    packed[3] |= 0x10  # FCOMMENT: a zero-terminated comment follows the 10-byte header
    packed[10:10] = b"hidden comment\0"
    bundle.tarball.write_bytes(bytes(packed))
    with pytest.raises(VerifyError, match="gzip header"):
        verify_bundle(bundle.tarball)


def test_a_deeply_nested_manifest_is_a_verify_error(bundle: Bundle) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    (bundle.folder / "manifest.json").write_bytes(deep)
    with pytest.raises(VerifyError, match="nested too deeply"):
        verify_bundle(bundle.folder)


def test_a_missing_sidecar_is_a_problem_unless_a_hash_is_given(bundle: Bundle) -> None:
    bundle.sidecar.unlink()
    report = verify_bundle(bundle.tarball)
    assert not report.ok and "no .sha256 sidecar" in report.problems[0]
    given = verify_bundle(bundle.tarball, expected=Expected(sha256=bundle.sha256))
    assert given.ok and any("no .sha256 sidecar" in n for n in given.notes)
    wrong = verify_bundle(bundle.tarball, expected=Expected(sha256="ab" * 32))
    assert not wrong.ok and bundle.sha256 in wrong.problems[0] and "ab" * 32 in wrong.problems[0]


def _journal(path: Path, bundle: Bundle, sha256: str, *, run: bool) -> Path:
    outputs = {"bundle": str(bundle.folder), "tarball": str(bundle.tarball), "sha256": sha256}
    if run:
        line = {"event": "step-end", "incident": "inc-9", "data": {"outputs": outputs}}
    else:
        line = {"command": "collect", "incident": "inc-9", "outputs": outputs}
    path.write_text('{"unrelated": true}\n' + json.dumps(line) + "\n")
    return path


@pytest.mark.parametrize("run", [True, False])
def test_the_tarball_must_have_the_sha256_the_journal_recorded(
    bundle: Bundle, tmp_path: Path, run: bool
) -> None:
    journal = _journal(tmp_path / "journal.jsonl", bundle, "cd" * 32, run=run)
    seen: list[str] = []

    def journals(incident: str) -> list[Path]:
        seen.append(incident)
        return [journal]

    # automatically: the manifest names inc-9 and its journal is found
    report = verify_bundle(bundle.tarball, expected=Expected(journals=journals))
    assert seen == ["inc-9"]
    assert not report.ok
    assert "cd" * 32 in report.problems[0] and bundle.sha256 in report.problems[0]
    _journal(journal, bundle, bundle.sha256, run=run)
    ok = verify_bundle(bundle.tarball, expected=Expected(incident="inc-9", journals=journals))
    assert ok.ok, ok


def test_an_explicit_incident_needs_its_journal_and_the_bundle_in_it(
    bundle: Bundle, tmp_path: Path
) -> None:
    nowhere = verify_bundle(
        bundle.tarball, expected=Expected(incident="inc-9", journals=lambda i: [tmp_path / "no"])
    )
    assert not nowhere.ok and "no journal of incident inc-9" in nowhere.problems[0]
    other = verify_bundle(bundle.tarball, expected=Expected(incident="inc-1"))
    assert not other.ok and "names incident 'inc-9', not 'inc-1'" in other.problems[0]
    (tmp_path / "j").write_text("")
    absent = verify_bundle(
        bundle.tarball, expected=Expected(incident="inc-9", journals=lambda i: [tmp_path / "j"])
    )
    assert not absent.ok and "records no bundle" in absent.problems[0]
    auto = verify_bundle(bundle.tarball, expected=Expected(journals=lambda i: [tmp_path / "no"]))
    assert auto.ok and any("no journal of incident inc-9" in n for n in auto.notes)


def test_a_gzip_file_name_is_allowed_but_only_a_file_name(bundle: Bundle) -> None:
    tar = _tar_bytes(bundle)
    for stored, ok in ((b"bundle.tar", True), (b"exfiltrated secret: hunter2", False)):
        out = io.BytesIO()
        with gzip.GzipFile("x", "wb", fileobj=out, mtime=0) as gz:  # FNAME "x", replaced below
            gz.write(tar)
        packed = out.getvalue().replace(b"x\0", stored + b"\0", 1)
        bundle.tarball.write_bytes(packed)
        bundle.sidecar.write_text(f"{hashlib.sha256(packed).hexdigest()}  x\n")
        if ok:
            assert verify_bundle(bundle.tarball).ok
        else:
            with pytest.raises(VerifyError, match="not a file name"):
                verify_bundle(bundle.tarball)


def test_a_renamed_bundle_dodging_its_journal_is_refused(bundle: Bundle, tmp_path: Path) -> None:
    """Review repro: a manifest renamed (and resealed) so the journal 'records no bundle' by
    that name passed with a note. Now the incident's journal must record the bundle, and the
    file must carry the name its manifest gives."""
    journal = tmp_path / "journal.jsonl"
    journal.write_text('{"unrelated": true}\n')
    found = verify_bundle(bundle.tarball, expected=Expected(journals=lambda i: [journal]))
    assert not found.ok and "records no bundle" in found.problems[0]

    moved = tmp_path / "irkit-evidence-other.tar.gz"
    moved.write_bytes(bundle.tarball.read_bytes())
    renamed = verify_bundle(moved, expected=Expected(sha256=bundle.sha256))
    assert not renamed.ok
    assert f"its manifest says the bundle is '{bundle.name}.tar.gz'" in renamed.problems[0]
