"""Azure Blob backend: the Azure provider's WasbHook client (azure-storage-blob).

Large writes stage blocks (each with Content-MD5, checked by the service) and then commit the
block list with the whole-object MD5, content type and metadata (sha256 included) in one call:
until that commit nothing is visible, and uncommitted blocks of a failed upload are discarded
by the service. Reads are ranged downloads (each range's MD5 checked) pinned to one ETag.
"""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
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
from multiregion.stores.streams import Digests, MiB, run_bounded, slices

# Reads are ranged downloads of this size, one request each. Small on purpose: the SDK collects
# each download with list() over a generator whose len() is the byte count, so it briefly
# allocates 8 bytes per byte downloaded (~9x the window). <= 4 MiB also lets the service return
# each range's MD5 (validate_content).
READ_WINDOW = 2 * MiB
COPY_TIMEOUT_S = 600.0


class AzureBlobStore(ObjectStore):
    kind = "azure_blob"
    scheme = SCHEMES["azure_blob"]
    container_word = "container"
    max_part_size = 4000 * MiB  # block size limit
    max_parts = 50_000  # committed blocks per blob

    @cached_property
    def _service(self) -> Any:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        return WasbHook(wasb_conn_id=self.conn_id).get_conn()

    @cached_property
    def _container(self) -> Any:
        return self._service.get_container_client(self.bucket)

    def _blob(self, name: str) -> Any:
        return self._container.get_blob_client(name)

    # ----------------------------------------------------------------- reads
    def _props_info(self, name: str, props: Any) -> ObjectInfo:
        settings = props.content_settings
        return self._info(
            name,
            metadata=props.metadata,
            size=props.size,
            etag=props.etag,
            md5=bytes(settings.content_md5).hex() if settings.content_md5 else None,
            last_modified=props.last_modified,
            content_type=settings.content_type,
        )

    def _head(self, name: str) -> ObjectInfo:
        return self._props_info(name, self._call(self._blob(name).get_blob_properties))

    def _list(self, name_prefix: str, *, recursive: bool, with_metadata: bool) -> Iterator[ObjectInfo]:
        from azure.storage.blob import BlobPrefix

        if recursive:
            items = self._container.list_blobs(
                name_starts_with=name_prefix, include=["metadata"], results_per_page=self.page_size
            )
        else:
            items = self._container.walk_blobs(
                name_starts_with=name_prefix, include=["metadata"], delimiter="/", results_per_page=self.page_size
            )
        for item in items:
            if not isinstance(item, BlobPrefix):  # "sub-directories" of a non-recursive listing
                yield self._props_info(item.name, item)

    def _open_range(
        self, name: str, start: int, end: int | None, chunk_size: int, version: str | None
    ) -> tuple[str | None, Iterator[bytes]]:
        from azure.core import MatchConditions

        blob = self._blob(name)
        pinned = {"etag": version, "match_condition": MatchConditions.IfNotModified} if version else {}
        props = self._call(blob.get_blob_properties, **pinned)
        if start > props.size:
            raise InvalidRange(self, self._key(name), f"read from byte {start}: the object has {props.size} bytes")
        stop = props.size if end is None else min(end, props.size)
        return props.etag, self._windows(blob, props.etag, start, stop, chunk_size)

    def _windows(self, blob: Any, etag: str, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        from azure.core import MatchConditions

        pos = start
        while pos < stop:
            length = min(READ_WINDOW, stop - pos)
            downloader = self._call(
                blob.download_blob,
                offset=pos,
                length=length,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
                validate_content=True,
                max_concurrency=1,
            )
            received = 0
            for data in downloader.chunks():  # the downloaded bytes as they are: readall() would copy them
                received += len(data)
                yield from slices(data, chunk_size)
                del data
            if received != length:
                raise ObjectChanged(self, self._key(blob.blob_name), f"got {received} of {length} bytes at {pos}")
            pos += length

    # ----------------------------------------------------------------- writes
    def _settings(self, content_type: str, md5: bytes) -> Any:
        from azure.storage.blob import ContentSettings

        return ContentSettings(content_type=content_type, content_md5=bytearray(md5))

    def _put_small(
        self, name: str, data: bytes, *, metadata: dict[str, str], content_type: str, digests: Digests
    ) -> ObjectInfo:
        response = self._call(
            self._blob(name).upload_blob,
            data,
            length=len(data),
            overwrite=True,
            # Content-MD5 on the request (the service rejects a mismatch): the digest computed while
            # streaming, where validate_content=True would hash the data a second time.
            headers={"Content-MD5": base64.b64encode(digests.md5).decode()},
            metadata=metadata,
            content_settings=self._settings(content_type, digests.md5),
            max_concurrency=1,
        )
        stored_md5 = response.get("content_md5")  # the service's MD5 of the bytes it stored
        return self._info(
            name,
            metadata=metadata,
            size=len(data),
            etag=response.get("etag"),
            md5=bytes(stored_md5).hex() if stored_md5 else None,
            last_modified=response.get("last_modified"),
            content_type=content_type,
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
        from azure.storage.blob import BlobBlock

        blob = self._blob(name)
        # Fixed-length ids, unique to this upload, so a concurrent upload's blocks never mix in.
        tag = uuid.uuid4().hex

        def stage(number: int, data: bytes) -> Any:
            if number > self.max_parts:
                raise ObjectStoreError(self, self._key(name), f"more than {self.max_parts} blocks: raise part_size")
            block_id = base64.b64encode(f"{tag}-{number:06d}".encode()).decode()
            self._call(blob.stage_block, block_id, data, length=len(data), validate_content=True)
            return BlobBlock(block_id=block_id)

        blocks = run_bounded(parts, stage, concurrency=self.max_concurrency)
        digests, final_metadata = finish()
        self._call(
            blob.commit_block_list,
            blocks,
            content_settings=self._settings(content_type, digests.md5),
            metadata=final_metadata,
        )

    def _copy(self, src: str, dst: str) -> None:
        from azure.core import MatchConditions

        source = self._call(self._blob(src).get_blob_properties)  # a clear not-found for the source key
        target = self._blob(dst)
        # Same account: the shared-key request authorizes reading the source URL.
        started = self._call(
            target.start_copy_from_url,
            self._blob(src).url,
            source_etag=source.etag,
            source_match_condition=MatchConditions.IfNotModified,
        )
        status, deadline, delay = started["copy_status"], time.monotonic() + COPY_TIMEOUT_S, 0.05
        while status == "pending":
            if time.monotonic() > deadline:
                self._call(target.abort_copy, started["copy_id"])
                raise ObjectStoreError(self, self._key(dst), f"copy still pending after {COPY_TIMEOUT_S:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            copy = self._call(target.get_blob_properties).copy
            status = copy.status
        if status != "success":
            raise ObjectStoreError(self, self._key(dst), f"copy ended with status {status!r}")

    def _delete(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self._call(self._blob(name).delete_blob, delete_snapshots="include")

    # ----------------------------------------------------------------- errors
    def _classify(self, exc: BaseException) -> type[ObjectStoreError] | None:
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceModifiedError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        code = _error_code(exc)
        status = getattr(exc, "status_code", None) or 0
        if isinstance(exc, ResourceNotFoundError) or status == 404:
            return BucketNotFound if code == "ContainerNotFound" else ObjectNotFound
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            return AccessDenied
        if isinstance(exc, ResourceModifiedError) or status == 412:
            return ObjectChanged
        if code == "InvalidRange" or status == 416:
            return InvalidRange
        if code in ("Md5Mismatch", "Crc64Mismatch") or ("md5" in str(exc).lower() and status == 400):
            return IntegrityError
        if isinstance(exc, ServiceRequestError | ServiceResponseError) or status >= 500 or status == 429:
            return StoreUnavailable
        if isinstance(exc, HttpResponseError | AzureError):
            return ObjectStoreError
        return None

    def _is_transient(self, exc: BaseException) -> bool:
        # The storage SDK already retries refused connections, throttling and 5xx with long
        # backoffs (15 s+); retrying those again would only multiply the wait. What it leaves to
        # us are responses that broke off midway.
        from azure.core.exceptions import IncompleteReadError, ServiceResponseError

        return isinstance(exc, ServiceResponseError | IncompleteReadError)


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")
