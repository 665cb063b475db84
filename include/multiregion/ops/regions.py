"""Resolve regions named in DAG params against the topology, with clear errors."""

from __future__ import annotations

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
    """The region's object store, through its provider hook connection."""
    from multiregion.stores import open_store

    return open_store(region.storage.kind.value, conn_id=region.storage.conn_id, bucket=region.storage.bucket)
