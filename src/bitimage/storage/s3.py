"""S3Store: the ObjectStore port on S3 or any S3-compatible service (MinIO, Ceph, moto...)."""

from __future__ import annotations

import base64
import builtins
import hashlib
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from botocore import exceptions as boto_errors
from botocore.config import Config
from botocore.exceptions import ClientError

from bitimage.storage.keys import STAGING_PREFIX, is_valid_key
from bitimage.storage.ports import ObjectChanged, ObjectInfo, ObjectStore, StoreUnavailable
from bitimage.storage.sigv4 import AddressingStyle, SigV4Presigner

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CopyObjectRequestTypeDef,
        CopySourceTypeDef,
        GetObjectRequestTypeDef,
        ObjectIdentifierTypeDef,
        PutObjectRequestTypeDef,
    )

_CHUNK = 256 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024  # open(): objects up to 1 MiB stay in memory, larger go to disk
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts
_CREDENTIALS_CHECK_SECONDS = 60.0
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_CHANGED = {"412", "PreconditionFailed"}
# Failures of the network or of the credential chain: the store is unreachable, not wrong.
_UNREACHABLE: tuple[type[boto_errors.BotoCoreError], ...] = (
    boto_errors.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, SSL, proxy
    boto_errors.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError, streaming errors
    boto_errors.IncompleteReadError,
    boto_errors.NoCredentialsError,
    boto_errors.PartialCredentialsError,
    boto_errors.CredentialRetrievalError,
)


def _is_single_part_md5(etag: str) -> bool:
    return len(etag) == 32 and all(c in "0123456789abcdef" for c in etag.lower())


def _copied_other_bytes(etag: str, answer: Any) -> bool:
    """True when a plain copy's ETag (the MD5 of what was copied) is not the pinned MD5 ETag."""
    plain = answer.get("ServerSideEncryption") in (None, "AES256")
    if not plain or "SSECustomerAlgorithm" in answer:
        return False
    pinned = etag.strip('"').lower()
    copied = str(answer.get("CopyObjectResult", {}).get("ETag", "")).strip('"').lower()
    return _is_single_part_md5(pinned) and _is_single_part_md5(copied) and pinned != copied


@contextmanager
def _translated(operation: str, bucket: str, key: str = "") -> Iterator[None]:
    """Map botocore failures onto the port's: FileNotFoundError or StoreUnavailable."""
    where = f"s3://{bucket}/{key}"
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        if key and code in _NOT_FOUND:
            raise FileNotFoundError(where) from exc
        if key and code in _CHANGED:
            raise ObjectChanged(f"{where} was replaced during {operation}") from exc
        message = str(error.get("Message", "")).strip() or "no message"
        raise StoreUnavailable(f"{operation} {where} failed: {code}: {message}") from exc
    except _UNREACHABLE as exc:
        raise StoreUnavailable(f"{operation} {where} failed: {exc}") from exc


def _frozen(credentials: Credentials) -> tuple[str, str, str | None]:
    """One consistent snapshot of (access key, secret key, token)."""
    try:
        frozen = credentials.get_frozen_credentials()
    except _UNREACHABLE as exc:
        raise StoreUnavailable(f"the AWS credentials could not be read: {exc}") from exc
    if not frozen.access_key or not frozen.secret_key:
        raise StoreUnavailable("the AWS credentials lack an access key or a secret key")
    return frozen.access_key, frozen.secret_key, frozen.token


