"""One object-store interface over S3, GCS and Azure Blob.

The public methods (list/head/iter_read/write/copy/delete...) live here once: key handling,
streaming, hashing, integrity checks, retries and error translation. A backend implements only
the small ``_primitive`` methods against its provider hook's client. Constructing a store is
cheap and does no I/O: the hook and client are created on first use.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import mimetypes
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from multiregion.stores.errors import IntegrityError, InvalidRange, ObjectNotFound, ObjectStoreError
from multiregion.stores.metadata import SHA256_METADATA_KEY, normalize_metadata
from multiregion.stores.streams import Digests, HashingTee, MiB, Source, as_chunks, iter_parts

__all__ = ["SHA256_METADATA_KEY", "ObjectInfo", "ObjectStore"]

log = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 4
DEFAULT_READ_CHUNK = MiB
DEFAULT_PAGE_SIZE = 1000
DEFAULT_RETRY_ATTEMPTS = 3
MAX_KEY_BYTES = 1024  # S3 and GCS limit; Azure allows 1024 characters
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object. ``key`` is relative to the store's prefix.

    ``md5`` is the whole-object MD5 (hex) when the store provides one (S3 single-part ETag, GCS
    md5Hash, Azure Content-MD5); ``sha256`` comes from our own metadata (written by ``write``);
    ``metadata`` is the user metadata without that key.
    """

    key: str
    size: int
    etag: str | None
    md5: str | None
    sha256: str | None
    last_modified: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


# URI scheme of each store kind: what ``url_for`` writes and what Asset URIs name.
SCHEMES = {"s3": "s3", "gcs": "gs", "azure_blob": "az"}


