"""The nearest healthy region: what each client location's DNS answers should be (pure).

The controller keeps one weight per region (its safety rules unchanged). For the clients near a
region, those weights become shares along the region's preference order (itself, then its
fallbacks, then every other region): each region takes the fraction of its base weight it is
back at (0 when drained, 10 % during the first restoration step, 100 % when restored) of what
is left, and passes the rest on. So a drained region's own clients go to their next nearest
healthy region, and restoration shifts them back step by step. Clients of no known location get
the global weights, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from multiregion.core.topology import Region, Topology

SCALE = 1000  # shares are integers summing to this (DNS weights must be integers)


@dataclass(frozen=True)
class Location:
    region: str  # the region these clients are nearest to
    shares: dict[str, int]  # region -> share of these clients' answers (sum SCALE)


def preference(region: Region, topology: Topology) -> list[str]:
    """The region, its declared fallbacks, then the remaining regions in topology order."""
    declared = [region.name, *(region.traffic.nearest.fallbacks if region.traffic.nearest else [])]
    return declared + [name for name in topology.region_names if name not in declared]


def in_service(weight: int, base: int) -> float:
    """How much of its base traffic a region takes now (1.0 at or over its base)."""
    if base <= 0:
        return 1.0 if weight > 0 else 0.0
    return min(1.0, max(0.0, weight / base))


def shares(order: list[str], weights: dict[str, int], base: dict[str, int]) -> dict[str, int]:
    """Integer shares (sum SCALE) of one location's clients along ``order``."""
    left, raw = 1.0, {}
    for name in order:
        take = left * in_service(weights.get(name, 0), base.get(name, 0))
        raw[name], left = take, left - take
    total = sum(weights.values())
    if left > 1e-9 and total > 0:  # nothing along the order in service: the global weights
        for name in order:
            raw[name] += left * weights.get(name, 0) / total
    ints = {name: int(value * SCALE) for name, value in raw.items()}
    # largest remainders get the units lost to rounding, so the shares sum to SCALE exactly
    short = SCALE - sum(ints.values())
    for name in sorted(raw, key=lambda n: (raw[n] * SCALE - ints[n], raw[n]), reverse=True)[: max(short, 0)]:
        ints[name] += 1
    return {name: share for name, share in ints.items() if share > 0}


def locations(topology: Topology, weights: dict[str, int]) -> list[Location]:
    """One location per region that declares its nearest clients; base weights: the topology's."""
    base = {r.name: r.traffic.weight for r in topology.regions}
    return [
        Location(r.name, shares(preference(r, topology), weights, base))
        for r in topology.regions
        if r.traffic.nearest is not None
    ]


def client_addresses(topology: Topology) -> list[str]:
    """One client address in each location's first subnet (a client of that location, e.g. the
    source address of a DNS query in the local world)."""
    subnets = [r.traffic.nearest.client_subnets[0] for r in topology.regions
               if r.traffic.nearest and r.traffic.nearest.client_subnets]  # fmt: skip
    return [str(next(iter(n.hosts()), n.network_address)) for n in subnets]
