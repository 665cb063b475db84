"""One interface for the global traffic manager, whatever serves DNS: per-region weights.

Weights are keyed by region name. Backends map them to their own representation (Route53
weighted records by SetIdentifier, PowerDNS LUA answers by address, Cloudflare pool origins).
Every write is validated first (0..255, at least one positive), and idempotent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from multiregion.core.topology import Topology
from multiregion.core.traffic_policy import validate_weights


class TrafficBackendError(RuntimeError):
    pass


class TrafficBackend(ABC):
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.traffic = topology.traffic

    @abstractmethod
    def get_weights(self) -> dict[str, int]:
        """Current weight of every region in the topology (0 if it has no share)."""

    @abstractmethod
    def _apply(self, weights: dict[str, int]) -> None: ...

    def serves(self, region: str) -> bool:
        """Does the traffic manager still send ``region`` traffic? (Backends that can observe the
        answers themselves, like DNS, override this to check what clients really get.)"""
        return self.get_weights().get(region, 0) > 0

    def answer(self, source: str | None = None) -> tuple[str | None, float]:
        """One client's DNS answer for the record now: (region, TTL seconds); None if the answer is
        no region's address. Asks the world's nameserver where the backend has one, else the
        system's; ``source``: the client's address (the local world's client locations)."""
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=not hasattr(self.traffic.backend, "nameserver"))
        if hasattr(self.traffic.backend, "nameserver"):
            host, port = self.traffic.backend.nameserver.rsplit(":", 1)
            resolver.nameservers, resolver.port = [host], int(port)
        resolver.cache = None
        answer = resolver.resolve(self.traffic.record, "A", source=source)
        by_address = {r.traffic.address: r.name for r in self.topology.regions}
        return by_address.get(next(iter(answer)).address), float(answer.rrset.ttl)

    def _check_limits(self, weights: dict[str, int]) -> None:
        """Backend-specific limits beyond 0..255, checked before any call (raise ValueError)."""
        return None  # most backends take the whole 0..255

    def set_weights(self, weights: dict[str, int], current: dict[str, int] | None = None) -> bool:
        """Make the record carry exactly ``weights``; False (and no write) if it already does.
        ``current``: the weights the caller just read under the traffic lock (spares a read)."""
        unknown = set(weights) - set(self.topology.region_names)
        if unknown:
            raise ValueError(f"unknown region(s) {sorted(unknown)} in weights")
        full = {name: weights.get(name, 0) for name in self.topology.region_names}  # validated next: no int() rounding
        validate_weights(full)
        self._check_limits(full)
        if (self.get_weights() if current is None else current) == full:
            return False
        self._apply(full)
        return True
