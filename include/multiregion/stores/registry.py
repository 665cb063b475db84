"""Each region's object store, built once per process and connection."""

from __future__ import annotations

import functools
import os

from multiregion.core.topology import Region
from multiregion.stores.base import ObjectStore


def region_store(region: Region) -> ObjectStore:
    """The region's object store, through its provider hook connection.

    One per process and connection: a store holds its SDK client, and building one costs ~0.5 s
    (boto3 loads its service model each time), several times per task otherwise. The key carries
    the connection's env value and the pid, so a changed connection or a forked child gets its own.
    """
    storage = region.storage
    conn_env = os.environ.get(f"AIRFLOW_CONN_{storage.conn_id.upper()}")
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    return _store(storage.kind.value, storage.conn_id, storage.bucket, conn_env, emulator, os.getpid())


@functools.lru_cache(maxsize=16)
def _store(kind: str, conn_id: str, bucket: str, *_identity: object) -> ObjectStore:
    from multiregion.stores import open_store

    return open_store(kind, conn_id=conn_id, bucket=bucket)
