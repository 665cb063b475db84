"""Benchmark: the nightly cost analysis over one month of three clouds at 1,000,000 FOCUS rows.

Generates raw exports (Parquet, one per cloud) with DuckDB, normalizes them with the product's
ingest (``cost.normalize``; its time is reported too) and writes the table as it is published: one
Parquet file per cloud and charge day. Then, side by side in one run, each in its own process
(wall time and peak RSS from ``wait4``), ``--repeat`` times interleaved, medians:

- analysis: ``cost.analysis.analyse`` as the DAG's analyse task runs it (cost by service, region
  and tags, egress, anomalies over every series and day, spot) on those files;
- floor: one bare DuckDB aggregation over the same files (cost per day, cloud, region, service).

Goal: analysis <= 1.5x the floor's time, <= 1 GiB peak RSS. Results: bench/results/cost.{json,md}.
Needs no running world.

    .venv/bin/python bench/cost.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MONTH = date(2026, 11, 1)
CLOUDS = {"aws": "us-west-2", "gcp": "europe-west1", "azure": "centralindia"}
SERVICES = 40
FLOOR_SQL = (
    "SELECT x_ChargeDate, x_Cloud, x_Region, ServiceCategory, ServiceName, sum(EffectiveCost), sum(BilledCost), "
    "count(*) FROM read_parquet({files}, union_by_name=true) GROUP BY ALL"
)


def _raw(con, cloud: str, native: str, rows: int, path: Path) -> None:
    """``rows`` hourly usage rows over November: SERVICES services, resources, spot and egress."""
    con.execute(f"""COPY (
      SELECT
        CAST(round(0.01 + (i % 997) / 100.0, 2) AS DECIMAL(18,6)) AS BilledCost,
        CAST(round(0.01 + (i % 997) / 100.0, 2) AS DECIMAL(18,6)) AS EffectiveCost,
        CAST(round(0.02 + (i % 997) / 80.0, 2) AS DECIMAL(18,6)) AS ListCost,
        CAST(round(0.01 + (i % 997) / 100.0, 2) AS DECIMAL(18,6)) AS ContractedCost,
        CAST(1 + i % 7 AS DECIMAL(18,6)) AS PricingQuantity, 'Hours' AS PricingUnit,
        CAST(1 + i % 7 AS DECIMAL(18,6)) AS ConsumedQuantity,
        CASE WHEN i % 40 = 39 THEN 'GB' ELSE 'Hours' END AS ConsumedUnit,
        '{cloud}-acct' AS BillingAccountId, 'ml-platform' AS BillingAccountName, 'USD' AS BillingCurrency,
        TIMESTAMPTZ '2026-11-01 00:00:00+00' AS BillingPeriodStart,
        TIMESTAMPTZ '2026-12-01 00:00:00+00' AS BillingPeriodEnd,
        TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_hours(CAST(i % 720 AS BIGINT)) AS ChargePeriodStart,
        TIMESTAMPTZ '2026-11-01 01:00:00+00' + to_hours(CAST(i % 720 AS BIGINT)) AS ChargePeriodEnd,
        'Usage' AS ChargeCategory, NULL AS ChargeClass, 'usage ' || (i % {SERVICES}) AS ChargeDescription,
        'Usage-Based' AS ChargeFrequency, '{cloud}' AS InvoiceIssuerName, '{cloud}' AS ProviderName,
        '{cloud}' AS PublisherName,
        CASE WHEN i % 10 = 0 THEN 'Dynamic' ELSE 'Standard' END AS PricingCategory,
        '{native}' AS RegionId, '{native}' AS RegionName, 'res-' || (i % 5000) AS ResourceId,
        CASE WHEN i % 40 = 39 THEN 'Networking' WHEN i % 3 = 0 THEN 'Storage' ELSE 'Compute' END AS ServiceCategory,
        'service-' || (i % {SERVICES}) AS ServiceName,
        CASE WHEN i % 40 = 39 THEN 'USW2-DataTransfer-Out-Bytes' ELSE 'BoxUsage' END AS x_UsageType,
        CASE WHEN i % 40 = 39 THEN 'Network Internet Egress' ELSE 'Core' END AS SkuMeter,
        CASE WHEN i % 40 = 39 THEN 'Data Transfer Out' ELSE 'Compute' END AS x_SkuMeterSubcategory,
        '{{"team": "t' || (i % 5) || '", "env": "prod"}}' AS Tags
      FROM range({rows}) t(i)
    ) TO '{path}' (FORMAT parquet)""")


def prepare(rows: int, into: Path) -> dict:
    sys.path.insert(0, str(ROOT / "include"))
    from multiregion.cost import normalize, table

    con = normalize.connect("2GB")
    per = rows // len(CLOUDS)
    timings = {}
    files = []
    for cloud, native in CLOUDS.items():
        raw = into / f"raw-{cloud}.parquet"
        _raw(con, cloud, native, per, raw)
        started = time.perf_counter()
        normalize.normalize_file(con, normalize.FileRef(raw, raw.name), cloud, {native: f"r-{cloud}"}, "n")
        timings[cloud] = time.perf_counter() - started
        for n in range(30):
            day = MONTH + timedelta(days=n)
            part = con.sql(f"SELECT * FROM n WHERE x_ChargeDate = DATE '{day}' ORDER BY ALL").to_arrow_table()
            path = into / f"{day}__{cloud}.parquet"
            path.write_bytes(table.to_parquet(part))
            files.append(str(path))
        con.execute("DROP TABLE n")
    return {"files": files, "normalize_s": timings}


def measure(kind: str, files: list[str]) -> None:
    """One measured process: ``analysis`` or ``floor`` over ``files``. Prints the seconds of the work
    (after imports and config: a task process has those already) and of the whole process."""
    started = time.perf_counter()
    import duckdb

    if kind == "floor":
        con = duckdb.connect()
        listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
        ready = time.perf_counter()
        con.execute(FLOOR_SQL.format(files=listed)).fetchall()
    else:
        sys.path.insert(0, str(ROOT / "include"))
        from multiregion.core.cost_anomaly import AnomalySettings
        from multiregion.core.cost_config import load_cost_config
        from multiregion.core.topology import load_topology
        from multiregion.cost import analysis, normalize

        config = load_cost_config(load_topology())
        days = [(MONTH + timedelta(days=n)).isoformat() for n in range(30)]
        ready = time.perf_counter()
        con = normalize.connect()
        analysis.load(con, [Path(f) for f in files], config)
        result = analysis.analyse(con, days, days, config, MONTH + timedelta(days=30), AnomalySettings(window_days=30),
                                  {}, {}, [])  # fmt: skip
        assert result["by_service"], "no rows analysed"
    done = time.perf_counter()
    print(json.dumps({"seconds": done - ready, "process_seconds": done - started}))


def _child(kind: str, listing: Path) -> dict:
    """Run one measurement under GNU time (its %M is the child's own peak RSS, not a fork of ours)."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss_kib=%M", sys.executable, __file__, "--measure", kind, "--files", str(listing)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed ({out.returncode}): {out.stderr[-2000:]}")
    rss = int(out.stderr.strip().splitlines()[-1].split("=")[1])
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "peak_rss_mib": rss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", choices=["analysis", "floor"])
    parser.add_argument("--files", type=Path)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, json.loads(args.files.read_text()))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        prepared = prepare(args.rows, Path(tmp))
        listing = Path(tmp) / "files.json"
        listing.write_text(json.dumps(prepared["files"]))
        runs = {"analysis": [], "floor": []}
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(_child(kind, listing))
        size = sum(Path(f).stat().st_size for f in prepared["files"])
    metrics = ("seconds", "process_seconds", "peak_rss_mib")
    med = {k: {m: statistics.median(r[m] for r in v) for m in metrics} for k, v in runs.items()}
    ratio = med["analysis"]["seconds"] / med["floor"]["seconds"]
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "files": len(prepared["files"]),
        "parquet_mib": round(size / 2**20, 1),
        "normalize_s": {k: round(v, 2) for k, v in prepared["normalize_s"].items()},
        "runs": runs,
        "median": med,
        "time_ratio": round(ratio, 2),
        "goals": {"time_ratio <= 1.5": ratio <= 1.5, "peak_rss <= 1024 MiB": med["analysis"]["peak_rss_mib"] <= 1024},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cost.json").write_text(json.dumps(result, indent=1))
    a, f = med["analysis"], med["floor"]
    md = [
        "# Cost analysis benchmark",
        "",
        f"{args.rows:,} FOCUS rows (one month, three clouds, {SERVICES} services each), {len(prepared['files'])} "
        f"day files, {result['parquet_mib']} MiB of Parquet; medians of {args.repeat}, each in its own process.",
        "",
        "| | work (s) | whole process (s) | peak RSS (MiB) |",
        "|---|---|---|---|",
        f"| nightly analysis (`cost.analysis.load` + `analyse`) | {a['seconds']:.3f} | {a['process_seconds']:.2f} | "
        f"{a['peak_rss_mib']:.0f} |",
        f"| floor: one bare DuckDB aggregation | {f['seconds']:.3f} | {f['process_seconds']:.2f} | "
        f"{f['peak_rss_mib']:.0f} |",
        f"| ratio | {ratio:.2f}x (goal <= 1.5x) | {a['process_seconds'] / f['process_seconds']:.2f}x | |",
        "",
        "Work: from data to result, after imports and config (a task process has those loaded; the "
        "analysis' imports and config cost about 0.25 s once per task). Whole process: interpreter start to end.",
        "",
        f"Ingest (normalize, per cloud of {args.rows // 3:,} rows): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in result["normalize_s"].items()),
        "",
        f"Measured {result['measured_at']} by `bench/cost.py`.",
    ]
    (RESULTS / "cost.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
