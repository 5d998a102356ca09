"""S3Store against moto's in-process S3 (``mock_aws``): uploads, checksums, lock, tags, errors.

moto 5.2 stores whatever ChecksumSHA256 a client sends without checking it, so each test's
oracle is computed here from the bytes, never read back from what S3Store sent.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from moto import mock_aws

from irkit.errors import EvidenceError, UploadError, UsageError
from irkit.evidence.s3 import S3Store, parse_s3_uri
from irkit.evidence.s3_upload import composite_checksum
from irkit.settings import MiB, S3Settings

BUCKET = "evidence"
LOCKED = "evidence-locked"


@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=LOCKED, ObjectLockEnabledForBucket=True)
        yield client


def write(path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path.write_bytes(data)
    return path, data


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def expected_composite(data: bytes, part_size: int) -> str:
    digests = [
        hashlib.sha256(data[i : i + part_size]).digest() for i in range(0, len(data), part_size)
    ]
    joined = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
    return f"{joined}-{len(digests)}"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://evidence", ("evidence", "")),
        ("s3://evidence/", ("evidence", "")),
        ("s3://evidence/ir/2026/", ("evidence", "ir/2026")),
        ("s3://my.bucket-1/a", ("my.bucket-1", "a")),
    ],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["evidence/x", "s3:/evidence", "s3://", "s3://Evidence", "s3://ab", "s3://a..b/x",
            "https://evidence/x", "s3://evi dence/x", "s3://evidence/a b"],
)  # fmt: skip
def test_parse_s3_uri_rejects(uri: str) -> None:
    with pytest.raises(UsageError, match="not an S3 URI"):
        parse_s3_uri(uri)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"part_size": 5 * MiB - 1},
        {"concurrency": 0},
        {"sse": "DES"},
        {"kms_key_id": "k"},
        {"object_lock_mode": "FOREVER"},
        {"object_lock_days": -1},
    ],
)
def test_settings_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="S3"):
        S3Settings(bucket=BUCKET, **kwargs)


def test_composite_checksum_matches_s3_definition() -> None:
    a, b = b"a" * 10, b"b" * 3
    digests = [hashlib.sha256(a).digest(), hashlib.sha256(b).digest()]
    assert composite_checksum(digests) == expected_composite(a + b, 10)


def test_small_file_single_put(s3: Any, tmp_path: Path) -> None:
    path, data = write(tmp_path / "b.tar.gz", 100_000)
    store = S3Store(S3Settings(bucket=BUCKET, prefix="ir/inc-1", sse="AES256", tags={"a": "1"}))
    stored = store.put(path, "b.tar.gz", sha256=hashlib.sha256(data).hexdigest(), tags={"b": "x y"})

    assert stored.uri == f"s3://{BUCKET}/ir/inc-1/b.tar.gz"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    head = s3.head_object(Bucket=BUCKET, Key="ir/inc-1/b.tar.gz", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64sha(data)
    assert "-" not in head["ETag"]  # one PutObject, not multipart
    assert head["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}
    assert head["ServerSideEncryption"] == "AES256"
    tags = s3.get_object_tagging(Bucket=BUCKET, Key="ir/inc-1/b.tar.gz")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"a": "1", "b": "x y"}
    body = s3.get_object(Bucket=BUCKET, Key="ir/inc-1/b.tar.gz")["Body"].read()
    assert body == data


def test_large_file_multipart_concurrent(s3: Any, tmp_path: Path) -> None:
    path, data = write(tmp_path / "big.tar.gz", 20_000_000)
    settings = S3Settings(
        bucket=LOCKED,
        part_size=5 * MiB,
        concurrency=4,
        sse="AES256",
        object_lock_days=30,
        object_lock_mode="COMPLIANCE",
        tags={"incident": "inc-7"},
    )
    before = datetime.now(UTC)
    stored = S3Store(settings).put(
        path, "big.tar.gz", sha256=hashlib.sha256(data).hexdigest(), tags={"kind": "bundle"}
    )

    head = s3.head_object(Bucket=LOCKED, Key="big.tar.gz", ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-4")  # 3 x 5 MiB + the rest
    want = expected_composite(data, 5 * MiB)
    assert head["ChecksumSHA256"] in (want, want.split("-")[0])  # moto drops the "-4"
    assert head["ContentLength"] == len(data)
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=LOCKED, Key="big.tar.gz")["Body"].read() == data

    # moto 5.2 has no GetObjectRetention (500); HeadObject reports the same retention
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=30) - timedelta(seconds=2) <= until
    assert until <= datetime.now(UTC) + timedelta(days=30, seconds=2)
    assert stored.retain_until is not None
    assert stored.retain_until.startswith(until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
    assert stored.version_id == head["VersionId"]

    tags = s3.get_object_tagging(Bucket=LOCKED, Key="big.tar.gz")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"incident": "inc-7", "kind": "bundle"}
    assert s3.list_multipart_uploads(Bucket=LOCKED).get("Uploads", []) == []


def test_single_put_object_lock(s3: Any, tmp_path: Path) -> None:
    path, data = write(tmp_path / "b.tar.gz", 1000)
    settings = S3Settings(bucket=LOCKED, object_lock_days=7)
    stored = S3Store(settings).put(
        path, "b.tar.gz", sha256=hashlib.sha256(data).hexdigest(), tags={}
    )
    head = s3.head_object(Bucket=LOCKED, Key="b.tar.gz")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=6)
    assert stored.retain_until is not None


def test_kms_encryption(s3: Any, tmp_path: Path) -> None:
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    path, data = write(tmp_path / "b.tar.gz", 1000)
    settings = S3Settings(bucket=BUCKET, sse="aws:kms", kms_key_id=key_id)
    S3Store(settings).put(path, "b.tar.gz", sha256=hashlib.sha256(data).hexdigest(), tags={})
    head = s3.head_object(Bucket=BUCKET, Key="b.tar.gz")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]


@pytest.mark.parametrize("size", [1000, 11 * MiB])
def test_missing_bucket(s3: Any, tmp_path: Path, size: int) -> None:
    path, data = write(tmp_path / "b.tar.gz", size)
    store = S3Store(S3Settings(bucket="no-such-bucket", part_size=5 * MiB))
    with pytest.raises(UploadError) as caught:
        store.put(path, "b.tar.gz", sha256=hashlib.sha256(data).hexdigest(), tags={})
    message = str(caught.value)
    assert message.startswith(f"upload of {path} to s3://no-such-bucket/b.tar.gz failed: ")
    assert "NoSuchBucket" in message
    assert isinstance(caught.value.__cause__, ClientError)
    assert caught.value.hint is not None and "bucket" in caught.value.hint


@pytest.mark.parametrize("size", [1000, 11 * MiB])
def test_file_not_matching_its_sha256_is_never_stored(s3: Any, tmp_path: Path, size: int) -> None:
    path, _ = write(tmp_path / "b.tar.gz", size)
    store = S3Store(S3Settings(bucket=BUCKET, part_size=5 * MiB))
    with pytest.raises(UploadError, match="changed since it was hashed"):
        store.put(path, "b.tar.gz", sha256="0" * 64, tags={})
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []  # aborted


@pytest.mark.parametrize("size", [1000, 11 * MiB])
def test_verify_detects_an_overwritten_object(s3: Any, tmp_path: Path, size: int) -> None:
    path, data = write(tmp_path / "b.tar.gz", size)
    sha = hashlib.sha256(data).hexdigest()
    store = S3Store(S3Settings(bucket=BUCKET, part_size=5 * MiB))
    store.put(path, "b.tar.gz", sha256=sha, tags={})
    checksum = b64sha(data) if size < 5 * MiB else expected_composite(data, 5 * MiB)
    assert store.verify("b.tar.gz", size=size, sha256=sha, checksum_sha256=checksum)["size"] == size

    other = data[:-1] + bytes([data[-1] ^ 1])  # same size, one bit flipped
    s3.put_object(
        Bucket=BUCKET, Key="b.tar.gz", Body=other, ChecksumAlgorithm="SHA256", Metadata={}
    )
    with pytest.raises(UploadError) as caught:
        store.verify("b.tar.gz", size=size, sha256=sha, checksum_sha256=checksum)
    message = str(caught.value)
    assert message.startswith(f"s3://{BUCKET}/b.tar.gz failed verification: ")
    assert "checksum mismatch" in message
    assert "metadata sha256 mismatch" in message
    assert "size mismatch" not in message

    s3.put_object(Bucket=BUCKET, Key="b.tar.gz", Body=data[:-1], ChecksumAlgorithm="SHA256")
    with pytest.raises(UploadError, match=f"size mismatch: S3 has {size - 1} bytes"):
        store.verify("b.tar.gz", size=size, sha256=sha, checksum_sha256=checksum)


def test_verify_missing_object_is_upload_error(s3: Any) -> None:
    store = S3Store(S3Settings(bucket=BUCKET))
    with pytest.raises(UploadError, match=r"verifying s3://evidence/nope failed: 404") as caught:
        store.verify("nope", size=1, sha256="0" * 64, checksum_sha256="x")
    assert not isinstance(caught.value, ClientError | BotoCoreError)


def test_head_and_download_round_trip(s3: Any, tmp_path: Path) -> None:
    path, data = write(tmp_path / "b.tar.gz", 3 * MiB + 7)
    sha = hashlib.sha256(data).hexdigest()
    store = S3Store(S3Settings(bucket=BUCKET, prefix="ir"))
    store.put(path, "b.tar.gz", sha256=sha, tags={})

    info = store.head("b.tar.gz")
    assert info["uri"] == f"s3://{BUCKET}/ir/b.tar.gz"
    assert info["size"] == len(data)
    assert info["sha256"] == sha
    assert info["checksum_sha256"] == b64sha(data)

    out = tmp_path / "out"
    out.mkdir()
    got = store.download("b.tar.gz", out)
    assert got == out / "b.tar.gz"
    assert got.read_bytes() == data
    assert sorted(p.name for p in out.iterdir()) == ["b.tar.gz"]  # no .part left behind
    assert store.download("b.tar.gz", tmp_path / "named.bin").read_bytes() == data


def test_head_and_download_missing_key(s3: Any, tmp_path: Path) -> None:
    store = S3Store(S3Settings(bucket=BUCKET))
    with pytest.raises(EvidenceError, match=r"cannot read s3://evidence/nope: 404"):
        store.head("nope")
    with pytest.raises(EvidenceError, match=r"download of s3://evidence/nope failed: NoSuchKey"):
        store.download("nope", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_caller_identity(s3: Any) -> None:
    identity = S3Store(S3Settings(bucket=BUCKET)).caller_identity()
    assert identity is not None
    assert identity["Account"] == "123456789012"
    assert identity["Arn"].startswith("arn:aws:")
    assert set(identity) == {"Arn", "Account", "UserId"}


def test_unreachable_endpoint_is_upload_error(aws_env: None, tmp_path: Path) -> None:
    path, data = write(tmp_path / "b.tar.gz", 10)
    store = S3Store(S3Settings(bucket=BUCKET, endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(UploadError, match="EndpointConnectionError") as caught:
        store.put(path, "b.tar.gz", sha256=hashlib.sha256(data).hexdigest(), tags={})
    assert isinstance(caught.value.__cause__, BotoCoreError)
    assert caught.value.hint is not None and "endpoint" in caught.value.hint


def test_unreadable_file_is_upload_error(s3: Any, tmp_path: Path) -> None:
    store = S3Store(S3Settings(bucket=BUCKET))
    with pytest.raises(UploadError, match="cannot read the file"):
        store.put(tmp_path / "missing.tar.gz", "b.tar.gz", sha256="0" * 64, tags={})


def test_no_bucket_configured() -> None:
    with pytest.raises(UsageError, match="no S3 bucket"):
        S3Store(S3Settings())


def test_an_object_without_a_sha256_checksum_fails_verification(s3: Any, tmp_path: Path) -> None:
    path, data = write(tmp_path / "b.tar.gz", 1000)
    sha = hashlib.sha256(data).hexdigest()
    store = S3Store(S3Settings(bucket=BUCKET))
    store.put(path, "b.tar.gz", sha256=sha, tags={})
    s3.put_object(  # same bytes, same metadata, but a CRC32 in place of the SHA-256
        Bucket=BUCKET,
        Key="b.tar.gz",
        Body=data,
        ChecksumAlgorithm="CRC32",
        Metadata={"sha256": sha},
    )
    with pytest.raises(UploadError, match="did not confirm a SHA-256 checksum"):
        store.verify("b.tar.gz", size=1000, sha256=sha, checksum_sha256=b64sha(data))
