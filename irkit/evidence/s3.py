"""S3 as an evidence store: a packed bundle is uploaded with SHA-256 checksums, Object Lock, SSE
and tags, then checked against S3's own record of it (HeadObject) before it is reported stored.

boto3 is imported here and in ``irkit.audit.cloudwatch`` only, and the CLI imports this module
only when a command really uses S3, so ``irkit --help`` never pays for boto3. This module is the
store's interface and its error wording; sending the bytes is ``irkit.evidence.s3_upload``,
judging S3's record of them ``irkit.evidence.s3_verify``.

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

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from irkit.errors import EvidenceError, UploadError, UsageError
from irkit.evidence.s3_upload import Refused, cause, put_multipart, put_single
from irkit.evidence.s3_verify import Expected, ObjectInfo, object_info, problems_of
from irkit.evidence.store import StoredObject
from irkit.settings import MiB, S3Settings

READ_CHUNK = MiB  # download write size
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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
                bucket, full_key = self.settings.bucket, self.key(key)
                if size <= self.settings.part_size:
                    checksum, version = put_single(
                        self._s3, bucket, full_key, f.read(), args, sha256
                    )
                else:
                    checksum, version = put_multipart(
                        self._s3,
                        bucket,
                        full_key,
                        f.fileno(),
                        size,
                        args,
                        sha256,
                        part_size=self.settings.part_size,
                        concurrency=self.settings.concurrency,
                    )
            info, problems = self._check(key, size, sha256, checksum, version, fix_lock=True)
        except (ClientError, BotoCoreError, Refused) as e:
            notes = "".join(f"; {n}" for n in getattr(e, "__notes__", ()))
            raise UploadError(f"{what} failed: {cause(e)}{notes}", hint=_hint(e)) from e
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
            raise UploadError(f"verifying {self.uri(key)} failed: {cause(e)}", hint=_hint(e)) from e
        if problems:
            raise UploadError(f"{info['uri']} failed verification: " + "; ".join(problems))
        return info

    def head(self, key: str) -> ObjectInfo:
        """S3's record of ``key`` (relative to the prefix); ``EvidenceError`` if unreadable."""
        try:
            return object_info(self.uri(key), self._head(key))
        except (ClientError, BotoCoreError) as e:
            raise EvidenceError(f"cannot read {self.uri(key)}: {cause(e)}", hint=_hint(e)) from e

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
                f"download of {self.uri(key)} failed: {cause(e)}", hint=_hint(e)
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
        info = object_info(self.uri(key), raw)
        s = self.settings
        want = Expected(size, sha256, checksum, version_id, s.sse, bool(lock))
        return info, problems_of(info, want)

    def _head(self, key: str) -> dict[str, Any]:
        # The latest version, not VersionId=: some stores (moto) return a VersionId for an
        # unversioned bucket's multipart upload, then refuse it. A newer version is a mismatch.
        r: dict[str, Any] = self._s3.head_object(
            Bucket=self.settings.bucket, Key=self.key(key), ChecksumMode="ENABLED"
        )
        return r


def _until(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


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
