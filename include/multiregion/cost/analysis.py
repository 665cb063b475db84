"""The nightly analysis over the published FOCUS table, in DuckDB (reads the day files in place).

Every result is JSON-simple (decimals as strings, exact): costs per day by cloud, region, service
category and service, and by cost tags; egress per route and its measured $/GB; replication's share
of it, per dataset or model, from the route ledger; daily series for the anomaly method; spot
savings and opportunities; the usage totals Cost Explorer cross-checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multiregion.core.cost_config import CostConfig
from multiregion.cost.normalize import _lit, q

if TYPE_CHECKING:
    import duckdb

GB = Decimal(1_000_000_000)


def load(con: duckdb.DuckDBPyConnection, paths: Iterable[Path]) -> set[str]:
    """The view ``costs`` over the day files; its column names."""
    files = [str(p) for p in paths]
    if not files:
        raise ValueError("no published cost data to analyse")
    listed = ", ".join(map(_lit, files))
    con.execute(f"CREATE OR REPLACE VIEW costs AS SELECT * FROM read_parquet([{listed}], union_by_name=true)")
    return {r[0] for r in con.execute("DESCRIBE costs").fetchall()}


def _rows(con, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [{n: plain_value(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def plain_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # exact, never in exponent form
    if isinstance(value, date):
        return value.isoformat()
    return value


def _days(days: list[str]) -> str:
    return f"x_ChargeDate IN ({', '.join(f'DATE {_lit(d)}' for d in days)})"


def cost_by(con, days: list[str], dims: list[str]) -> list[dict[str, Any]]:
    """Effective and billed cost per day and ``dims`` (FOCUS or x_ columns)."""
    cols = ", ".join(q(d) for d in dims)
    return _rows(
        con,
        f"SELECT x_ChargeDate AS day, {cols}, sum(EffectiveCost) AS effective, sum(BilledCost) AS billed, "
        f"count(*) AS rows FROM costs WHERE {_days(days)} GROUP BY ALL ORDER BY ALL",
    )


def cost_by_tags(con, days: list[str], region_tags: Mapping[str, Mapping[str, str]], keys: list[str]) -> list[dict]:
    """Cost per day and tag: a row's own tag, else its region's cost tag from the topology."""
    pairs = [(r, k, v) for r, tags in region_tags.items() for k, v in tags.items() if k in keys]
    defaults = " UNION ALL ".join(
        f"SELECT {_lit(r)} AS region, {_lit(k)} AS key, {_lit(v)} AS value" for r, k, v in pairs
    )
    keys_sql = " UNION ALL ".join(f"SELECT {_lit(k)} AS key" for k in keys)
    return _rows(
        con,
        f"""WITH defaults AS ({defaults or "SELECT NULL AS region, NULL AS key, NULL AS value LIMIT 0"}),
        keys AS ({keys_sql})
        SELECT c.x_ChargeDate AS day, k.key, coalesce(json_extract_string(c.Tags, '$.' || k.key), d.value, '(untagged)')
               AS value, sum(c.EffectiveCost) AS effective
        FROM costs c CROSS JOIN keys k LEFT JOIN defaults d ON d.region = c.x_Region AND d.key = k.key
        WHERE {_days(days)} GROUP BY ALL ORDER BY ALL""",
    )


def egress(con, days: list[str], config: CostConfig, columns: set[str]) -> list[dict[str, Any]]:
    """Per day and source region: GB out, its cost and the measured $/GB (the export's own rows)."""
    parts = []
    for cloud, spec in config.clouds.items():
        if spec.egress.column not in columns:
            continue
        parts.append(
            f"(x_Cloud = {_lit(cloud)} AND {q(spec.egress.column)} LIKE {_lit(spec.egress.pattern)} "
            f"AND ConsumedUnit = {_lit(spec.egress.unit)})"
        )
    if not parts:
        return []
    return _rows(
        con,
        f"SELECT x_ChargeDate AS day, x_Cloud AS cloud, x_Region AS region, sum(ConsumedQuantity) AS gb, "
        f"sum(EffectiveCost) AS cost, sum(EffectiveCost) / nullif(sum(ConsumedQuantity), 0) AS per_gb "
        f"FROM costs WHERE {_days(days)} AND ({' OR '.join(parts)}) GROUP BY ALL ORDER BY ALL",
    )


@dataclass(frozen=True)
class Transfer:
    day: str
    kind: str  # dataset | model
    name: str
    source_region: str
    dest_region: str
    bytes: int


def attribute(transfers: Iterable[Transfer], egress_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replication's egress cost: each transfer's bytes x the $/GB its source region's rows show that day."""
    rate = {(r["day"], r["region"]): Decimal(r["per_gb"]) for r in egress_rows if r["per_gb"] is not None}
    out: dict[tuple, dict[str, Any]] = {}
    for t in transfers:
        per_gb = rate.get((t.day, t.source_region))
        key = (t.day, t.kind, t.name, t.source_region, t.dest_region)
        row = out.setdefault(
            key,
            {
                "day": t.day,
                "kind": t.kind,
                "name": t.name,
                "source_region": t.source_region,
                "dest_region": t.dest_region,
                "bytes": 0,
                "cost": None,
            },
        )
        row["bytes"] += t.bytes
        if per_gb is not None:
            row["cost"] = str((Decimal(row["bytes"]) / GB * per_gb).quantize(Decimal("1e-12")).normalize())
    return [out[k] for k in sorted(out)]


def measured_rates(egress_rows: list[dict[str, Any]], region_cloud: Mapping[str, str]) -> dict[str, float]:
    """$/GB leaving each cloud over the window (cost / GB), for the replication route choice."""
    cost: dict[str, Decimal] = {}
    gb: dict[str, Decimal] = {}
    for r in egress_rows:
        cloud = region_cloud.get(r["region"]) or r["cloud"]
        cost[cloud] = cost.get(cloud, Decimal(0)) + Decimal(r["cost"])
        gb[cloud] = gb.get(cloud, Decimal(0)) + Decimal(r["gb"])
    return {c: float(cost[c] / gb[c]) for c in cost if gb[c] > 0}


def daily_series(con, days: list[str]) -> dict[tuple[str, str, str], dict[date, float]]:
    """EffectiveCost per (cloud, region, service) and day: the anomaly method's input."""
    series: dict[tuple[str, str, str], dict[date, float]] = {}
    for cloud, region, service, day, cost in con.execute(
        f"SELECT x_Cloud, coalesce(x_Region, '-'), ServiceName, x_ChargeDate, sum(EffectiveCost) FROM costs "
        f"WHERE {_days(days)} GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        series.setdefault((cloud, region, service), {})[day] = float(cost)
    return series


def spot(con, days: list[str], config: CostConfig) -> dict[str, list[dict[str, Any]]]:
    """Realized savings on Dynamic-priced compute; opportunities on Standard compute without commitments."""
    realized = _rows(
        con,
        f"SELECT x_Cloud AS cloud, x_Region AS region, sum(ListCost - EffectiveCost) AS saved, "
        f"sum(EffectiveCost) AS effective FROM costs WHERE {_days(days)} AND PricingCategory = 'Dynamic' "
        f"AND ServiceCategory = 'Compute' GROUP BY ALL ORDER BY ALL",
    )
    candidates = _rows(
        con,
        f"SELECT x_Cloud AS cloud, x_Region AS region, ServiceName AS service, sum(EffectiveCost) AS effective "
        f"FROM costs WHERE {_days(days)} AND PricingCategory = 'Standard' AND ServiceCategory = 'Compute' "
        f"AND ChargeCategory = 'Usage' AND CommitmentDiscountId IS NULL GROUP BY ALL ORDER BY ALL",
    )
    for row in candidates:
        spec = config.clouds.get(row["cloud"])
        discount = Decimal(str(spec.spot.discount)) if spec else Decimal(0)
        row["potential_saving"] = str((Decimal(row["effective"]) * discount).quantize(Decimal("0.01")))
        row["discount"] = float(discount)
        row["interruption"] = spec.spot.interruption if spec else "unknown"
    return {"realized": realized, "opportunities": candidates}


def usage_totals(con, days: list[str], cloud: str) -> dict[str, Decimal]:
    """Per day, the cloud's usage-based BilledCost (what Cost Explorer's daily usage totals show;
    recurring fees are excluded: Cost Explorer books them on one day, FOCUS spreads them)."""
    return {
        d.isoformat(): v
        for d, v in con.execute(
            f"SELECT x_ChargeDate, sum(BilledCost) FROM costs WHERE {_days(days)} AND x_Cloud = ? "
            f"AND ChargeCategory = 'Usage' AND ChargeFrequency = 'Usage-Based' GROUP BY ALL ORDER BY ALL",
            [cloud],
        ).fetchall()
    }