class S3Store:
    """An ObjectStore on S3: URLs are SigV4 presigned, the rest is plain S3 API calls.

    Keys map one to one onto object keys. With a separate `staging_bucket`, keys under
    `staging/` live there under the very same key (prefix kept: a bucket listing reads the
    same as the local store's folder), every other key lives in `bucket`. list() and
    delete_prefix() only see keys this service generates, so a shared bucket's other
    objects are never touched. `credentials`, when given (the client's botocore credentials),
    are re-read every minute so that presigned URLs follow rotated temporary credentials.
    """

    def __init__(
        self,
        client: S3Client,
        presigner: SigV4Presigner,
        bucket: str,
        staging_bucket: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.client = client
        self.presigner = presigner
        self.bucket = bucket
        self.staging_bucket = staging_bucket if staging_bucket not in (None, "", bucket) else None
        self._credentials = credentials
        self._credentials_checked = time.monotonic()
        self._frozen = None if credentials is None else _frozen(credentials)
        self._lock = threading.Lock()

    def locate(self, key: str) -> str:
        """The bucket holding `key`."""
        if self.staging_bucket is not None and key.startswith(STAGING_PREFIX):
            return self.staging_bucket
        return self.bucket

    def _buckets_under(self, prefix: str) -> list[str]:
        if self.staging_bucket is None:
            return [self.bucket]
        if prefix.startswith(STAGING_PREFIX):
            return [self.staging_bucket]
        if STAGING_PREFIX.startswith(prefix):  # "" or "sta": keys of both buckets match
            return [self.bucket, self.staging_bucket]
        return [self.bucket]

    def _signer(self) -> SigV4Presigner:
        if self._credentials is None:
            return self.presigner
        now = time.monotonic()
        if now - self._credentials_checked < _CREDENTIALS_CHECK_SECONDS:
            return self.presigner
        with self._lock:
            if now - self._credentials_checked >= _CREDENTIALS_CHECK_SECONDS:
                frozen = _frozen(self._credentials)
                if frozen != self._frozen:
                    old = self.presigner
                    self.presigner = SigV4Presigner(
                        *frozen, old.region, old.endpoint_url, old.addressing_style
                    )
                    self._frozen = frozen
                self._credentials_checked = now
        return self.presigner

    def presign_put(self, key: str, ttl_seconds: int) -> str:
        """A presigned PUT URL; only staging keys may be uploaded to."""
        if not key.startswith(STAGING_PREFIX):
            raise ValueError(f"uploads go to the staging area only, not {key!r}")
        return self._signer().presign("PUT", self.locate(key), key, ttl_seconds)

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        """A presigned GET URL."""
        return self._signer().presign("GET", self.locate(key), key, ttl_seconds)

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        """PutObject with its type, caching and MD5 (S3 refuses bytes damaged on the way)."""
        bucket = self.locate(key)
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        request: PutObjectRequestTypeDef = {
            "Bucket": bucket,
            "Key": key,
            "Body": data,
            "ContentType": content_type,
            "ContentMD5": digest,
        }
        if cache_control is not None:
            request["CacheControl"] = cache_control
        with _translated("PutObject", bucket, key):
            self.client.put_object(**request)

    def presign_gets(self, keys: Sequence[str], ttl_seconds: int) -> builtins.list[str]:
        """One presigned GET URL per key (SigV4 signs each URL on its own)."""
        signer = self._signer()
        return [signer.presign("GET", self.locate(key), key, ttl_seconds) for key in keys]

    def stat(self, key: str) -> ObjectInfo | None:
        """HEAD the object; the ETag is the MD5 if single-part and not KMS or SSE-C encrypted."""
        bucket = self.locate(key)
        try:
            with _translated("HeadObject", bucket, key):
                head = self.client.head_object(Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        etag = head.get("ETag", "").strip('"')
        plain = head.get("ServerSideEncryption") in (None, "AES256")
        md5 = etag.lower() if plain and "SSECustomerAlgorithm" not in head else None
        if md5 is not None and not _is_single_part_md5(md5):
            md5 = None
        modified = head["LastModified"].astimezone(UTC)
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            md5=md5,
            modified_at=modified,
            etag=head.get("ETag") or None,
        )

    def pin(self, key: str, private_key: str) -> ObjectInfo | None:
        """HEAD the object: its ETag pins later reads and the copy (nothing moves on S3)."""
        info = self.stat(key)
        if info is not None and info.etag is None:  # pragma: no cover - S3 always sends one
            raise StoreUnavailable(f"s3://{self.locate(key)}/{key} has no ETag to pin")
        return info

    def read_range(self, key: str, start: int, length: int, etag: str | None = None) -> bytes:
        """A ranged GET (`If-Match: etag` when given); `start` < 0 asks for a suffix."""
        if length <= 0:
            return b""
        span = f"bytes={start}" if start < 0 else f"bytes={start}-{start + length - 1}"
        bucket = self.locate(key)
        request: GetObjectRequestTypeDef = {"Bucket": bucket, "Key": key, "Range": span}
        if etag is not None:
            request["IfMatch"] = etag
        with _translated("GetObject", bucket, key):
            try:
                body = self.client.get_object(**request)["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""  # an empty object, or a start past its end
                raise
            try:
                return body.read(length)
            finally:
                body.close()

    def open(self, key: str) -> BinaryIO:
        """GET the object into a spooled temporary file (memory up to 1 MiB, then disk)."""
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            for chunk in self._chunks(key):
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return cast(BinaryIO, spool)

    def md5(self, key: str, etag: str | None = None) -> str:
        """The MD5 from the ETag when it is one, else by streaming the object through MD5."""
        info = self.stat(key)
        if info is None:
            raise FileNotFoundError(f"s3://{self.locate(key)}/{key}")
        if etag is not None and info.etag != etag:
            raise ObjectChanged(f"s3://{self.locate(key)}/{key} was replaced")
        if info.md5 is not None:
            return info.md5
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in self._chunks(key, etag):
            digest.update(chunk)
        return digest.hexdigest()

    def _chunks(self, key: str, etag: str | None = None) -> Iterator[bytes]:
        """The object's bytes in pieces (one GetObject; errors translated, body closed)."""
        bucket = self.locate(key)
        request: GetObjectRequestTypeDef = {"Bucket": bucket, "Key": key}
        if etag is not None:
            request["IfMatch"] = etag
        with _translated("GetObject", bucket, key):
            body = self.client.get_object(**request)["Body"]
            try:
                yield from body.iter_chunks(_CHUNK)
            finally:
                body.close()

    def copy(self, source: str, destination: str, etag: str | None = None) -> None:
        """Server-side CopyObject (only of version `etag` when given), across buckets too."""
        bucket = self.locate(destination)
        copy_source: CopySourceTypeDef = {"Bucket": self.locate(source), "Key": source}
        request: CopyObjectRequestTypeDef = {
            "Bucket": bucket,
            "Key": destination,
            "CopySource": copy_source,
        }
        if etag is not None:
            request["CopySourceIfMatch"] = etag
        try:
            with _translated("CopyObject", bucket, destination):
                answer = self.client.copy_object(**request)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"s3://{copy_source['Bucket']}/{source}") from exc
        if etag is not None and _copied_other_bytes(etag, answer):
            # A store that ignores the copy condition: the copy's MD5 ETag gives it away.
            self.delete([destination])
            raise ObjectChanged(f"s3://{copy_source['Bucket']}/{source} was replaced")

    def sync(self, keys: Iterable[str]) -> None:
        """Nothing to do: S3 answers a PUT or a copy once the object is stored durably."""

    def delete(self, keys: Iterable[str]) -> None:
        """DeleteObjects in batches of 1000; any per-key error raises StoreUnavailable."""
        by_bucket: dict[str, builtins.list[str]] = {}
        for key in keys:
            by_bucket.setdefault(self.locate(key), []).append(key)
        for bucket, bucket_keys in by_bucket.items():
            for start in range(0, len(bucket_keys), _DELETE_BATCH):
                self._delete_batch(bucket, bucket_keys[start : start + _DELETE_BATCH])

    def _delete_batch(self, bucket: str, keys: builtins.list[str]) -> None:
        objects: builtins.list[ObjectIdentifierTypeDef] = [{"Key": key} for key in keys]
        with _translated("DeleteObjects", bucket):
            answer = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise StoreUnavailable(
                f"DeleteObjects s3://{bucket} failed for {len(errors)} of {len(keys)} keys, "
                f"first {first.get('Key')}: {first.get('Code')}: {first.get('Message')}"
            )

    def delete_prefix(self, prefix: str) -> int:
        """Delete every service key under `prefix`, page by page over the whole listing."""
        count = 0
        for bucket in self._buckets_under(prefix):
            for page in self._pages(bucket, prefix):
                keys = [info.key for info in page]
                if keys:
                    self._delete_batch(bucket, keys)
                    count += len(keys)
        return count

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every service key under `prefix` (md5 is None: a listing cannot vouch for ETags)."""
        for bucket in self._buckets_under(prefix):
            for page in self._pages(bucket, prefix):
                yield from page

    def _pages(self, bucket: str, prefix: str) -> Iterator[builtins.list[ObjectInfo]]:
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated("ListObjectsV2", bucket):
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                yield [
                    ObjectInfo(
                        key=item["Key"],
                        size=item["Size"],
                        md5=None,
                        modified_at=item["LastModified"].astimezone(UTC),
                    )
                    for item in page.get("Contents", [])
                    if is_valid_key(item["Key"]) and self.locate(item["Key"]) == bucket
                ]

    def ping(self) -> None:
        """HeadBucket on each bucket; any failure raises StoreUnavailable with the reason."""
        buckets = (
            [self.bucket] if self.staging_bucket is None else [self.bucket, self.staging_bucket]
        )
        for bucket in buckets:
            try:
                self.client.head_bucket(Bucket=bucket)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code, message = error.get("Code", "?"), error.get("Message", "")
                reason = f"{code} {message}".strip()
                raise StoreUnavailable(f"S3 bucket {bucket!r} is not usable: {reason}") from exc
            except _UNREACHABLE as exc:
                raise StoreUnavailable(f"S3 bucket {bucket!r} is unreachable: {exc}") from exc


if TYPE_CHECKING:
    _CONFORMS: type[ObjectStore] = S3Store  # mypy proves S3Store implements the port


def s3_store_from_url(
    storage_url: str,
    staging_bucket: str | None = None,
    endpoint_url: str | None = None,
    public_endpoint_url: str | None = None,
) -> S3Store:
    """An S3Store for `s3://BUCKET`, configured from the standard AWS environment and files.

    The region defaults to us-east-1 when none is configured. With `endpoint_url` (MinIO and
    the like) requests and URLs use path-style addressing, else virtual-hosted regional URLs.
    Endpoint overrides from the AWS environment are ignored so that the client and the
    presigner always address the hosts configured here. With `public_endpoint_url`, presigned
    URLs name that host (the one clients reach) while the server's own calls keep going to
    `endpoint_url`: both must reach the same service, which checks the signature against the
    Host header the client sends.
    """
    parts = urlsplit(storage_url)
    if parts.scheme != "s3" or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"expected s3://BUCKET, got {storage_url!r}")
    staging = staging_bucket.removeprefix("s3://").rstrip("/") if staging_bucket else None
    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    style: AddressingStyle = "path" if endpoint_url or public_endpoint_url else "virtual"
    # Endpoint overrides from the environment would move the client but not the presigner.
    ignore_env_endpoints: dict[str, Any] = {"ignore_configured_endpoint_urls": True}
    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3={"addressing_style": style},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,
        tcp_keepalive=True,
        **ignore_env_endpoints,  # (missing from botocore-stubs' Config signature)
    )
    client = session.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
    credentials = session.get_credentials()
    if credentials is None:
        raise StoreUnavailable(
            "no AWS credentials found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, "
            "or an instance role)"
        )
    presigner = SigV4Presigner(
        *_frozen(credentials), region, public_endpoint_url or endpoint_url, style
    )
    return S3Store(client, presigner, parts.netloc, staging, credentials)
