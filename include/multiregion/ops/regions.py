"""Resolve regions named in DAG params against the topology, with clear errors."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from multiregion.core.errors import BadInputError
from multiregion.core.topology import Region, Topology, load_topology


class UnknownRegionError(BadInputError):
    pass


def select_regions(names: Iterable[str] | None, topology: Topology | None = None) -> list[Region]:
    """The regions named (all when ``names`` is empty), failing on any unknown name."""
    topo = topology or load_topology()
    wanted = list(names or [])
    if not wanted:
        return list(topo.regions)
    unknown = [n for n in wanted if n not in topo.region_names]
    if unknown:
        raise UnknownRegionError(f"unknown region(s) {unknown}; known regions: {topo.region_names}")
    return [topo.region(n) for n in dict.fromkeys(wanted)]


def region_store(region: Region):
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
def _store(kind: str, conn_id: str, bucket: str, *_identity: object):
    from multiregion.stores import open_store

    return open_store(kind, conn_id=conn_id, bucket=bucket)
