"""verify_bundle: intact bundles pass; changed, missing, extra files and hostile tarballs do not."""

from __future__ import annotations

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
from irkit.evidence.verify import verify_bundle
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
    with tarfile.open(dest, "w:gz") as out:
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
