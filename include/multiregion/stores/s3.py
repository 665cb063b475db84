"""S3 backend: the Amazon provider's S3Hook client (boto3).

Large writes are multipart uploads: each part carries its Content-MD5 (the server rejects a
corrupted part), the upload is aborted on any failure so no partial object becomes visible, and
the completed ETag is checked against the part MD5s. S3 takes metadata when the upload starts,
before the sha256 is known: unless the caller passed ``expected_sha256``, the sha256 is added
afterwards by an in-place metadata copy pinned to the uploaded ETag.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import cached_property
from typing import Any

from multiregion.stores.base import SCHEMES, ObjectInfo, ObjectStore
from multiregion.stores.errors import (
    AccessDenied,
    BucketNotFound,
    IntegrityError,
    InvalidRange,
    ObjectChanged,
    ObjectNotFound,
    ObjectStoreError,
    StoreUnavailable,
)
from multiregion.stores.streams import Digests, MiB, run_bounded

log = logging.getLogger(__name__)

COPY_OBJECT_LIMIT = 5 * 1024 * MiB  # larger objects need a multipart copy
COPY_PART_SIZE = 1024 * MiB
DELETE_BATCH = 1000  # DeleteObjects limit
_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed"}
_MD5_HEX = re.compile(r"[0-9a-f]{32}")


class S3Store(ObjectStore):
    kind = "s3"
    scheme = SCHEMES["s3"]
    min_part_size = 5 * MiB  # S3's minimum for every part but the last
    max_parts = 10_000

    @cached_property
    def _client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        client = S3Hook(aws_conn_id=self.conn_id).get_conn()
        # botocore parses every listed key's LastModified with dateutil (~0.2 ms each: 2 s of a
        # 10,000-object listing). The parser factory is the hook's own session's, so this affects
        # only this client; without that attribute (another botocore) listings are just slower.
        factory = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
        if factory is not None:
            factory.set_parser_defaults(timestamp_parser=_parse_timestamp)
        return client

    # ----------------------------------------------------------------- reads
    def _head(self, name: str) -> ObjectInfo:
        try:
            response = self._call(self._client.head_object, Bucket=self.bucket, Key=name)
        except Exception as exc:
            # HEAD has no error body: a 404 may mean the bucket is missing, so say which.
            if self._classify(exc) is ObjectNotFound and not self._bucket_exists():
                raise BucketNotFound(self, self._key(name)) from exc
            raise
        return self._info(
            name,
            metadata=response.get("Metadata"),
            size=response["ContentLength"],
            etag=response.get("ETag"),
            md5=_md5_from_etag(response.get("ETag"), response),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
        )

    def _head_if_exists(self, name: str) -> ObjectInfo | None:
        try:
            return self._head(name)
        except Exception as exc:
            if isinstance(exc, ObjectNotFound) or self._classify(exc) is ObjectNotFound:
                return None
            raise

    def _bucket_exists(self) -> bool:
        try:
            self._call(self._client.head_bucket, Bucket=self.bucket)
        except Exception as exc:
            if self._classify(exc) is ObjectNotFound:
                return False
            raise
        return True

    def _list(self, name_prefix: str, *, recursive: bool, with_metadata: bool) -> Iterator[ObjectInfo]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": name_prefix, "MaxKeys": self.page_size}
        if not recursive:
            request["Delimiter"] = "/"
        while True:
            page = self._call(self._client.list_objects_v2, **request)
            for item in page.get("Contents", []):
                if with_metadata:  # listings carry no user metadata: HEAD each object
                    info = self._head_if_exists(item["Key"])
                    if info is not None:  # else deleted since the page was listed
                        yield info
                    continue
                yield self._info(
                    item["Key"],
                    metadata=None,
                    size=item["Size"],
                    etag=item.get("ETag"),
                    # Listings don't say whether SSE-KMS is used (its ETags are not MD5s); HEAD does.
                    md5=_md5_from_etag(item.get("ETag"), {}),
                    last_modified=item.get("LastModified"),
                )
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    def _open_range(
        self, name: str, start: int, end: int | None, chunk_size: int, version: str | None
    ) -> tuple[str | None, Iterator[bytes]]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": name}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if version:
            request["IfMatch"] = version
        response = self._call(self._client.get_object, **request)
        return response.get("ETag"), _iter_body(response["Body"], chunk_size)

    # ----------------------------------------------------------------- writes
    def _put_small(
        self, name: str, data: bytes, *, metadata: dict[str, str], content_type: str, digests: Digests
    ) -> None:  # PutObject's response lacks size and time: the HEAD after it stays
        self._call(
            self._client.put_object,
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentMD5=_b64(digests.md5),
            ContentType=content_type,
            Metadata=metadata,
        )

    def _put_large(
        self,
        name: str,
        parts: Iterator[bytes],
        *,
        metadata: dict[str, str],
        content_type: str,
        finish: Callable[[], tuple[Digests, dict[str, str]]],
    ) -> None:
        key = self._key(name)
        created = self._call(
            self._client.create_multipart_upload,
            Bucket=self.bucket,
            Key=name,
            ContentType=content_type,
            Metadata=metadata,
        )
        upload_id = created["UploadId"]

        def send(number: int, data: bytes) -> tuple[dict[str, Any], bytes]:
            if number > self.max_parts:
                raise ObjectStoreError(self, key, f"over {self.max_parts} parts: pass size_hint or a larger part_size")
            md5 = hashlib.md5(data, usedforsecurity=False).digest()
            response = self._call(
                self._client.upload_part,
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ContentMD5=_b64(md5),
            )
            return {"PartNumber": number, "ETag": response["ETag"]}, md5

        try:
            sent = run_bounded(parts, send, concurrency=self.max_concurrency)
            digests, final_metadata = finish()
            completed = self._call(
                self._client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": [part for part, _ in sent]},
            )
        except BaseException:
            self._abort(name, upload_id)
            raise
        etag = completed.get("ETag")
        expected = hashlib.md5(b"".join(md5 for _, md5 in sent), usedforsecurity=False).hexdigest()
        if not _is_kms(completed) and etag and etag.strip('"') != f"{expected}-{len(sent)}":
            self._delete(name)
            raise IntegrityError(self, key, f"multipart ETag {etag} != {expected}-{len(sent)} from the parts sent")
        if final_metadata != metadata:
            self._rewrite_metadata(name, final_metadata, content_type, digests.size, etag)

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self._call(self._client.abort_multipart_upload, Bucket=self.bucket, Key=name, UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001 - keep the original failure; a lifecycle rule reaps leftovers
            log.warning("could not abort multipart upload %s of %s: %s", upload_id, self.url_for(self._key(name)), exc)

    def _rewrite_metadata(self, name: str, metadata: dict[str, str], content_type: str, size: int, etag: str) -> None:
        # Pinned to our upload's ETag: if someone overwrote the key meanwhile, don't stamp our sha256 on it.
        try:
            self._server_copy(name, name, size, metadata=metadata, content_type=content_type, if_match=etag)
        except Exception as exc:
            if self._classify(exc) is ObjectChanged:
                message = "overwritten by another writer before its sha256 was set"
                raise ObjectChanged(self, self._key(name), message) from exc
            raise

    def _copy(self, src: str, dst: str) -> None:
        source = self._call(self._client.head_object, Bucket=self.bucket, Key=src)
        self._server_copy(
            src,
            dst,
            source["ContentLength"],
            metadata=source.get("Metadata", {}),
            content_type=source.get("ContentType"),
            if_match=source.get("ETag"),
        )

    def _server_copy(
        self, src: str, dst: str, size: int, *, metadata: dict[str, str], content_type: str | None, if_match: str | None
    ) -> None:
        condition = {"CopySourceIfMatch": if_match} if if_match else {}
        settings = {"Metadata": metadata, **({"ContentType": content_type} if content_type else {})}
        if size <= COPY_OBJECT_LIMIT:
            self._call(
                self._client.copy_object,
                Bucket=self.bucket,
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                MetadataDirective="REPLACE",
                **settings,
                **condition,
            )
            return
        created = self._call(self._client.create_multipart_upload, Bucket=self.bucket, Key=dst, **settings)
        upload_id = created["UploadId"]

        def copy_part(number: int, span: tuple[int, int]) -> dict[str, Any]:
            response = self._call(
                self._client.upload_part_copy,
                Bucket=self.bucket,
                Key=dst,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": src},
                CopySourceRange=f"bytes={span[0]}-{span[1]}",
                **condition,
            )
            return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

        spans = ((offset, min(offset + COPY_PART_SIZE, size) - 1) for offset in range(0, size, COPY_PART_SIZE))
        try:
            parts = run_bounded(spans, copy_part, concurrency=self.max_concurrency)
            self._call(
                self._client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=dst,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(dst, upload_id)
            raise

    def _delete(self, name: str) -> None:
        self._call(self._client.delete_object, Bucket=self.bucket, Key=name)  # S3 deletes are idempotent

    def _delete_many(self, names: Iterable[str]) -> None:
        names = list(names)
        for offset in range(0, len(names), DELETE_BATCH):
            batch = [{"Key": name} for name in names[offset : offset + DELETE_BATCH]]
            response = self._call(
                self._client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            errors = [e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                first = errors[0]
                raise ObjectStoreError(
                    self,
                    self._key(first.get("Key", "")),
                    f"{len(errors)} objects could not be deleted (first: {first.get('Code')} {first.get('Message')})",
                )

    # ----------------------------------------------------------------- errors
    def _classify(self, exc: BaseException) -> type[ObjectStoreError] | None:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            HTTPClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from urllib3.exceptions import HTTPError as Urllib3Error

        if isinstance(exc, ClientError):
            code, status = _code_status(exc)
            if code == "NoSuchBucket":
                return BucketNotFound
            if code in ("NoSuchKey", "NotFound", "404", "NoSuchUpload") or status == 404:
                return ObjectNotFound
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status in (401, 403):
                return AccessDenied
            if code == "InvalidRange" or status == 416:
                return InvalidRange
            if code == "PreconditionFailed" or status == 412:
                return ObjectChanged
            if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch") or "Checksum" in code:
                return IntegrityError
            if status >= 500 or code in _THROTTLING:
                return StoreUnavailable
            return ObjectStoreError
        if isinstance(exc, ConnectionError | HTTPClientError | Urllib3Error):
            return StoreUnavailable
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return AccessDenied
        if isinstance(exc, BotoCoreError):
            return IntegrityError if "checksum" in type(exc).__name__.lower() else ObjectStoreError
        return None

    def _is_transient(self, exc: BaseException) -> bool:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError
        from urllib3.exceptions import ProtocolError, ReadTimeoutError

        if isinstance(exc, ClientError):
            code, status = _code_status(exc)
            return status >= 500 or code in _THROTTLING
        transient = ConnectionError | HTTPClientError | IncompleteReadError
        return isinstance(exc, transient | ProtocolError | ReadTimeoutError)


def _iter_body(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def _code_status(exc: Any) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return str(error.get("Code", "")), int(status)


def _is_kms(response: dict[str, Any]) -> bool:
    return str(response.get("ServerSideEncryption", "")).startswith("aws:kms") or bool(
        response.get("SSECustomerAlgorithm")
    )


def _parse_timestamp(value: Any) -> datetime:
    """ISO 8601 with a zone (what S3 returns) natively; anything else the way botocore does."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


def _md5_from_etag(etag: str | None, response: dict[str, Any]) -> str | None:
    """An S3 ETag is the object's MD5 only for single-part uploads without SSE-KMS/SSE-C."""
    if not etag or _is_kms(response):
        return None
    value = etag.strip('"').lower()
    return value if _MD5_HEX.fullmatch(value) else None


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
