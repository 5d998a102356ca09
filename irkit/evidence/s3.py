"""S3 as an evidence store: a packed bundle is uploaded with SHA-256 checksums, Object Lock, SSE
and tags, then checked against S3's own record of it (HeadObject) before it is reported stored.

boto3 is imported here and in ``irkit.audit.cloudwatch`` only, and the CLI imports this module
only when a command really uses S3, so ``irkit --help`` never pays for boto3.

What the checks prove:

- one PutObject (files up to ``part_size``): the request carries ChecksumSHA256 of the bytes read
  and S3 refuses the body if it does not match (BadDigest); HeadObject must return that value.
- multipart: each UploadPart carries its part's ChecksumSHA256 (checked by S3 the same way);
  the object's checksum is then a checksum of checksums, ``base64(sha256(d1 || ... || dn))-n``,
  which is computed here too and compared.
- always: ContentLength equals the file's size, and the metadata ``x-amz-meta-sha256`` equals the
  whole file's hex SHA-256. That hash is recomputed from the bytes sent (in file order, while the
  parts go out) and compared with the caller's before the object is created, so a file changed
  since it was hashed is never stored.

Stores that fall short, handled rather than refused (moto 5.2 does the first two):

- HeadObject returns the composite checksum without its ``-n`` suffix: the base64 digest alone is
  compared (it already commits to every part digest and so to the part count).
- Object Lock headers on CreateMultipartUpload are ignored: when HeadObject shows no retention,
  it is set on the uploaded version with PutObjectRetention; still none -> ``UploadError``.
- No ChecksumSHA256 returned at all (older S3-compatible stores): ``UploadError``. Size and
  irkit's own metadata would match whatever bytes the store kept, so they prove nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, TypedDict
from urllib.parse import quote, urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from irkit.errors import EvidenceError, UploadError, UsageError
from irkit.evidence.store import StoredObject
from irkit.settings import MiB, S3Settings

MAX_PARTS = 10_000  # S3's limit per multipart upload
READ_CHUNK = MiB  # download write size
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CUT = 256  # remote error text is cut to this before it reaches a message


class ObjectInfo(TypedDict):
    """What ``S3Store.head`` reports about one stored object."""

    uri: str
    size: int
    sha256: str | None  # x-amz-meta-sha256: hex SHA-256 of the whole object, as irkit wrote it
    checksum_sha256: str | None  # S3's own record: base64, "-n" suffix for multipart
    version_id: str | None
    etag: str
    last_modified: str | None  # RFC 3339
    retain_until: str | None  # Object Lock retention, RFC 3339
    lock_mode: str | None
    sse: str | None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix without slashes at
    either end, "" for the top level); ``UsageError`` for anything else."""
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if rest == uri or not _BUCKET.match(bucket) or ".." in bucket or any(c.isspace() for c in uri):
        raise UsageError(
            f"not an S3 URI: {uri!r}",
            hint="write s3://BUCKET or s3://BUCKET/PREFIX (bucket: 3-63 of a-z 0-9 . -)",
        )
    return bucket, prefix.strip("/")


