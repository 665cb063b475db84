"""Copy manifest objects between regions' stores: streamed, objects in parallel, verified.

Each object is read from the source store and written to the destination under its sha256;
the destination write checks the digest *before* committing, so a corrupted copy is never
stored. A digest mismatch is retried (the source may have been read mid-change or the bytes
damaged in transit), then fails naming the object. Memory is bounded by
parallel objects x the store's part size x its part concurrency, whatever the object sizes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from multiregion.core.manifest import ManifestEntry
from multiregion.stores.base import ObjectInfo, ObjectStore
from multiregion.stores.errors import IntegrityError

log = logging.getLogger(__name__)


class CorruptObjectError(RuntimeError):
    """An object kept failing digest verification at the destination."""


@dataclass
class CopyStats:
    objects_copied: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"objects_copied": self.objects_copied, "bytes_copied": self.bytes_copied, "seconds": self.seconds}


def copy_entries(
    entries: list[ManifestEntry],
    source: ObjectStore,
    source_key: Callable[[ManifestEntry], str],
    dest: ObjectStore,
    dest_key: Callable[[ManifestEntry], str],
    *,
    parallel: int = 8,
    attempts: int = 3,
    metadata: dict[str, str] | None = None,
    content_type: str | None = "application/vnd.apache.parquet",
    on_written: Callable[[list[tuple[ManifestEntry, str, ObjectInfo]]], None] | None = None,
) -> CopyStats:
    """Copy ``entries``; stops at the first failure (already-copied objects stay, verified).

    ``on_written`` gets (entry, destination key, stored head) of every object written, failure or
    not, in one call at the end: callers record them (see ``replication.integrity``)."""
    stats = CopyStats()
    written: list[tuple[ManifestEntry, str, ObjectInfo]] = []
    lock = threading.Lock()
    started = time.monotonic()

    @retry(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=5),
        reraise=True,
    )
    def copy_one(entry: ManifestEntry) -> ObjectInfo:
        src = source_key(entry)
        return dest.write(
            dest_key(entry),
            # Read in destination-part-sized chunks: each chunk is then a whole part (or the whole
            # object), passed on without being re-assembled, and there are fewer, larger reads.
            source.iter_read(src, chunk_size=dest.part_size),
            size_hint=entry.size,
            expected_sha256=entry.sha256,
            metadata=metadata,
            content_type=content_type,
        )

    def run(entry: ManifestEntry) -> None:
        try:
            info = copy_one(entry)
        except IntegrityError as exc:
            raise CorruptObjectError(
                f"{source.url_for(source_key(entry))} -> {dest.url_for(dest_key(entry))}: digest mismatch after "
                f"{attempts} attempts (manifest says sha256 {entry.sha256}, {entry.size} bytes): {exc}"
            ) from exc
        with lock:
            written.append((entry, dest_key(entry), info))
            stats.objects_copied += 1
            stats.bytes_copied += entry.size

    # Biggest first, so one large object doesn't finish alone at the end.
    ordered = sorted(entries, key=lambda e: -e.size)
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            futures = [pool.submit(run, e) for e in ordered]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
        for future in done:
            if future.exception() is not None:
                raise future.exception()
    finally:
        stats.seconds = time.monotonic() - started
        if on_written is not None and written:
            on_written(written)
    return stats