class ObjectStore(ABC):
    """A bucket/container (optionally under a key prefix) reached through an Airflow connection."""

    kind: ClassVar[str]
    scheme: ClassVar[str]
    container_word: ClassVar[str] = "bucket"
    min_part_size: ClassVar[int] = 1
    max_part_size: ClassVar[int] = 5 * 1024 * MiB
    max_parts: ClassVar[int] = 10_000

    def __init__(
        self,
        *,
        conn_id: str,
        bucket: str,
        prefix: str = "",
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
    ):
        if not conn_id or not bucket:
            raise ValueError(f"{self.kind} store needs a conn_id and a {self.container_word}")
        if not self.min_part_size <= part_size <= self.max_part_size:
            raise ValueError(f"{self.kind}: part_size {part_size} outside [{self.min_part_size}, {self.max_part_size}]")
        if max_concurrency < 1 or page_size < 1 or retry_attempts < 1:
            raise ValueError("max_concurrency, page_size and retry_attempts must be >= 1")
        self.conn_id = conn_id
        self.bucket = bucket
        self.prefix = _as_prefix(prefix)
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.page_size = page_size
        self.retry_attempts = retry_attempts

    # ----------------------------------------------------------------- description
    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}"

    def url_for(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}{key}"

    def describe(self) -> str:
        where = f", prefix '{self.prefix}'" if self.prefix else ""
        return f"{self.kind} {self.container_word} '{self.bucket}'{where} via conn '{self.conn_id}'"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} conn={self.conn_id!r}>"

    def with_prefix(self, prefix: str) -> Self:
        """The same store rooted at ``prefix`` below this one's, sharing its client once created."""
        clone = copy.copy(self)
        clone.prefix = _as_prefix(self.prefix + prefix)
        return clone

    # ----------------------------------------------------------------- public API
    def list(self, prefix: str = "", *, recursive: bool = True, with_metadata: bool = False) -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (paginated, ``page_size`` per request).

        ``recursive=False`` lists only objects directly under ``prefix`` (delimiter '/').
        ``with_metadata=True`` guarantees ``sha256``/``metadata`` are filled; only S3 pays for it
        (one HEAD per object), GCS and Azure return metadata in listings anyway.
        """
        if prefix.startswith("/"):
            raise ValueError(f"prefix must not start with '/': {prefix!r}")
        with self._errors(prefix, "list"):
            yield from self._list(self.prefix + prefix, recursive=recursive, with_metadata=with_metadata)

    def head(self, key: str) -> ObjectInfo:
        """The object's info; raises ObjectNotFound."""
        with self._errors(key, "head"):
            return self._head(self._name(key))

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFound:
            return False
        return True

    def metadata(self, key: str) -> dict[str, str]:
        return self.head(key).metadata

    def iter_read(
        self,
        key: str,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_READ_CHUNK,
        verify: bool = False,
    ) -> Iterator[bytes]:
        """Stream bytes [start, end) of an object (``end`` exclusive, None = to the end) in chunks
        of at most ``chunk_size`` bytes.

        ``end`` past the object's end is clamped; ``start`` equal to the size gives nothing;
        ``start`` beyond the size raises InvalidRange. Transient failures resume from the last
        byte delivered, pinned to the same object version (etag/generation). ``verify=True`` (whole
        reads only) checks the bytes against the stored sha256 and raises IntegrityError at the end.
        """
        name = self._name(key)
        if start < 0 or (end is not None and end < start) or chunk_size < 1:
            raise ValueError(f"invalid read of {key!r}: start={start} end={end} chunk_size={chunk_size}")
        if verify and (start or end is not None):
            raise ValueError(f"verify=True needs a whole-object read of {key!r}, not a range")
        stream = self._resumable_read(key, name, start, end, chunk_size)
        return self._verified(key, stream) if verify else stream

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer if the object ends first)."""
        if length < 0:
            raise ValueError(f"negative length {length} for {key!r}")
        return b"".join(self.iter_read(key, start=start, end=start + length))

    def write(
        self,
        key: str,
        chunks: Source,
        *,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        size_hint: int | None = None,
        expected_sha256: str | None = None,
    ) -> ObjectInfo:
        """Stream ``chunks`` (bytes, a binary file or an iterable of byte chunks) into ``key``.

        Objects up to ``part_size`` go in one request; larger ones as parts/blocks/chunks with at most
        ``max_concurrency`` parts in memory, and become visible only once complete: a failing source
        or upload leaves no object behind (or the previous version untouched). sha256 and md5 are
        computed while streaming; the sha256 is stored in metadata, MD5s are sent for the server to
        check where it can. ``expected_sha256`` (e.g. the source's, when copying between stores) is
        checked before anything is committed. Returns the stored object's head, verified.
        """
        name = self._name(key)
        user_metadata = normalize_metadata(metadata)
        expected = expected_sha256.lower() if expected_sha256 else None
        if expected is not None and not _SHA256_RE.fullmatch(expected):
            raise ValueError(f"expected_sha256 is not a sha256 hex digest: {expected_sha256!r}")
        # Guess from the extension like most tools do; SeaweedFS would otherwise replace a plain
        # application/octet-stream with its own guess, so the three stores would disagree.
        content_type = content_type or mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        tee = HashingTee(as_chunks(chunks))
        parts = iter_parts(tee, self._part_size_for(size_hint))

        def finish() -> tuple[Digests, dict[str, str]]:
            digests = tee.digests()
            if expected is not None and digests.sha256 != expected:
                raise IntegrityError(
                    self, key, f"streamed data has sha256 {digests.sha256}, expected {expected}; nothing committed"
                )
            return digests, {**user_metadata, SHA256_METADATA_KEY: digests.sha256}

        with self._errors(key, "write"):
            pending = [next(parts)]
            following = next(parts, None)
            if following is None:  # fits in one part: a single request with every checksum known
                digests, final_metadata = finish()
                reported = self._put_small(
                    name, pending.pop(), metadata=final_metadata, content_type=content_type, digests=digests
                )
            else:
                reported = None
                pending.append(following)
                del following
                upfront = {**user_metadata, SHA256_METADATA_KEY: expected} if expected else dict(user_metadata)
                self._put_large(
                    name, _drain(pending, parts), metadata=upfront, content_type=content_type, finish=finish
                )
            return self._verify_written(key, name, tee.digests(), reported)

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Server-side copy within this store (data and metadata). Returns the copy's head."""
        src, dst = self._name(src_key), self._name(dst_key)
        if src == dst:
            raise ValueError(f"copy source and destination are the same key: {src_key!r}")
        with self._errors(src_key, f"copy to {dst_key!r}"):
            self._copy(src, dst)
        return self.head(dst_key)

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error."""
        with self._errors(key, "delete"):
            self._delete(self._name(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; returns how many were deleted."""
        if not prefix:
            raise ValueError(f"refusing to delete everything in {self.describe()}: give a non-empty prefix")
        names = [self.prefix + info.key for info in self.list(prefix)]
        with self._errors(prefix, "delete_prefix"):
            self._delete_many(names)
        return len(names)

    # ----------------------------------------------------------------- backend primitives
    # ``name`` is the full object name in the bucket (store prefix + key).
    @abstractmethod
    def _head(self, name: str) -> ObjectInfo: ...

    @abstractmethod
    def _list(self, name_prefix: str, *, recursive: bool, with_metadata: bool) -> Iterator[ObjectInfo]: ...

    @abstractmethod
    def _open_range(
        self, name: str, start: int, end: int | None, chunk_size: int, version: str | None
    ) -> tuple[str | None, Iterator[bytes]]:
        """Open [start, end) for reading; return (version token, chunks). With ``version`` given,
        fail (ObjectChanged) if the object is no longer that version."""

    @abstractmethod
    def _put_small(
        self, name: str, data: bytes, *, metadata: dict[str, str], content_type: str, digests: Digests
    ) -> ObjectInfo | None:
        """One-request write. May return the object as the service reported it in its response
        (with the service's own MD5 of the bytes it stored), which then stands in for a HEAD."""

    @abstractmethod
    def _put_large(
        self,
        name: str,
        parts: Iterator[bytes],
        *,
        metadata: dict[str, str],
        content_type: str,
        finish: Callable[[], tuple[Digests, dict[str, str]]],
    ) -> None:
        """Upload ``parts`` so nothing is visible until complete. ``metadata`` is what is known up
        front; ``finish()`` (call it after the last part, before committing) checks the digests and
        returns them with the final metadata, which must end up on the object."""

    @abstractmethod
    def _copy(self, src: str, dst: str) -> None: ...

    @abstractmethod
    def _delete(self, name: str) -> None:
        """Delete; a missing object is not an error."""

    def _delete_many(self, names: Iterable[str]) -> None:
        for name in names:
            self._delete(name)

    @abstractmethod
    def _classify(self, exc: BaseException) -> type[ObjectStoreError] | None:
        """The error class for an SDK exception, or None if it is not the SDK's."""

    @abstractmethod
    def _is_transient(self, exc: BaseException) -> bool:
        """Worth retrying (again, after the SDK's own retries): dropped connections, timeouts, 5xx."""

    # ----------------------------------------------------------------- helpers for backends
    def _name(self, key: str) -> str:
        if not isinstance(key, str) or not key or key.startswith("/"):
            raise ValueError(f"object key must be a non-empty string not starting with '/': {key!r}")
        name = self.prefix + key
        if len(name.encode()) > MAX_KEY_BYTES:
            raise ValueError(f"object name is longer than {MAX_KEY_BYTES} bytes: {name[:80]!r}...")
        return name

    def _key(self, name: str) -> str:
        return name[len(self.prefix) :]

    def _info(self, name: str, *, metadata: dict[str, str] | None, **fields: Any) -> ObjectInfo:
        meta = {k.lower(): v for k, v in (metadata or {}).items()}
        sha256 = meta.pop(SHA256_METADATA_KEY, None)
        return ObjectInfo(key=self._key(name), sha256=sha256, metadata=meta, **fields)

    def _call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call an SDK function, retrying transient errors a few times (on top of the SDK's own)."""
        from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt, wait_exponential

        retrying = Retrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception(self._is_transient),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        return retrying(fn, *args, **kwargs)

    @contextmanager
    def _errors(self, key: str | None, action: str) -> Iterator[None]:
        """Translate SDK exceptions into ObjectStoreError subclasses; leave others (e.g. from the
        caller's own data generator) untouched."""
        try:
            yield
        except ObjectStoreError:
            raise
        except Exception as exc:
            error_class = self._classify(exc)
            if error_class is None:
                raise
            raise error_class(self, key, cause=f"{action}: {_short(exc)}") from exc

    def _part_size_for(self, size_hint: int | None) -> int:
        if not size_hint:
            return self.part_size
        # Grow parts (to whole MiB) so a large object stays within the part-count limit.
        needed = -(-size_hint // self.max_parts)
        return max(self.part_size, -(-needed // MiB) * MiB)

    def _resumable_read(self, key: str, name: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        pos, version, failures, failed_at = start, None, 0, -1
        with self._errors(key, "read"):
            while end is None or pos < end:
                try:
                    version, chunks = self._open_range(name, pos, end, chunk_size, version)
                    for chunk in chunks:
                        pos += len(chunk)
                        yield chunk
                    return
                except Exception as exc:
                    if pos == start and version is None and self._classify(exc) is InvalidRange:
                        size = self._head(name).size
                        if start == size:  # an empty range at the very end, like slicing
                            return
                        raise InvalidRange(self, key, f"read from byte {start}: the object has {size} bytes") from exc
                    # Count consecutive failures without progress: a long read may survive many blips.
                    failures, failed_at = (failures + 1 if pos == failed_at else 1), pos
                    if failures >= self.retry_attempts or not self._is_transient(exc):
                        raise
                    log.warning("resuming read of %s at byte %d after: %s", self.url_for(key), pos, _short(exc))
                    time.sleep(min(2.0, 0.1 * 2**failures))

    def _verified(self, key: str, stream: Iterator[bytes]) -> Iterator[bytes]:
        expected = self.head(key).sha256
        if expected is None:
            raise IntegrityError(self, key, f"cannot verify: no {SHA256_METADATA_KEY!r} metadata on the object")
        digest = hashlib.sha256()
        for chunk in stream:
            digest.update(chunk)
            yield chunk
        if digest.hexdigest() != expected:
            raise IntegrityError(self, key, f"read data has sha256 {digest.hexdigest()}, stored {expected}")

    def _verify_written(self, key: str, name: str, digests: Digests, reported: ObjectInfo | None) -> ObjectInfo:
        # A write response carrying the service's MD5 of what it stored proves as much as a HEAD
        # would, one request less per object (small-object copies are bound by requests).
        info = reported if reported is not None and reported.md5 is not None else self._head(name)
        problems = []
        if info.size != digests.size:
            problems.append(f"size {info.size} != {digests.size} bytes sent")
        if info.sha256 != digests.sha256:
            problems.append(f"sha256 {info.sha256} != {digests.sha256} sent")
        if info.md5 is not None and info.md5 != digests.md5_hex:
            problems.append(f"md5 {info.md5} != {digests.md5_hex} sent")
        if problems:
            try:  # don't leave a corrupt object where readers would trust it
                self._delete(name)
            except Exception as exc:  # noqa: BLE001 - the integrity error below is the one to report
                log.error("could not delete corrupt object %s: %s", self.url_for(key), exc)
            raise IntegrityError(self, key, "stored object differs from what was written: " + "; ".join(problems))
        return info


def _as_prefix(prefix: str) -> str:
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _drain(pending: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    # Pop rather than iterate so parts already handed on are not kept alive by the list.
    while pending:
        yield pending.pop(0)
    yield from rest


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