def composite_checksum(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: ``base64(sha256(d1 || ... || dn))-n``."""
    return f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


class S3Store:
    """The ``EvidenceStore`` port over S3 (or anything speaking its API: MinIO, moto)."""

    def __init__(self, settings: S3Settings) -> None:
        if not settings.bucket:
            raise UsageError("no S3 bucket configured", hint="pass --s3 s3://BUCKET/PREFIX")
        self.settings = settings
        self._session: Any = boto3.session.Session(region_name=settings.region)
        config = Config(
            max_pool_connections=max(10, settings.concurrency + 2),
            retries={"mode": "standard", "max_attempts": 5},
            # Every body carries a signed ChecksumSHA256 header that S3 checks, so hashing it a
            # second time for the SigV4 signature (as botocore does over plain http) adds nothing.
            s3={"payload_signing_enabled": False},
        )
        self._s3: Any = self._session.client(
            "s3", endpoint_url=settings.endpoint_url, config=config
        )
        self.description = f"s3://{settings.bucket}/{settings.prefix}".rstrip("/")

    def key(self, name: str) -> str:
        """The object key for ``name`` under the configured prefix."""
        return f"{self.settings.prefix}/{name}" if self.settings.prefix else name

    def uri(self, name: str) -> str:
        return f"s3://{self.settings.bucket}/{self.key(name)}"

    def put(self, local: Path, key: str, *, sha256: str, tags: dict[str, str]) -> StoredObject:
        what = f"upload of {local} to {self.uri(key)}"
        sha256 = sha256.lower()
        try:
            with local.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                args = self._object_args(sha256, {**self.settings.tags, **tags})
                if size <= self.settings.part_size:
                    checksum, version = self._put_single(f.read(), key, args, sha256)
                else:
                    checksum, version = self._put_multipart(f.fileno(), size, key, args, sha256)
            info, problems = self._check(key, size, sha256, checksum, version, fix_lock=True)
        except (ClientError, BotoCoreError, _Refused) as e:
            notes = "".join(f"; {n}" for n in getattr(e, "__notes__", ()))
            raise UploadError(f"{what} failed: {_cause(e)}{notes}", hint=_hint(e)) from e
        except OSError as e:
            raise UploadError(f"{what} failed: cannot read the file: {e.strerror or e}") from e
        if problems:
            raise UploadError(f"{what} failed verification: " + "; ".join(problems))
        return StoredObject(
            uri=info["uri"],
            size=info["size"],
            sha256=sha256,
            version_id=info["version_id"],
            retain_until=info["retain_until"],
        )

    def verify(
        self,
        key: str,
        *,
        size: int,
        sha256: str,
        checksum_sha256: str,
        version_id: str | None = None,
    ) -> ObjectInfo:
        """Compare S3's record of ``key`` (HeadObject) with what was sent: size, ChecksumSHA256
        (``composite_checksum`` for multipart), metadata sha256, and SSE and Object Lock as
        configured. ``UploadError`` naming every mismatch, or why S3 could not be asked."""
        try:
            info, problems = self._check(key, size, sha256.lower(), checksum_sha256, version_id)
        except (ClientError, BotoCoreError) as e:
            raise UploadError(
                f"verifying {self.uri(key)} failed: {_cause(e)}", hint=_hint(e)
            ) from e
        if problems:
            raise UploadError(f"{info['uri']} failed verification: " + "; ".join(problems))
        return info

    def head(self, key: str) -> ObjectInfo:
        """S3's record of ``key`` (relative to the prefix); ``EvidenceError`` if unreadable."""
        try:
            return _info(self.uri(key), self._head(key))
        except (ClientError, BotoCoreError) as e:
            raise EvidenceError(f"cannot read {self.uri(key)}: {_cause(e)}", hint=_hint(e)) from e

    def download(self, key: str, dest: Path) -> Path:
        """Stream ``key`` to ``dest`` (or into it, if a folder) via a ``.part`` file renamed when
        complete; returns the file's path. ``EvidenceError`` naming the cause on failure."""
        target = dest / PurePosixPath(key).name if dest.is_dir() else dest
        partial = target.with_name(target.name + ".part")
        try:
            r = self._s3.get_object(Bucket=self.settings.bucket, Key=self.key(key))
            with partial.open("wb") as f:
                for chunk in r["Body"].iter_chunks(READ_CHUNK):
                    f.write(chunk)
                written = f.tell()
            if written != r["ContentLength"]:
                raise EvidenceError(
                    f"download of {self.uri(key)} failed: got {written} of "
                    f"{r['ContentLength']} bytes"
                )
            partial.replace(target)
        except (ClientError, BotoCoreError) as e:
            raise EvidenceError(
                f"download of {self.uri(key)} failed: {_cause(e)}", hint=_hint(e)
            ) from e
        except OSError as e:
            raise EvidenceError(f"download of {self.uri(key)} to {target} failed: {e}") from e
        finally:
            partial.unlink(missing_ok=True)
        return target

    def caller_identity(self) -> dict[str, str] | None:
        """Who the credentials are (STS GetCallerIdentity: Arn, Account, UserId), for the custody
        record; None if STS cannot say (no credentials, no network, an endpoint without STS)."""
        try:
            r = self._session.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError):
            return None
        return {k: str(r[k]) for k in ("Arn", "Account", "UserId") if k in r}

    # --- internals -------------------------------------------------------------------------

    def _object_args(self, sha256: str, tags: dict[str, str]) -> dict[str, Any]:
        s = self.settings
        args: dict[str, Any] = {"Metadata": {"sha256": sha256}}
        if tags:
            args["Tagging"] = urlencode(tags, quote_via=quote)
        if s.sse:
            args["ServerSideEncryption"] = s.sse
            if s.kms_key_id:
                args["SSEKMSKeyId"] = s.kms_key_id
        if s.object_lock_days:
            args["ObjectLockMode"] = s.object_lock_mode
            args["ObjectLockRetainUntilDate"] = _until(s.object_lock_days)
        return args

    def _check(
        self,
        key: str,
        size: int,
        sha256: str,
        checksum: str,
        version_id: str | None,
        *,
        fix_lock: bool = False,
    ) -> tuple[ObjectInfo, list[str]]:
        raw = self._head(key)
        lock = self.settings.object_lock_days
        if fix_lock and lock and raw.get("ObjectLockRetainUntilDate") is None:
            self._s3.put_object_retention(  # the store ignored the lock headers (see top)
                Bucket=self.settings.bucket,
                Key=self.key(key),
                Retention={"Mode": self.settings.object_lock_mode, "RetainUntilDate": _until(lock)},
                **({"VersionId": version_id} if version_id else {}),
            )
            raw = self._head(key)
        info = _info(self.uri(key), raw)
        problems = []
        if version_id and info["version_id"] not in (None, version_id):
            problems.append(f"replaced: S3 has version {info['version_id']}, sent {version_id}")
        if info["size"] != size:
            problems.append(f"size mismatch: S3 has {info['size']} bytes, the file {size}")
        got = info["checksum_sha256"]
        if got is None:  # size and irkit's own metadata prove nothing about the stored bytes
            problems.append("the store did not confirm a SHA-256 checksum of the stored bytes")
        elif not _same_checksum(got, checksum):
            problems.append(f"checksum mismatch: S3 has {got}, expected {checksum}")
        if info["sha256"] != sha256:
            problems.append(f"metadata sha256 mismatch: S3 has {info['sha256']}, expected {sha256}")
        if self.settings.sse and info["sse"] != self.settings.sse:
            problems.append(f"encryption mismatch: S3 has {info['sse']}, asked {self.settings.sse}")
        if lock and info["retain_until"] is None:
            problems.append("no Object Lock retention on the object")
        return info, problems

    def _head(self, key: str) -> dict[str, Any]:
        # The latest version, not VersionId=: some stores (moto) return a VersionId for an
        # unversioned bucket's multipart upload, then refuse it. A newer version is a mismatch.
        r: dict[str, Any] = self._s3.head_object(
            Bucket=self.settings.bucket, Key=self.key(key), ChecksumMode="ENABLED"
        )
        return r

    def _put_single(
        self, data: bytes, key: str, args: dict[str, Any], sha256: str
    ) -> tuple[str, str | None]:
        digest = hashlib.sha256(data).digest()
        _check_whole(digest.hex(), sha256)
        checksum = _b64(digest)
        r = self._s3.put_object(
            Bucket=self.settings.bucket,
            Key=self.key(key),
            Body=data,
            ChecksumAlgorithm="SHA256",  # besides the value: moto wants it for Object Lock
            ChecksumSHA256=checksum,
            **args,
        )
        return checksum, r.get("VersionId")

    def _put_multipart(
        self, fd: int, size: int, key: str, args: dict[str, Any], sha256: str
    ) -> tuple[str, str | None]:
        bucket, full_key = self.settings.bucket, self.key(key)
        upload_id = self._s3.create_multipart_upload(
            Bucket=bucket, Key=full_key, ChecksumAlgorithm="SHA256", **args
        )["UploadId"]
        try:
            results, whole = self._send_parts(fd, size, full_key, upload_id)
            _check_whole(whole, sha256)
            parts = [
                {"PartNumber": n, "ETag": etag, "ChecksumSHA256": _b64(digest)}
                for n, (etag, digest) in enumerate(results, start=1)
            ]
            r = self._s3.complete_multipart_upload(
                Bucket=bucket, Key=full_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException as e:
            try:
                self._s3.abort_multipart_upload(Bucket=bucket, Key=full_key, UploadId=upload_id)
            except (ClientError, BotoCoreError) as abort_error:
                e.add_note(f"multipart upload {upload_id} not aborted: {_cause(abort_error)}")
            raise
        return composite_checksum([digest for _, digest in results]), r.get("VersionId")

    def _send_parts(
        self, fd: int, size: int, key: str, upload_id: str
    ) -> tuple[list[tuple[str, bytes]], str]:
        """Upload every part, ``concurrency`` at a time; returns each part's (ETag, digest) in
        order and the whole file's hex SHA-256. Parts are read in file order on this thread
        (which also hashes the whole file); a part is read only when one of ``concurrency``
        slots is free, so about ``concurrency`` parts are ever in memory."""
        part_size = max(self.settings.part_size, -(-size // MAX_PARTS // MiB) * MiB)
        slots = threading.Semaphore(self.settings.concurrency)
        failed = threading.Event()
        whole = hashlib.sha256()
        futures: list[Future[tuple[str, bytes]]] = []

        def done(future: Future[tuple[str, bytes]]) -> None:
            if future.cancelled() or future.exception() is not None:
                failed.set()
            slots.release()

        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="irkit-s3")
        try:
            for number, offset in enumerate(range(0, size, part_size), start=1):
                slots.acquire()
                if failed.is_set():
                    break
                data = _pread_exact(fd, min(part_size, size - offset), offset)
                whole.update(data)
                future = pool.submit(self._upload_part, key, upload_id, number, data)
                del data  # the worker holds the only reference: memory stays bounded
                future.add_done_callback(done)
                futures.append(future)
            return [f.result() for f in futures], whole.hexdigest()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> tuple[str, bytes]:
        digest = hashlib.sha256(data).digest()
        r = self._s3.upload_part(
            Bucket=self.settings.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest),
        )
        if r.get("ChecksumSHA256") not in (None, _b64(digest)):
            raise _Refused(f"part {number}: S3 has ChecksumSHA256 {r['ChecksumSHA256']}")
        return str(r["ETag"]), digest


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:  # pread may return less than asked; b"" means the file shrank
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise OSError(0, f"file ended at {offset + len(data)} bytes while being read")
        data += more
    return data


class _Refused(Exception):
    """Something irkit itself found wrong mid-upload; ``put`` turns it into ``UploadError``."""


def _check_whole(got: str, expected: str) -> None:
    if got != expected.lower():
        raise _Refused(
            f"the file's sha256 is {got}, not the {expected} it was given "
            "(changed since it was hashed?)"
        )


def _same_checksum(got: str, expected: str) -> bool:
    """Equal, allowing a store that drops the ``-n`` part count of a composite checksum."""
    digest, _, parts = got.partition("-")
    want_digest, _, want_parts = expected.partition("-")
    return digest == want_digest and parts in ("", want_parts)


def _info(uri: str, r: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        uri=uri,
        size=int(r["ContentLength"]),
        sha256=r.get("Metadata", {}).get("sha256"),
        checksum_sha256=r.get("ChecksumSHA256"),
        version_id=r.get("VersionId"),
        etag=str(r.get("ETag", "")),
        last_modified=_rfc3339(r.get("LastModified")),
        retain_until=_rfc3339(r.get("ObjectLockRetainUntilDate")),
        lock_mode=r.get("ObjectLockMode"),
        sse=r.get("ServerSideEncryption"),
    )


def _until(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _cause(e: Exception) -> str:
    """``Code: message`` of a botocore error, remote text cut to 256 characters."""
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        code = err.get("Code") or "?"
        message = err.get("Message") or e.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode", ""
        )
        text = f"{code}: {message}"
    elif isinstance(e, _Refused):
        return str(e)
    else:
        text = f"{type(e).__name__}: {e}"
    return text[:_CUT]


def _hint(e: Exception) -> str | None:
    code = e.response.get("Error", {}).get("Code", "") if isinstance(e, ClientError) else ""
    name = type(e).__name__
    if code == "NoSuchBucket":
        return "check the bucket in the s3:// URI (and the region), or create it"
    if code in ("NoSuchKey", "404"):
        return "check the bucket and key in the s3:// URI"
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return (
            "check the credentials (aws sts get-caller-identity) and that the policy allows "
            "s3:PutObject, s3:PutObjectTagging, s3:PutObjectRetention, s3:GetObject"
        )
    if code == "InvalidRequest":
        return "Object Lock needs a bucket created with Object Lock enabled"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if name in ("EndpointConnectionError", "ConnectTimeoutError"):
        return "check the endpoint (AWS_ENDPOINT_URL, endpoint_url) and the network"
    return None
