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
from multiregion.cost.normalize import lit, q

if TYPE_CHECKING:
    import duckdb

GB = Decimal(1_000_000_000)
TAG_KEYS = ["team", "env", "cost_center"]  # the topology's cost tags


def load(con: duckdb.DuckDBPyConnection, paths: Iterable[Path], config: CostConfig) -> None:
    """The table ``costs``: the day files aggregated in one scan to the finest grain any result
    needs (day, cloud, region, service, pricing, charge kind, commitment, egress, tags); every
    query then rolls that small cube up in memory. Tags are parsed after aggregating (few values)."""
    files = [str(p) for p in paths]
    if not files:
        raise ValueError("no published cost data to analyse")
    listed = ", ".join(map(lit, files))
    source = f"read_parquet([{listed}], union_by_name=true)"
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    egress = [
        f"(x_Cloud = {lit(cloud)} AND {q(spec.egress.column)} LIKE {lit(spec.egress.pattern)} "
        f"AND ConsumedUnit = {lit(spec.egress.unit)})"
        for cloud, spec in config.clouds.items()
        if spec.egress.column in present
    ]
    is_egress = f"coalesce({' OR '.join(egress)}, false)" if egress else "false"
    tags = [f"json_extract_string(Tags, {lit('$.' + k)}) AS {q('tag_' + k)}" for k in TAG_KEYS]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cube AS
        SELECT x_ChargeDate, x_Cloud, x_Region, ServiceCategory, ServiceName, PricingCategory, ChargeCategory,
               ChargeFrequency, CommitmentDiscountId IS NULL AS uncommitted, {is_egress} AS egress, Tags,
               sum(EffectiveCost) AS EffectiveCost, sum(BilledCost) AS BilledCost, sum(ListCost) AS ListCost,
               sum(ConsumedQuantity) AS ConsumedQuantity, count(*) AS n
        FROM {source} GROUP BY ALL;
        CREATE OR REPLACE TEMP TABLE costs AS SELECT * EXCLUDE (Tags), {", ".join(tags)} FROM cube;
        DROP TABLE cube"""
    )


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
    return f"x_ChargeDate IN ({', '.join(f'DATE {lit(d)}' for d in days)})"


def cost_by(con, days: list[str], dims: list[str]) -> list[dict[str, Any]]:
    """Effective and billed cost per day and ``dims`` (FOCUS or x_ columns)."""
    cols = ", ".join(q(d) for d in dims)
    return _rows(
        con,
        f"SELECT x_ChargeDate AS day, {cols}, sum(EffectiveCost) AS effective, sum(BilledCost) AS billed, "
        f"sum(n) AS rows FROM costs WHERE {_days(days)} GROUP BY ALL ORDER BY ALL",
    )


def cost_by_tags(con, days: list[str], region_tags: Mapping[str, Mapping[str, str]], keys: list[str]) -> list[dict]:
    """Cost per day and tag: a row's own tag, else its region's cost tag from the topology."""
    parts = []
    for key in keys:
        cases = " ".join(f"WHEN {lit(r)} THEN {lit(t[key])}" for r, t in region_tags.items() if key in t)
        default = f"CASE x_Region {cases} END" if cases else "NULL"
        parts.append(
            f"SELECT x_ChargeDate AS day, {lit(key)} AS key, coalesce({q('tag_' + key)}, {default}, '(untagged)') "
            f"AS value, sum(EffectiveCost) AS effective FROM costs WHERE {_days(days)} GROUP BY ALL"
        )
    return _rows(con, " UNION ALL ".join(parts) + " ORDER BY ALL") if parts else []


def egress(con, days: list[str]) -> list[dict[str, Any]]:
    """Per day and source region: GB out, its cost and the measured $/GB (the export's own rows,
    recognised by each cloud's ``egress`` setting)."""
    rows = _rows(
        con,
        f"SELECT x_ChargeDate AS day, x_Cloud AS cloud, x_Region AS region, sum(ConsumedQuantity) AS gb, "
        f"sum(EffectiveCost) AS cost FROM costs WHERE {_days(days)} AND egress GROUP BY ALL ORDER BY ALL",
    )
    for row in rows:  # in decimals: DuckDB divides decimals as doubles
        gb = Decimal(row["gb"] or 0)
        row["per_gb"] = plain_value((Decimal(row["cost"]) / gb).quantize(Decimal("1e-12"))) if gb else None
    return rows


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
    return {c: float((cost[c] / gb[c]).quantize(Decimal("1e-9"))) for c in cost if gb[c] > 0}


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
        f"AND ChargeCategory = 'Usage' AND uncommitted GROUP BY ALL ORDER BY ALL",
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
            f"AND ChargeCategory = 'Usage' AND coalesce(ChargeFrequency, 'Usage-Based') = 'Usage-Based' "
            f"GROUP BY ALL ORDER BY ALL",
            [cloud],
        ).fetchall()
    }


def analyse(
    con,
    days: list[str],
    history_days: list[str],
    config: CostConfig,
    as_of: date,
    settings,
    region_tags: Mapping[str, Mapping[str, str]],
    region_cloud: Mapping[str, str],
    transfers: list[Transfer],
) -> dict[str, Any]:
    """Everything the report shows that the table alone answers (``costs`` loaded), JSON-simple."""
    from multiregion.core.cost_anomaly import evaluate

    egress_rows = egress(con, days)
    verdicts = evaluate(daily_series(con, history_days), as_of, settings)
    return {
        "days": days,
        "as_of": as_of.isoformat(),
        "by_service": cost_by(con, days, ["x_Cloud", "x_Region", "ServiceCategory", "ServiceName"]),
        "by_region": cost_by(con, days, ["x_Cloud", "x_Region"]),
        "by_tag": cost_by_tags(con, days, region_tags, TAG_KEYS),
        "egress": egress_rows,
        "replication_egress": attribute(transfers, egress_rows),
        "egress_rates": measured_rates(egress_rows, region_cloud),
        "anomalies": [anomaly_json(v.anomaly) for v in verdicts if v.anomaly is not None],
        "judged": sum(1 for v in verdicts if v.expected is not None),
        "spot": spot(con, days, config),
    }


def anomaly_json(anomaly) -> dict[str, Any]:
    cloud, region, service = anomaly.key
    return {
        "cloud": cloud,
        "region": region,
        "service": service,
        "day": anomaly.day.isoformat(),
        "actual": round(anomaly.actual, 2),
        "expected": round(anomaly.expected, 2),
        "impact": round(anomaly.impact, 2),
        "score": round(anomaly.score, 1),
        "direction": str(anomaly.direction),
        "summary": anomaly.describe(),
    }
