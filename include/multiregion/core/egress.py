"""Egress prices and route choice: copy each replica from the cheapest region that holds it.

Prices are per GB leaving a cloud, by destination cloud (configurable; defaults are the clouds'
published first-tier list prices). Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from multiregion.core.config_files import config_file

GB = 1_000_000_000  # clouds bill egress per decimal GB


class PriceTableError(ValueError):
    pass


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    currency: str = "USD"
    # prices[source_cloud][destination_cloud or "default"] = price per GB
    prices: dict[str, dict[str, float]] = Field(min_length=1)

    def price_per_gb(self, source_cloud: str, dest_cloud: str) -> float:
        try:
            table = self.prices[source_cloud]
        except KeyError:
            raise PriceTableError(f"no egress prices for cloud {source_cloud!r}") from None
        if dest_cloud in table:
            return table[dest_cloud]
        if "default" in table:
            return table["default"]
        raise PriceTableError(f"no egress price from {source_cloud!r} to {dest_cloud!r} and no default")

    def with_measured(self, rates: dict[str, float]) -> PriceTable:
        """Prices to other clouds replaced by the $/GB the clouds' own bills show (the cost
        analyzer measures them from FOCUS egress rows); same-cloud prices stay as configured."""
        prices = {c: dict(t) for c, t in self.prices.items()}
        for cloud, rate in rates.items():
            if cloud in prices and rate > 0:
                same = prices[cloud].get(cloud)
                prices[cloud] = {"default": rate, **({cloud: same} if same is not None else {})}
        return PriceTable(currency=self.currency, prices=prices)

    def cost(self, source_cloud: str, dest_cloud: str, nbytes: int) -> float:
        return self.price_per_gb(source_cloud, dest_cloud) * nbytes / GB


PRICES_ENV = "MR_EGRESS_PRICES"
MEASURED_RATES_KEY = "cost/egress_rates.json"  # in the primary store, written by cost_analysis


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """The egress price table at ``path``, ``$MR_EGRESS_PRICES`` or config/egress_prices.yaml."""
    path = config_file(path, PRICES_ENV, "egress_prices.yaml")
    try:
        return PriceTable.model_validate(yaml.safe_load(Path(path).read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PriceTableError(f"{path}: bad egress price table: {exc}") from exc


@dataclass(frozen=True)
class Route:
    source_region: str
    source_cloud: str
    dest_region: str
    dest_cloud: str
    price_per_gb: float


def choose_route(
    dest_region: str,
    dest_cloud: str,
    holders: Iterable[tuple[str, str]],
    prices: PriceTable,
    preferred: str | None = None,
) -> Route:
    """Cheapest holder (region, cloud) to copy from; ties go to ``preferred`` (the source), then by name."""
    candidates = [(r, c) for r, c in holders if r != dest_region]
    if not candidates:
        raise ValueError(f"no region holds the version to copy to {dest_region}")
    region, cloud = min(candidates, key=lambda rc: (prices.price_per_gb(rc[1], dest_cloud), rc[0] != preferred, rc[0]))
    return Route(region, cloud, dest_region, dest_cloud, prices.price_per_gb(cloud, dest_cloud))


def route_key(route: Route) -> str:
    return f"{route.source_cloud}->{route.dest_cloud}"


def summarize_routes(transfers: Iterable[tuple[Route, int]], prices: PriceTable) -> dict[str, dict[str, float]]:
    """Bytes and cost per (source cloud -> destination cloud) route."""
    out: dict[str, dict[str, float]] = {}
    for route, nbytes in transfers:
        row = out.setdefault(route_key(route), {"bytes": 0, "cost": 0.0})
        row["bytes"] += nbytes
        row["cost"] += prices.cost(route.source_cloud, route.dest_cloud, nbytes)
    return out
