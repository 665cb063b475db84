"""Where a destination copies a dataset version from: the regions holding it, then the cheapest."""

from __future__ import annotations

import logging

from multiregion.core import replica_layout as layout
from multiregion.core.datasets import Dataset
from multiregion.core.egress import MEASURED_RATES_KEY, PriceTable, Route, choose_route, load_price_table
from multiregion.core.manifest import Manifest
from multiregion.core.topology import Topology
from multiregion.replication.publish import read_pointer
from multiregion.stores.registry import region_store

log = logging.getLogger(__name__)


def holders(topology: Topology, dataset: Dataset, manifest: Manifest, dest: str) -> list[tuple[str, str]]:
    """(region, cloud) of every region that has ``manifest``'s version published: the source
    always, and each other replica whose pointer names that version (``dest`` excluded)."""
    found = [(dataset.source.region, topology.region(dataset.source.region).cloud.value)]
    for other in dataset.replicate_to:
        if other == dest:
            continue
        pointer = read_pointer(region_store(topology.region(other)), dataset.name, manifest.partition)
        if pointer is not None and pointer.version == manifest.version:
            found.append((other, topology.region(other).cloud.value))
    return found


def price_table(topology: Topology) -> PriceTable:
    """The configured egress prices, with the $/GB the last cost analysis measured where it did."""
    import json

    from multiregion.stores.errors import ObjectNotFound

    prices = load_price_table()
    try:
        measured = json.loads(b"".join(region_store(topology.primary).iter_read(MEASURED_RATES_KEY)))
        rates = {str(c): float(v) for c, v in measured["per_gb"].items()}
    except ObjectNotFound:
        return prices  # no cost data yet: config/egress_prices.yaml
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # never let it stop a replication
        log.warning("%s unreadable, using the configured prices: %s", MEASURED_RATES_KEY, exc)
        return prices
    return prices.with_measured(rates)


def choose_source(topology: Topology, dataset: Dataset, manifest: Manifest, dest: str) -> Route:
    """The cheapest region to copy ``manifest``'s version from into ``dest`` (egress price table)."""
    dest_cloud = topology.region(dest).cloud.value
    return choose_route(
        dest,
        dest_cloud,
        holders(topology, dataset, manifest, dest),
        price_table(topology),
        preferred=dataset.source.region,
    )


def source_route(topology: Topology, dataset: Dataset, dest: str) -> Route:
    """The route from the dataset's source itself (the fallback when a replica to copy from is bad)."""
    return choose_route(
        dest,
        topology.region(dest).cloud.value,
        [(dataset.source.region, topology.region(dataset.source.region).cloud.value)],
        price_table(topology),
        preferred=dataset.source.region,
    )


def source_location(dataset: Dataset, route: Route) -> str:
    """How the chosen region lays the version out: under the source prefix, or content-addressed."""
    return layout.LOCATION_SOURCE if route.source_region == dataset.source.region else layout.LOCATION_OBJECTS
