"""Object stores behind one interface: S3, GCS and Azure Blob through the Airflow provider hooks.

    store = open_store("s3", conn_id="s3_us_west_2", bucket="mr-us-west-2", prefix="models/")
    info = store.write("m/1/model.pkl", chunks, metadata={"run_id": "abc"})
    for chunk in store.iter_read("m/1/model.pkl"):
        ...

Importing this package is cheap (no provider, no cloud SDK): DAG files may import it at top level.
"""

from __future__ import annotations

from typing import Any

from multiregion.stores.base import (
    SHA256_METADATA_KEY,
    ObjectInfo,
    ObjectStore,
)
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

__all__ = [
    "KINDS",
    "SHA256_METADATA_KEY",
    "AccessDenied",
    "BucketNotFound",
    "IntegrityError",
    "InvalidRange",
    "ObjectChanged",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "StoreUnavailable",
    "open_store",
]

KINDS = ("s3", "gcs", "azure_blob")


def open_store(kind: str, *, conn_id: str, bucket: str, prefix: str = "", **options: Any) -> ObjectStore:
    """The store of ``kind`` ("s3", "gcs" or "azure_blob"; a str enum works too) for a bucket/container.

    ``options`` tune transfers: ``part_size`` (bytes per part/block/chunk, default 8 MiB),
    ``max_concurrency`` (parts in flight, default 4), ``page_size`` (listing page, default 1000),
    ``retry_attempts`` (per request, default 3). No I/O happens until the store is used.
    """
    name = str(getattr(kind, "value", kind))
    if name == "s3":
        from multiregion.stores.s3 import S3Store as store_class
    elif name == "gcs":
        from multiregion.stores.gcs import GCSStore as store_class
    elif name == "azure_blob":
        from multiregion.stores.azure_blob import AzureBlobStore as store_class
    else:
        raise ValueError(f"unknown object store kind {kind!r}; expected one of {', '.join(KINDS)}")
    return store_class(conn_id=conn_id, bucket=bucket, prefix=prefix, **options)
