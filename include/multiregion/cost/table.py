"""The FOCUS table in the central (primary) store: one partition per charge date, one Parquet file
per cloud in it, published with the dataset replicas' protocol (replica_layout, replication.publish).

Files are content-addressed (``datasets/<table>/objects/<sha256>``) and a day's version is the digest
of its (cloud file, sha256) pairs: an unchanged day has the same version and writes nothing; a
restated day becomes a new version; the pointer is written last, so a reader never sees half a day.
A cloud that failed this run keeps its file from the day's previous version (the day is partial).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from multiregion.core import replica_layout as layout
from multiregion.core.manifest import Manifest, ManifestEntry, build_manifest
from multiregion.replication import publish as pub
from multiregion.stores.base import ObjectStore

if TYPE_CHECKING:
    import pyarrow as pa


class CostTableCorrupt(RuntimeError):
    pass


def file_name(cloud: str) -> str:
    return f"{cloud}.parquet"


def to_parquet(table: pa.Table) -> bytes:
    """Deterministic bytes: the same rows in the same order always give the same file."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue()


def day_rows(rows: pa.Table, day: str) -> pa.Table | None:
    """One charge day's rows with a stable column set: the FOCUS columns in spec order, then the
    provider columns that have a value that day, by name, then ours. So the same rows give the
    same file whatever else a run read (another period, a column new in another month)."""
    import pyarrow.compute as pc

    from multiregion.core import focus

    part = rows.filter(pc.equal(rows[focus.X_CHARGE_DATE], date.fromisoformat(day)))
    if part.num_rows == 0:
        return None
    provider = sorted(
        n for n in part.column_names
        if n not in focus.BY_NAME and n not in focus.OURS and part[n].null_count < part.num_rows
    )  # fmt: skip
    return part.select([c.name for c in focus.COLUMNS] + provider + list(focus.OURS))


@dataclass(frozen=True)
class DayResult:
    day: str
    version: str
    changed: bool  # a new version was published
    clouds: tuple[str, ...]  # clouds whose data this run wrote
    kept: tuple[str, ...]  # clouds carried over from the previous version (partial day)
    rows: int


def stage(store: ObjectStore, table_name: str, data: bytes) -> str:
    """Store one day file under its digest (invisible until a manifest names it); the digest."""
    digest = hashlib.sha256(data).hexdigest()
    key = layout.object_key(table_name, digest)
    if not store.exists(key):
        store.write(key, data, content_type="application/vnd.apache.parquet")
    return digest


def publish_day(
    store: ObjectStore,
    table_name: str,
    day: str,
    files: dict[str, tuple[str, int, int]],
    carry_over: set[str],
    source_region: str,
) -> DayResult:
    """Publish ``day`` with ``files`` ({cloud: (sha256, size, rows)} of staged files) and, for the
    clouds in ``carry_over``, their file of the day's previous version. Manifest first, pointer last."""
    previous = pub.published_manifest(store, table_name, day)
    entries: dict[str, ManifestEntry] = {}
    kept = []
    if previous is not None:
        for entry in previous.entries:
            cloud = entry.path.removesuffix(".parquet")
            if cloud in carry_over:
                entries[entry.path] = entry
                kept.append(cloud)
    for cloud, (digest, size, rows) in files.items():
        entries[file_name(cloud)] = ManifestEntry(file_name(cloud), size, digest, rows)
    if not entries:
        return DayResult(day, "", False, (), (), 0)
    manifest = build_manifest(table_name, day, source_region, list(entries.values()), "focus-1.2", [])
    changed = previous is None or previous.version != manifest.version
    if changed:
        pub.publish(store, manifest, pub.LOCATION_OBJECTS)
    return DayResult(day, manifest.version, changed, tuple(sorted(files)), tuple(sorted(kept)), manifest.rows)


def read_staged(store: ObjectStore, table_name: str, digests: list[str]) -> pa.Table:
    """Staged day files as one table (columns matched by name), each checked against its digest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for digest in digests:
        key = layout.object_key(table_name, digest)
        data = b"".join(store.iter_read(key))
        if hashlib.sha256(data).hexdigest() != digest:
            raise CostTableCorrupt(f"{store.url_for(key)} does not match its digest")
        tables.append(pq.read_table(pa.BufferReader(data)))
    return pa.concat_tables(tables, promote_options="default")


def published_days(store: ObjectStore, table_name: str) -> dict[str, str]:
    """{day: version} of every published day."""
    return pub.published_versions(store, table_name)


def day_manifest(store: ObjectStore, table_name: str, day: str) -> Manifest | None:
    return pub.published_manifest(store, table_name, day)


def download_days(store: ObjectStore, table_name: str, days: list[str], into: Path) -> list[Path]:
    """The published files of ``days`` as local files (each verified against its manifest's sha256)."""
    paths = []
    for day in days:
        manifest = pub.published_manifest(store, table_name, day)
        if manifest is None:
            continue
        for entry in manifest.entries:
            key = layout.object_key(table_name, entry.sha256)
            data = b"".join(store.iter_read(key))
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                raise CostTableCorrupt(f"{store.url_for(key)} does not match {table_name} {day} ({entry.path})")
            path = into / f"{day}__{entry.path}"
            path.write_bytes(data)
            paths.append(path)
    return paths
