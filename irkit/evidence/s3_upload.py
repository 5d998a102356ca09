"""Sending one file to S3: a single PutObject, or a multipart upload whose parts go out
``concurrency`` at a time with bounded memory. Each request carries the SHA-256 checksum of its
bytes, which S3 checks (BadDigest); the whole file is hashed from the bytes sent and compared with
the caller's hash before the object is created.

Its own module because the threading and part bookkeeping are a job apart from the store's
interface and from verifying the result (``irkit.evidence.s3_verify``); ``irkit.evidence.s3``
calls it with its boto3 client.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from irkit.settings import MiB

MAX_PARTS = 10_000  # S3's limit per multipart upload
_CUT = 256  # remote error text is cut to this before it reaches a message


class Refused(Exception):
    """Something irkit itself found wrong mid-upload; the store turns it into ``UploadError``."""


def composite_checksum(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: ``base64(sha256(d1 || ... || dn))-n``."""
    return f"{b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


def put_single(
    s3: Any, bucket: str, key: str, data: bytes, args: dict[str, Any], sha256: str
) -> tuple[str, str | None]:
    """One PutObject of ``data``; returns (ChecksumSHA256 sent, VersionId)."""
    digest = hashlib.sha256(data).digest()
    _check_whole(digest.hex(), sha256)
    checksum = b64(digest)
    r = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ChecksumAlgorithm="SHA256",  # besides the value: moto wants it for Object Lock
        ChecksumSHA256=checksum,
        **args,
    )
    return checksum, r.get("VersionId")


def put_multipart(
    s3: Any,
    bucket: str,
    key: str,
    fd: int,
    size: int,
    args: dict[str, Any],
    sha256: str,
    *,
    part_size: int,
    concurrency: int,
) -> tuple[str, str | None]:
    """A multipart upload of the open file ``fd``, aborted on any failure; returns (composite
    checksum, VersionId)."""
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **args
    )["UploadId"]
    try:
        results, whole = _send_parts(
            s3, bucket, key, upload_id, fd, size, part_size=part_size, concurrency=concurrency
        )
        _check_whole(whole, sha256)
        parts = [
            {"PartNumber": n, "ETag": etag, "ChecksumSHA256": b64(digest)}
            for n, (etag, digest) in enumerate(results, start=1)
        ]
        r = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException as e:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as abort_error:
            e.add_note(f"multipart upload {upload_id} not aborted: {cause(abort_error)}")
        raise
    return composite_checksum([digest for _, digest in results]), r.get("VersionId")


def _send_parts(
    s3: Any,
    bucket: str,
    key: str,
    upload_id: str,
    fd: int,
    size: int,
    *,
    part_size: int,
    concurrency: int,
) -> tuple[list[tuple[str, bytes]], str]:
    """Upload every part, ``concurrency`` at a time; returns each part's (ETag, digest) in
    order and the whole file's hex SHA-256. Parts are read in file order on this thread
    (which also hashes the whole file); a part is read only when one of ``concurrency``
    slots is free, so about ``concurrency`` parts are ever in memory."""
    part_size = max(part_size, -(-size // MAX_PARTS // MiB) * MiB)
    slots = threading.Semaphore(concurrency)
    failed = threading.Event()
    whole = hashlib.sha256()
    futures: list[Future[tuple[str, bytes]]] = []

    def done(future: Future[tuple[str, bytes]]) -> None:
        if future.cancelled() or future.exception() is not None:
            failed.set()
        slots.release()

    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="irkit-s3")
    try:
        for number, offset in enumerate(range(0, size, part_size), start=1):
            slots.acquire()
            if failed.is_set():
                break
            data = _pread_exact(fd, min(part_size, size - offset), offset)
            whole.update(data)
            future = pool.submit(_upload_part, s3, bucket, key, upload_id, number, data)
            del data  # the worker holds the only reference: memory stays bounded
            future.add_done_callback(done)
            futures.append(future)
        return [f.result() for f in futures], whole.hexdigest()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _upload_part(
    s3: Any, bucket: str, key: str, upload_id: str, number: int, data: bytes
) -> tuple[str, bytes]:
    digest = hashlib.sha256(data).digest()
    r = s3.upload_part(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=number,
        Body=data,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=b64(digest),
    )
    if r.get("ChecksumSHA256") not in (None, b64(digest)):
        raise Refused(f"part {number}: S3 has ChecksumSHA256 {r['ChecksumSHA256']}")
    return str(r["ETag"]), digest


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:  # pread may return less than asked; b"" means the file shrank
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise OSError(0, f"file ended at {offset + len(data)} bytes while being read")
        data += more
    return data


def _check_whole(got: str, expected: str) -> None:
    if got != expected.lower():
        raise Refused(
            f"the file's sha256 is {got}, not the {expected} it was given "
            "(changed since it was hashed?)"
        )


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def cause(e: Exception) -> str:
    """``Code: message`` of a botocore error, remote text cut to 256 characters."""
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        code = err.get("Code") or "?"
        message = err.get("Message") or e.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode", ""
        )
        text = f"{code}: {message}"
    elif isinstance(e, Refused):
        return str(e)
    else:
        text = f"{type(e).__name__}: {e}"
    return text[:_CUT]
