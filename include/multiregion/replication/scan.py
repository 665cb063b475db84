"""Scan a dataset partition at its source into a manifest.

Every object's sha256 is computed while streaming it; the Parquet footer gives its rows and
schema. Objects whose (path, size, ETag) match the previous scan reuse its digest, so a scan of
an unchanged partition only lists the source.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from multiregion.core.datasets import Dataset
from multiregion.core.manifest import Manifest, ManifestEntry, ManifestError, build_manifest
from multiregion.stores.base import ObjectInfo, ObjectStore

SMALL_OBJECT = 8 << 20  # read whole (hash + footer from memory); larger ones stream + ranged footer
READ_CHUNK = 8 << 20  # larger objects are hashed in chunks of this size


class SourceScanError(ManifestError):
    pass


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over ranged reads: lets pyarrow read a Parquet footer remotely."""

    def __init__(self, store: ObjectStore, key: str, size: int) -> None:
        self._store, self._key, self._size, self._pos = store, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[override]
        length = min(len(buffer), self._size - self._pos)
        if length <= 0:
            return 0
        data = self._store.read_range(self._key, self._pos, length)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _is_data_file(relpath: str) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return name.endswith(".parquet") and not name.startswith(("_", "."))


def _inspect(store: ObjectStore, info: ObjectInfo, relpath: str) -> tuple[ManifestEntry, object]:
    """Digest + Parquet metadata of one source object."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    digest = hashlib.sha256()
    try:
        if info.size <= SMALL_OBJECT:
            data = b"".join(store.iter_read(info.key, chunk_size=max(info.size, 1)))  # one chunk: no copy
            digest.update(data)
            meta = pq.read_metadata(pa.BufferReader(data))
        else:
            for chunk in store.iter_read(info.key, chunk_size=READ_CHUNK):
                digest.update(chunk)
            meta = pq.read_metadata(RangeFile(store, info.key, info.size))
    except pa.ArrowInvalid as exc:
        raise SourceScanError(f"{store.url_for(info.key)} is not a readable Parquet file: {exc}") from exc
    entry = ManifestEntry(relpath, info.size, digest.hexdigest(), meta.num_rows, info.etag)
    return entry, meta.schema.to_arrow_schema()


def scan_partition(
    dataset: Dataset,
    partition: str,
    store: ObjectStore,
    previous: Manifest | None,
    *,
    parallel: int = 8,
    now: Callable[[], datetime] | None = None,
) -> Manifest:
    """Build the manifest of ``partition`` as it is now at the source."""
    prefix = dataset.source_prefix(partition)
    listed = [(info, info.key[len(prefix) :]) for info in store.list(prefix)]
    files = [(info, rel) for info, rel in listed if _is_data_file(rel)]
    if not files:
        raise SourceScanError(
            f"dataset {dataset.name!r} partition {partition}: no Parquet files under {store.url_for(prefix)}"
        )
    known = {(e.path, e.size, e.source_etag): e for e in (previous.entries if previous else ())}
    entries: list[ManifestEntry] = []
    to_read: list[tuple[ObjectInfo, str]] = []
    for info, rel in files:
        cached = known.get((rel, info.size, info.etag))
        (entries.append(cached) if cached and info.etag else to_read.append((info, rel)))
    schemas = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for entry, schema in pool.map(lambda item: _inspect(store, *item), to_read):
            entries.append(entry)
            schemas[entry.path] = schema
    if schemas:
        first = min(schemas)
        schema_text, fields = schemas[first].to_string(), [(f.name, str(f.type)) for f in schemas[first]]
        cached_count = len(entries) - len(schemas)
        # Files kept from the previous scan fix the schema; every new file must match it.
        if cached_count and previous is not None and previous.schema != schema_text:
            first, schema_text, fields = (
                f"{cached_count} unchanged file(s)",
                previous.schema,
                list(previous.schema_fields),
            )
        for path, schema in sorted(schemas.items()):
            if schema.to_string() != schema_text:
                raise SourceScanError(
                    f"dataset {dataset.name!r} partition {partition}: {path} has a different schema than {first}"
                )
    else:
        assert previous is not None  # every entry came from it
        schema_text, fields = previous.schema, list(previous.schema_fields)
    manifest = build_manifest(dataset.name, partition, dataset.source.region, entries, schema_text, fields)
    if previous is not None and previous.version == manifest.version:
        return previous  # unchanged: keep its created_at, so lag is measured from the first publication
    if now is not None:
        manifest = build_manifest(
            dataset.name, partition, dataset.source.region, entries, schema_text, fields, created_at=now()
        )
    return manifest
