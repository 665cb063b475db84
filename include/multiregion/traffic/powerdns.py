"""PowerDNS Authoritative HTTP API: the global DNS of the local world.

Per-region weights become one LUA record (``pickwrandom``) so that DNS answers really follow
the weights, the way Route53 weighted records do. When regions declare their nearest clients,
the record first matches the client's address (``netmask``: EDNS Client Subnet, else the source
address) and answers by that location's shares (``core.nearest``); other clients get the weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import httpx

from multiregion import http_pool
from multiregion.traffic.base import TrafficBackend


class PowerDnsError(RuntimeError):
    pass


def weighted_lua(weights: dict[str, int]) -> str:
    """LUA record content answering each address in proportion to its weight (0 = never)."""
    live = [(w, addr) for addr, w in sorted(weights.items()) if w > 0]
    if not live:
        raise ValueError("at least one address needs a positive weight")
    table = ",".join(f"{{{w},'{addr}'}}" for w, addr in live)
    return f'A "pickwrandom({{{table}}})"'


def _table(weights: dict[str, int]) -> str:
    return "{" + ",".join(f"{{{w},'{addr}'}}" for addr, w in sorted(weights.items()) if w > 0) + "}"


def nearest_lua(weights: dict[str, int], locations: list[tuple[list[str], dict[str, int]]]) -> str:
    """LUA record content: per location (client subnets, address -> share) its own weighted
    answer, else ``weights``. The weights lead the script, so they read back (``parse_weighted_lua``)."""
    if not any(w > 0 for w in weights.values()):
        raise ValueError("at least one address needs a positive weight")
    if not locations:
        return weighted_lua(weights)
    branches = " elseif ".join(
        f"netmask({{{','.join(repr(str(n)) for n in subnets)}}}) then return pickwrandom({_table(shares)})"
        for subnets, shares in locations
    )
    return f'A ";local w={_table(weights)} if {branches} end return pickwrandom(w)"'


@dataclass
class PowerDnsClient:
    api_url: str
    api_key: str
    server_id: str = "localhost"
    timeout: float = 5.0

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = f"{self.api_url.rstrip('/')}/api/v1/servers/{self.server_id}{path}"
        try:
            headers = {"X-API-Key": self.api_key}
            resp = http_pool.client().request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise PowerDnsError(f"PowerDNS API {method} {url} failed: {exc}") from exc
        if resp.status_code >= 400 and resp.status_code != 404:
            raise PowerDnsError(f"PowerDNS API {method} {url} -> {resp.status_code}: {resp.text[:300]}")
        return resp

    def ensure_zone(self, zone: str) -> None:
        if self._request("GET", f"/zones/{zone}").status_code == 200:
            return
        body = {"name": zone, "kind": "Native", "nameservers": [f"ns1.{zone}"]}
        self._request("POST", "/zones", json=body)

    def set_weighted_record(
        self, zone: str, record: str, ttl: int, weights: dict[str, int], locations: list | None = None
    ) -> None:
        rrset = {
            "name": record,
            "type": "LUA",
            "ttl": ttl,
            "changetype": "REPLACE",
            "records": [{"content": nearest_lua(weights, locations or []), "disabled": False}],
        }
        self._request("PATCH", f"/zones/{zone}", json={"rrsets": [rrset]})

    def get_rrsets(self, zone: str, record: str) -> list[dict]:
        resp = self._request("GET", f"/zones/{zone}")
        if resp.status_code == 404:
            return []
        return [r for r in resp.json().get("rrsets", []) if r["name"] == record]


_LUA_ENTRY = re.compile(r"\{(\d+),'([^']+)'\}")


_LUA_WEIGHTS = re.compile(r"local w=(\{.*?\}\})")


def parse_weighted_lua(content: str) -> dict[str, int]:
    """address -> weight from the content written by ``weighted_lua`` or ``nearest_lua``."""
    if match := _LUA_WEIGHTS.search(content):
        content = match.group(1)
    return {addr: int(weight) for weight, addr in _LUA_ENTRY.findall(content)}


def record_inputs(topology, weights: dict[str, int]) -> tuple[dict[str, int], list[tuple[list[str], dict]]]:
    """Region weights as the record's inputs: address -> weight, and per location of clients
    (its subnets) address -> share (``core.nearest``)."""
    from multiregion.core.nearest import locations

    address = {r.name: r.traffic.address for r in topology.regions}
    near = [
        ([str(n) for n in topology.region(loc.region).traffic.nearest.client_subnets],
         {address[name]: share for name, share in loc.shares.items()})
        for loc in locations(topology, weights)
        if topology.region(loc.region).traffic.nearest.client_subnets
    ]  # fmt: skip
    return {address[name]: w for name, w in weights.items()}, near


class PowerDnsBackend(TrafficBackend):
    """Weights as a PowerDNS LUA record: DNS answers really follow them (the local world's global DNS)."""

    @cached_property
    def client(self) -> PowerDnsClient:
        from airflow.sdk import BaseHook

        backend = self.traffic.backend
        conn = BaseHook.get_connection(backend.conn_id)
        url = f"{conn.schema or 'http'}://{conn.host}:{conn.port}"
        return PowerDnsClient(url, conn.password or "", backend.server_id)

    def get_weights(self) -> dict[str, int]:
        rrsets = self.client.get_rrsets(self.traffic.zone, self.traffic.record)
        by_address = {}
        for rrset in rrsets:
            for record in rrset.get("records", []):
                by_address.update(parse_weighted_lua(record["content"]))
        return {r.name: by_address.get(r.traffic.address, 0) for r in self.topology.regions}

    def _apply(self, weights: dict[str, int]) -> None:
        by_address, near = record_inputs(self.topology, weights)
        self.client.set_weighted_record(self.traffic.zone, self.traffic.record, self.traffic.ttl, by_address, near)

    def resolve(self, queries: int = 50, source: str | None = None) -> set[str]:
        """Region names that DNS answers for the record now (asks the nameserver ``queries`` times,
        from ``source`` if given: a client of that address's location)."""
        import dns.resolver

        host, port = self.traffic.backend.nameserver.rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [host], int(port)
        resolver.cache = None
        by_address = {r.traffic.address: r.name for r in self.topology.regions}
        seen = set()
        for _ in range(queries):
            for answer in resolver.resolve(self.traffic.record, "A", source=source):
                seen.add(by_address.get(answer.address, answer.address))
        return seen

    def serves(self, region: str) -> bool:
        """What clients get: is the region among the DNS answers of clients anywhere? (50 queries
        per location and for clients of no location: a region with a 10 % share is missed with
        probability 0.9**50 < 0.01.)"""
        from multiregion.core.nearest import client_addresses

        sources: list[str | None] = [None, *client_addresses(self.topology)]
        return any(region in self.resolve(source=source) for source in sources)
