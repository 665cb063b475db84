"""The reader API: open a dataset as published in a region.

Only complete, validated versions are visible: the reader follows the region's pointer to an
immutable manifest and reads exactly the objects it names, verifying each object's sha256.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from multiregion.core import replica_layout as layout
from multiregion.core.datasets import Dataset
from multiregion.core.manifest import ALL_PARTITION, Manifest
from multiregion.replication.publish import Pointer, read_manifest, read_pointer
from multiregion.stores.base import ObjectStore
from multiregion.stores.errors import ObjectNotFound

if TYPE_CHECKING:
    import pyarrow as pa


class NotPublishedError(LookupError):
    pass


class ReplicaCorruptError(RuntimeError):
    pass


def published(store: ObjectStore, dataset: Dataset, partition: str = ALL_PARTITION) -> tuple[Pointer, Manifest]:
    pointer = read_pointer(store, dataset.name, partition)
    if pointer is None:
        raise NotPublishedError(f"dataset {dataset.name!r} partition {partition} is not published in {store.url}")
    return pointer, read_manifest(store, pointer.manifest)


def read_table(
    store: ObjectStore, dataset: Dataset, partition: str = ALL_PARTITION, columns: list[str] | None = None
) -> pa.Table:
    """The published version of ``partition`` as one Arrow table (files in manifest order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pointer, manifest = published(store, dataset, partition)
    tables = []
    for entry in manifest.entries:
        key = layout.entry_key(dataset, manifest.partition, pointer.location, entry)
        try:
            data = b"".join(store.iter_read(key))
        except ObjectNotFound as exc:
            missing = f"{store.url_for(key)} of manifest {manifest.version} is missing ({entry.path})"
            raise ReplicaCorruptError(missing) from exc
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ReplicaCorruptError(f"{store.url_for(key)} does not match manifest {manifest.version} ({entry.path})")
        tables.append(pq.read_table(pa.BufferReader(data), columns=columns))
    return pa.concat_tables(tables)


def open_dataset(name: str, region: str, partition: str | None = None, columns: list[str] | None = None) -> pa.Table:
    """Open dataset ``name`` as published in ``region`` (through the region's store connection)."""
    from multiregion.core.datasets import load_catalog
    from multiregion.core.topology import load_topology, select_regions
    from multiregion.stores.registry import region_store

    topology = load_topology()
    dataset = load_catalog(topology).get(name)
    (target,) = select_regions([region], topology)
    return read_table(region_store(target), dataset, dataset.partition_for(partition), columns)
