"""Cloudflare Load Balancing: per-region weights as the weights of one pool's origins.

Each region is the pool origin named by its traffic.set_identifier. Cloudflare origin weights
are 0.00-1.00 in steps of 0.01, so a region weight w is written as w/100 and read back as
round(weight * 100): only 0..100 round-trip exactly, and larger weights are refused.
A write PATCHes the whole ``origins`` list (Cloudflare has no per-origin update), copied from
the pool just read with only the weights changed, so every other field and origins outside
the topology survive. ``enabled`` is never touched: weight 0 already means no new traffic.

Nearest region: with ``location_pools``, each region's clients have a pool of their own (the same
origins) whose weights are that location's shares (``core.nearest``), and the load balancer's
geo steering maps the region's ``cloudflare_regions`` to it (set when it differs); the main pool
keeps the controller's weights and serves everyone else (the default pools).
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

import cloudflare

from multiregion.traffic.base import TrafficBackend, TrafficBackendError

log = logging.getLogger(__name__)

MAX_CLOUDFLARE_WEIGHT = 100  # = origin weight 1.00
# Set by Cloudflare, not accepted back in a write.
_READ_ONLY_ORIGIN_FIELDS = frozenset({"disabled_at"})


def _describe(exc: cloudflare.APIError) -> str:
    """Cloudflare's own error codes and messages from the v4 envelope (never the request headers)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    detail = "; ".join(f"[{e.get('code')}] {e.get('message')}" for e in errors) or exc.message
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}: {detail}" if status else detail


class CloudflareBackend(TrafficBackend):
    @cached_property
    def client(self) -> cloudflare.Cloudflare:
        from airflow.sdk import BaseHook

        conn_id = self.traffic.backend.conn_id
        conn = BaseHook.get_connection(conn_id)
        if not conn.password:
            raise TrafficBackendError(f"connection {conn_id!r} has no password (the Cloudflare API token)")
        base_url = None  # the SDK's default, https://api.cloudflare.com/client/v4
        if conn.host:  # a stand-in API (tests); must include the /client/v4 prefix
            base_url = conn.host if "://" in conn.host else f"https://{conn.host}"
        return cloudflare.Cloudflare(api_token=conn.password, base_url=base_url, timeout=30.0)

    def _call(self, what: str, fn: Any, pool_id: str | None = None, **kwargs: Any) -> Any:
        backend = self.traffic.backend
        pool_id = pool_id or backend.pool_id
        try:
            return fn(pool_id, account_id=backend.account_id, **kwargs)
        except cloudflare.APIError as exc:
            raise TrafficBackendError(
                f"Cloudflare {what} of pool {pool_id} (account {backend.account_id}) failed: {_describe(exc)}"
            ) from exc

    def _origins(self, pool_id: str | None = None) -> list[dict[str, Any]]:
        """The pool's origins as the API returned them (API field names, unknown fields kept)."""
        pool = self._call("read", self.client.load_balancers.pools.get, pool_id)
        return [o.to_dict(mode="json") for o in pool.origins or []]

    def _by_region(self, origins: list[dict[str, Any]]) -> dict[str, int]:
        """Region name -> index of its origin in ``origins`` (regions without one are absent)."""
        index: dict[str, int] = {}
        names = {r.traffic.set_identifier: r.name for r in self.topology.regions}
        for i, origin in enumerate(origins):
            region = names.get(origin.get("name"))
            if region is None:
                continue
            if region in index:  # which one would we change? refuse rather than guess
                raise TrafficBackendError(f"Cloudflare pool has several origins named {origin['name']!r}")
            index[region] = i
        return index

    def _check_limits(self, weights: dict[str, int]) -> None:
        for region, weight in weights.items():
            if weight > MAX_CLOUDFLARE_WEIGHT:
                raise ValueError(
                    f"Cloudflare origin weights are 0.00-1.00; region {region} has weight {weight} > "
                    f"{MAX_CLOUDFLARE_WEIGHT}"
                )

    def get_weights(self) -> dict[str, int]:
        origins = self._origins()
        index = self._by_region(origins)
        out = {}
        for region in self.topology.regions:
            origin = origins[index[region.name]] if region.name in index else {}
            if origin.get("enabled") is False:
                log.warning("Cloudflare origin %s is disabled: no traffic whatever its weight", origin.get("name"))
            # Cloudflare's default weight is 1 (= 100) when an origin has none.
            out[region.name] = round(float(origin.get("weight", 1.0)) * 100) if origin else 0
        return out

    def _write_pool(self, pool_id: str, weights: dict[str, float]) -> None:
        """Origin weights (0.00-1.00) of one pool. Read-modify-write: pools have no version to
        condition the PATCH on, so the window between the two calls is kept as short as possible."""
        origins = self._origins(pool_id)
        index = self._by_region(origins)
        missing = [r for r, w in weights.items() if w > 0 and r not in index]
        if missing:
            names = [self.topology.region(r).traffic.set_identifier for r in missing]
            raise TrafficBackendError(
                f"Cloudflare pool {pool_id} has no origin named {names} (regions {missing}); "
                "add them in Cloudflare first"
            )
        new = [{k: v for k, v in o.items() if k not in _READ_ONLY_ORIGIN_FIELDS} for o in origins]
        for region, i in index.items():
            new[i]["weight"] = weights.get(region, 0.0)
        self._call("update", self.client.load_balancers.pools.edit, pool_id, origins=new)

    def _apply(self, weights: dict[str, int]) -> None:
        from multiregion.core.nearest import SCALE, locations

        self._write_pool(self.traffic.backend.pool_id, {r: w / 100 for r, w in weights.items()})
        pools = self.traffic.backend.location_pools
        if not pools:
            return
        for loc in locations(self.topology, weights):
            if loc.region in pools:  # steps of 0.01; a positive share never rounds to 0
                shares = {r: max(0.01, round(s / SCALE, 2)) for r, s in loc.shares.items() if s > 0}
                self._write_pool(pools[loc.region], shares)
        self._steer(pools)

    def _steer(self, pools: dict[str, str]) -> None:
        """The load balancer's geo steering: each region's Cloudflare regions to its clients' pool."""
        lb = self.traffic.backend.load_balancer
        wanted = {code: [pools[r.name]] for r in self.topology.regions if r.name in pools and r.traffic.nearest
                  for code in r.traffic.nearest.cloudflare_regions}  # fmt: skip
        try:
            current = self.client.load_balancers.get(lb.id, zone_id=lb.zone_id)
            if current.steering_policy == "geo" and (current.region_pools or {}) == wanted:
                return
            self.client.load_balancers.edit(lb.id, zone_id=lb.zone_id, steering_policy="geo", region_pools=wanted)
        except cloudflare.APIError as exc:
            why = _describe(exc)
            raise TrafficBackendError(f"Cloudflare load balancer {lb.id} (zone {lb.zone_id}): {why}") from exc
