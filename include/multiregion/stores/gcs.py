"""GCS backend: the Google provider's GCSHook client (google-cloud-storage).

Large writes are one resumable upload (``blob.open('wb')``) in ``part_size`` chunks; the object
appears only when the upload is finalized, and a failure cancels the session instead. Metadata
is fixed when the session starts, before the sha256 is known: unless the caller passed
``expected_sha256``, the sha256 is patched in afterwards, pinned to the uploaded generation.
Reads are ranged GETs pinned to one generation.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable, Iterator
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
from multiregion.stores.streams import Digests, MiB, slices

log = logging.getLogger(__name__)

CHUNK_MULTIPLE = 256 * 1024  # resumable upload chunks must be multiples of 256 KiB
LIBRARY_RETRY_TIMEOUT_S = 20.0
MIN_READ_WINDOW = 8 * MiB  # each ranged GET is a request: don't make them tiny


class GCSStore(ObjectStore):
    kind = "gcs"
    scheme = SCHEMES["gcs"]
    min_part_size = CHUNK_MULTIPLE
    max_parts = 10**9  # a resumable upload has no chunk-count limit

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.part_size = -(-self.part_size // CHUNK_MULTIPLE) * CHUNK_MULTIPLE

    @cached_property
    def _client(self) -> Any:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        return GCSHook(gcp_conn_id=self.conn_id).get_conn()

    @cached_property
    def _bucket(self) -> Any:
        return self._client.bucket(self.bucket)

    @cached_property
    def _retry(self) -> Any:
        # Passed explicitly: the library's default retries uploads only with a generation
        # precondition, and keeps retrying a refused connection for 120 s.
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_timeout(LIBRARY_RETRY_TIMEOUT_S)

    # ----------------------------------------------------------------- reads
    def _blob_info(self, name: str, blob: Any) -> ObjectInfo:
        md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None  # composite objects have none
        return self._info(
            name,
            metadata=blob.metadata,
            size=blob.size,
            etag=blob.etag,
            md5=md5,
            last_modified=blob.updated,
            content_type=blob.content_type,
        )

    def _get_blob(self, name: str) -> Any:
        blob = self._call(self._bucket.get_blob, name, retry=self._retry)
        if blob is None:
            # get_blob answers None for a missing bucket too: say which.
            missing_bucket = not self._call(self._bucket.exists, retry=self._retry)
            raise (BucketNotFound if missing_bucket else ObjectNotFound)(self, self._key(name))
        return blob

    def _head(self, name: str) -> ObjectInfo:
        return self._blob_info(name, self._get_blob(name))

    def _list(self, name_prefix: str, *, recursive: bool, with_metadata: bool) -> Iterator[ObjectInfo]:
        from google.api_core.exceptions import NotFound

        blobs = self._client.list_blobs(
            self.bucket,
            prefix=name_prefix,
            delimiter=None if recursive else "/",
            page_size=self.page_size,
            retry=self._retry,
        )
        try:
            for blob in blobs:
                yield self._blob_info(blob.name, blob)
        except NotFound as exc:  # a listing only 404s when the bucket is missing
            raise BucketNotFound(self, name_prefix[len(self.prefix) :]) from exc

    def _open_range(
        self, name: str, start: int, end: int | None, chunk_size: int, version: str | None
    ) -> tuple[str | None, Iterator[bytes]]:
        blob = self._get_blob(name)
        generation = str(blob.generation)
        if version is not None and generation != version:
            raise ObjectChanged(self, self._key(name), f"generation {version} was replaced by {generation}")
        if start > blob.size:
            raise InvalidRange(self, self._key(name), f"read from byte {start}: the object has {blob.size} bytes")
        stop = blob.size if end is None else min(end, blob.size)
        pinned = self._bucket.blob(name, generation=blob.generation)
        return generation, self._windows(pinned, start, stop, chunk_size)

    def _windows(self, blob: Any, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        window = max(chunk_size, MIN_READ_WINDOW)
        pos = start
        while pos < stop:
            # raw_download: bytes as stored (no gunzip), so ranges and sizes line up.
            data = self._call(
                blob.download_as_bytes,
                start=pos,
                end=min(pos + window, stop) - 1,  # inclusive
                raw_download=True,
                checksum=None,  # a range has no server checksum to compare with
                if_generation_match=blob.generation,
                retry=self._retry,
            )
            if not data:
                raise ObjectChanged(self, self._key(blob.name), f"no bytes returned at offset {pos} of {stop}")
            pos += len(data)
            yield from slices(data, chunk_size)

    # ----------------------------------------------------------------- writes
    def _put_small(
        self, name: str, data: bytes, *, metadata: dict[str, str], content_type: str, digests: Digests
    ) -> ObjectInfo:
        blob = self._bucket.blob(name)
        blob.metadata = metadata
        blob.md5_hash = base64.b64encode(digests.md5).decode()  # sent with the object: GCS rejects a mismatch
        # checksum=None: the library would otherwise hash the data again (and replace md5_hash with that).
        self._call(blob.upload_from_string, data, content_type=content_type, checksum=None, retry=self._retry)
        return self._blob_info(name, blob)  # the library set the blob's fields from the response

    def _put_large(
        self,
        name: str,
        parts: Iterator[bytes],
        *,
        metadata: dict[str, str],
        content_type: str,
        finish: Callable[[], tuple[Digests, dict[str, str]]],
    ) -> None:
        # A resumable upload sends its chunks one after the other, so spend the memory the other
        # backends use for parts in flight on larger chunks instead: fewer round trips (and
        # fake-gcs-server's cost per chunk grows with the upload's size). The writer holds a chunk
        # twice (its buffer + the chunk being sent): half the part budget per chunk (16 MiB by default).
        chunk_size = self.part_size * max(1, self.max_concurrency // 2)
        blob = self._bucket.blob(name, chunk_size=chunk_size)
        blob.metadata = metadata
        writer = blob.open("wb", chunk_size=chunk_size, content_type=content_type, ignore_flush=True, retry=self._retry)
        try:
            for part in parts:
                writer.write(part)
                del part
            digests, final_metadata = finish()
        except BaseException:
            try:
                writer.terminate()  # cancel the session; never finalize a partial object
            except Exception as exc:  # noqa: BLE001 - the original failure is the one to report
                log.warning("could not cancel resumable upload of %s: %s", self.url_for(self._key(name)), exc)
            raise
        writer.close()  # sends the last chunk: the object becomes visible now
        if final_metadata != metadata:
            self._patch_metadata(name, final_metadata, digests)

    def _patch_metadata(self, name: str, metadata: dict[str, str], digests: Digests) -> None:
        blob = self._get_blob(name)
        md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None
        if blob.size != digests.size or (md5 is not None and md5 != digests.md5_hex):
            raise ObjectChanged(self, self._key(name), "overwritten by another writer before its sha256 was set")
        blob.metadata = metadata
        self._call(blob.patch, if_generation_match=blob.generation, retry=self._retry)

    def _copy(self, src: str, dst: str) -> None:
        source = self._get_blob(src)
        target = self._bucket.blob(dst)
        # Rewrite copies data and metadata server-side; big or cross-location copies take several calls.
        token = None
        while True:
            token, _, _ = self._call(
                target.rewrite, source, token=token, if_source_generation_match=source.generation, retry=self._retry
            )
            if token is None:
                return

    def _delete(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self._call(self._bucket.delete_blob, name, retry=self._retry)

    # ----------------------------------------------------------------- errors
    def _classify(self, exc: BaseException) -> type[ObjectStoreError] | None:
        from google.api_core import exceptions as api
        from google.auth.exceptions import GoogleAuthError, TransportError
        from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
        from requests.exceptions import RequestException

        if isinstance(exc, api.NotFound):
            return ObjectNotFound
        if isinstance(exc, api.Forbidden | api.Unauthorized):
            return AccessDenied
        if isinstance(exc, api.RequestRangeNotSatisfiable):
            return InvalidRange
        if isinstance(exc, api.PreconditionFailed):
            return ObjectChanged
        if isinstance(exc, DataCorruption):
            return IntegrityError
        if isinstance(exc, api.ServerError | api.TooManyRequests | api.RetryError | RequestException | TransportError):
            return StoreUnavailable
        if isinstance(exc, GoogleAuthError):
            return AccessDenied
        if isinstance(exc, api.GoogleAPIError | InvalidResponse):
            return ObjectStoreError
        return None

    def _is_transient(self, exc: BaseException) -> bool:
        from google.api_core import exceptions as api
        from google.auth.exceptions import TransportError
        from requests.exceptions import ChunkedEncodingError, ConnectionError, Timeout

        transient = api.ServerError | api.TooManyRequests | ConnectionError | ChunkedEncodingError | Timeout
        return isinstance(exc, transient | TransportError)
