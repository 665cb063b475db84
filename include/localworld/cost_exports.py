"""The local world's FOCUS exports: each cloud's bill in that cloud's native layout and format.

Generated from a small price book (``BOOK``) so the tests know every total without reading the
files: 5 weeks of days ending the day before ``anchor``. AWS: Parquet + a Data Exports manifest;
GCP: Parquet run folders with ``_SUCCESS``; Azure: gzip CSV run folders with a manifest, written
the way real Azure exports are (empty strings for nulls, tags without braces, ``Usage-based``), an
older complete run that the newest supersedes and a newer run still being delivered. Weekends cost
less (weekly seasonality); one injected anomaly (GCP Vertex AI, ``ANOMALY_DAYS_AGO`` days before
the anchor); spot rows; data-transfer rows that bill the bytes replication moved out of each region
(the route ledger) on top of a base volume; a monthly support fee split over its days.
``restate`` re-delivers AWS's period with one day changed, as AWS does for ~2 weeks.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx

from localworld.settings import WorldSettings
from multiregion.core.cost_config import CostConfig
from multiregion.core.topology import Topology
from multiregion.cost.exports import month_folder
from multiregion.stores.registry import region_store

DAYS = 35  # five weeks: the anomaly day has four same weekdays of history before it
ANOMALY_DAYS_AGO = 5
ANOMALY_EXTRA = Decimal("400.00")
RESTATED_CREDIT = Decimal("-5.00")
GB = Decimal(1_000_000_000)


@dataclass(frozen=True)
class Line:
    service: str
    category: str
    weekday: Decimal  # effective cost per day, Monday-Friday
    weekend: Decimal
    pricing: str = "Standard"
    list_factor: Decimal = Decimal(1)  # ListCost = EffectiveCost x this (spot: list price is higher)
    hourly: bool = False  # 24 rows a day instead of one


# cloud -> (native region, provider, lines, egress price per GB, base egress GB per day)
BOOK: dict[str, tuple[str, str, list[Line], Decimal, Decimal]] = {
    "aws": (
        "us-west-2",
        "AWS",
        [
            Line("Amazon Elastic Compute Cloud", "Compute", Decimal("30.00"), Decimal("12.00"), hourly=True),
            Line("Amazon EC2 Spot", "Compute", Decimal("7.50"), Decimal("7.50"), "Dynamic", Decimal("3.2")),
            Line("Amazon Simple Storage Service", "Storage", Decimal("12.40"), Decimal("12.40")),
        ],
        Decimal("0.09"),
        Decimal("20"),
    ),
    "gcp": (
        "europe-west1",
        "Google Cloud",
        [
            Line("Compute Engine", "Compute", Decimal("20.00"), Decimal("8.00")),
            Line("Vertex AI", "AI and Machine Learning", Decimal("100.00"), Decimal("100.00")),
            Line("Cloud Storage", "Storage", Decimal("6.00"), Decimal("6.00")),
        ],
        Decimal("0.12"),
        Decimal("10"),
    ),
    "azure": (
        "centralindia",
        "Microsoft",
        [
            Line("Virtual Machines", "Compute", Decimal("15.00"), Decimal("6.00")),
            Line("Virtual Machines Spot", "Compute", Decimal("3.50"), Decimal("3.50"), "Dynamic", Decimal("2.0")),
            Line("Storage", "Storage", Decimal("4.00"), Decimal("4.00")),
        ],
        Decimal("0.087"),
        Decimal("5"),
    ),
}
SUPPORT_FEE = Decimal("100.00")  # AWS, per month, one row over the whole month
EGRESS_SERVICE = {"aws": "AWS Data Transfer", "gcp": "Networking", "azure": "Bandwidth"}


def days(anchor: date) -> list[date]:
    return [anchor - timedelta(days=n) for n in range(DAYS, 0, -1)]


def anomaly_day(anchor: date) -> date:
    return anchor - timedelta(days=ANOMALY_DAYS_AGO)


def daily_cost(cloud: str, line: Line, day: date, anchor: date) -> Decimal:
    cost = line.weekend if day.weekday() >= 5 else line.weekday
    if cloud == "gcp" and line.service == "Vertex AI" and day == anomaly_day(anchor):
        cost += ANOMALY_EXTRA
    return cost


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _period(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = datetime(day.year + (day.month == 12), day.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _row(
    cloud: str,
    native: str,
    provider: str,
    service: str,
    category: str,
    start: datetime,
    end: datetime,
    cost: Decimal,
    list_cost: Decimal,
    pricing: str | None,
    frequency: str = "Usage-Based",
    charge="Usage",
    extra: dict | None = None,
    tags: dict | None = None,
) -> dict:
    bp_start, bp_end = _period(start.date())
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": list_cost,
        "ContractedCost": cost,
        "PricingQuantity": Decimal(1),
        "PricingUnit": "Units",
        "ConsumedQuantity": Decimal(1),
        "ConsumedUnit": "Units",
        "BillingAccountId": f"{cloud}-billing-0001",
        "BillingAccountName": f"ml-platform {cloud}",
        "BillingCurrency": "USD",
        "BillingPeriodStart": _ts(bp_start),
        "BillingPeriodEnd": _ts(bp_end),
        "ChargePeriodStart": _ts(start),
        "ChargePeriodEnd": _ts(end),
        "ChargeCategory": charge,
        "ChargeClass": None,
        "ChargeDescription": f"{service} {pricing or ''}".strip(),
        "ChargeFrequency": frequency,
        "InvoiceIssuerName": provider,
        "ProviderName": provider,
        "PublisherName": provider,
        "PricingCategory": pricing,
        "RegionId": native,
        "RegionName": native,
        "ResourceId": f"{cloud}-{service.lower().replace(' ', '-')}",
        "ServiceCategory": category,
        "ServiceName": service,
        "SubAccountId": f"{cloud}-ml-serving",
        "SubAccountName": "ml-serving",
        "Tags": tags if tags is not None else {"team": "ml-platform", "env": "local"},
        **(extra or {}),
    }


def rows_for(cloud: str, day: date, anchor: date, egress_bytes: int) -> list[dict]:
    native, provider, lines, price, base_gb = BOOK[cloud]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for line in lines:
        cost = daily_cost(cloud, line, day, anchor)
        parts = 24 if line.hourly else 1
        step = timedelta(hours=24 // parts)
        for i in range(parts):
            share = cost / parts
            out.append(
                _row(
                    cloud,
                    native,
                    provider,
                    line.service,
                    line.category,
                    start + i * step,
                    start + (i + 1) * step,
                    share,
                    share * line.list_factor,
                    line.pricing,
                )
            )
    gb = base_gb + Decimal(egress_bytes) / GB
    egress = gb * price
    extra = {"ConsumedQuantity": gb, "ConsumedUnit": "GB", "PricingQuantity": gb, "PricingUnit": "GB"}
    if cloud == "aws":
        extra["x_UsageType"] = "USW2-DataTransfer-Out-Bytes"
    elif cloud == "gcp":
        extra["SkuMeter"] = "Network Internet Egress from EMEA"
    else:
        extra["x_SkuMeterSubcategory"] = "Data Transfer Out"
    out.append(
        _row(
            cloud,
            native,
            provider,
            EGRESS_SERVICE[cloud],
            "Networking",
            start,
            start + timedelta(days=1),
            egress,
            egress,
            "Standard",
            extra=extra,
        )
    )
    return out


def support_fee_rows(day_list: list[date]) -> list[dict]:
    months = sorted({(d.year, d.month) for d in day_list})
    out = []
    for y, m in months:
        start, end = _period(date(y, m, 1))
        out.append(
            _row(
                "aws",
                "us-west-2",
                "AWS",
                "AWS Support (Business)",
                "Management and Governance",
                start,
                end,
                SUPPORT_FEE,
                SUPPORT_FEE,
                "Standard",
                frequency="Recurring",
            )
        )
    return out


def _arrow(rows: list[dict]):
    import pyarrow as pa

    names = sorted({k for r in rows for k in r})
    columns = {}
    for name in names:
        values = [r.get(name) for r in rows]
        if any(isinstance(v, Decimal) for v in values):
            columns[name] = pa.array(values, pa.decimal128(38, 12))
        elif any(isinstance(v, dict) for v in values):
            columns[name] = pa.array([json.dumps(v) if v is not None else None for v in values], pa.string())
        else:
            columns[name] = pa.array(values, pa.string())
    return pa.table(columns)


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(_arrow(rows), buf, compression="snappy")
    return buf.getvalue()


def _azure_csv(rows: list[dict]) -> bytes:
    """As Azure writes it: empty strings for nulls, tags without braces, Usage-based."""
    names = sorted({k for r in rows for k in r})
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        values = []
        for name in names:
            v = r.get(name)
            if isinstance(v, dict):
                v = json.dumps(v)[1:-1]
            elif v == "Usage-Based":
                v = "Usage-based"
            values.append("" if v is None else str(v))
        writer.writerow(values)
    return gzip.compress(text.getvalue().encode(), mtime=0)


def _by_period(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["BillingPeriodStart"][:7], []).append(r)
    return out


def _write_aws(config: CostConfig, topology: Topology, rows: list[dict], execution: str) -> None:
    spec = config.clouds["aws"]
    store = region_store(topology.region(spec.region))
    base = f"{spec.prefix}/{spec.export}"
    for period, prows in _by_period(rows).items():
        half = len(prows) // 2
        keys = []
        for n, part in enumerate((prows[:half], prows[half:]), 1):
            key = f"{base}/data/BILLING_PERIOD={period}/{execution}/{spec.export}-{n:05d}.snappy.parquet"
            store.write(key, _parquet(part))
            keys.append(store.url_for(key))
        manifest = {
            "executionId": execution,
            "exportName": spec.export,
            "billingPeriod": {"start": period},
            "dataFiles": keys,
            "exportTime": datetime.now(UTC).isoformat(),
        }
        store.write(
            f"{base}/metadata/BILLING_PERIOD={period}/{spec.export}-Manifest.json", json.dumps(manifest).encode()
        )


def _write_gcp(config: CostConfig, topology: Topology, rows: list[dict], run: str) -> None:
    spec = config.clouds["gcp"]
    store = region_store(topology.region(spec.region))
    for period, prows in _by_period(rows).items():
        folder = f"{spec.prefix}/{spec.export}/BILLING_PERIOD={period}/{run}"
        store.write(f"{folder}/000000000000.parquet", _parquet(prows))
        store.write(f"{folder}/_SUCCESS", b"")


def _azure_folder(spec, period: str) -> str:
    return f"{spec.prefix}/{spec.export}/{month_folder(period)}"


def _write_azure(config: CostConfig, topology: Topology, rows: list[dict], run_time: datetime) -> None:
    spec = config.clouds["azure"]
    store = region_store(topology.region(spec.region))
    for period, prows in _by_period(rows).items():
        folder = _azure_folder(spec, period)
        stale = [dict(r, BilledCost=r["BilledCost"] * 2) for r in prows]  # an older run: superseded
        for when, data_rows, complete in (
            (run_time - timedelta(hours=12), stale, True),
            (run_time, prows, True),
            (run_time + timedelta(hours=1), prows[:3], False),
        ):
            run = f"{when:%Y%m%d%H%M}/{hashlib.sha256(f'{period}{when}'.encode()).hexdigest()[:12]}"
            blob = f"{folder}/{run}/part_0_0001.csv.gz"
            data = _azure_csv(data_rows)
            store.write(blob, data)
            if complete:
                manifest = {
                    "manifestVersion": "2024-04-01",
                    "blobCount": 1,
                    "byteCount": len(data),
                    "dataRowCount": len(data_rows),
                    "runInfo": {"submittedTime": when.isoformat()},
                    "blobs": [{"blobName": blob, "byteCount": len(data), "dataRowCount": len(data_rows)}],
                }
                store.write(f"{folder}/{run}/manifest.json", json.dumps(manifest).encode())


def all_rows(cloud: str, anchor: date, egress: dict[tuple[str, date], int]) -> list[dict]:
    day_list = days(anchor)
    rows = [r for d in day_list for r in rows_for(cloud, d, anchor, egress.get((cloud, d), 0))]
    return rows + (support_fee_rows(day_list) if cloud == "aws" else [])


def write_exports(
    settings: WorldSettings, config: CostConfig, anchor: date, egress: dict[tuple[str, date], int] | None = None
) -> dict[str, int]:
    """Every cloud's export of the 5 weeks before ``anchor``; ``egress``: extra bytes out of each
    cloud per day ({(cloud, day): bytes}, e.g. the route ledger's). Rows written per cloud."""
    egress = egress or {}
    now = datetime.now(UTC).replace(microsecond=0)
    written = {}
    for cloud, writer, run in (
        ("aws", _write_aws, f"exec-{now:%Y%m%dT%H%M%S}"),
        ("gcp", _write_gcp, f"{now:%Y%m%dT%H%M%SZ}"),
        ("azure", _write_azure, now),
    ):
        rows = all_rows(cloud, anchor, egress)
        writer(config, settings.topology, rows, run)
        written[cloud] = len(rows)
    seed_cost_explorer(settings, anchor, egress)
    return written


def restated_day(anchor: date) -> date:
    return anchor - timedelta(days=6)  # settled by then: Cost Explorer is compared on it


def restate(topology: Topology, config: CostConfig, anchor: date, egress: dict | None = None) -> date:
    """AWS re-delivers the period (a new execution, a new manifest) with one day corrected: S3 usage
    was overstated by 5.00 (a ChargeClass=Correction row, as FOCUS 1.2 writes corrections)."""
    day = restated_day(anchor)
    rows = all_rows("aws", anchor, egress or {})
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    correction = _row(
        "aws",
        "us-west-2",
        "AWS",
        "Amazon Simple Storage Service",
        "Storage",
        start,
        start + timedelta(days=1),
        RESTATED_CREDIT,
        RESTATED_CREDIT,
        "Standard",
    )
    rows.append({**correction, "ChargeClass": "Correction"})
    period = f"{day:%Y-%m}"
    execution = f"exec-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    _write_aws(config, topology, [r for r in rows if r["BillingPeriodStart"].startswith(period)], execution)
    return day


def usage_totals(cloud: str, anchor: date, egress: dict[tuple[str, date], int]) -> dict[date, Decimal]:
    """Per day, the usage-based cost (what Cost Explorer's daily UnblendedCost shows for usage)."""
    out: dict[date, Decimal] = {}
    for d in days(anchor):
        out[d] = sum((r["BilledCost"] for r in rows_for(cloud, d, anchor, egress.get((cloud, d), 0))), Decimal(0))
    return out


def seed_cost_explorer(settings: WorldSettings, anchor: date, egress: dict, copies: int = 100) -> None:
    """moto answers GetCostAndUsage from a queue, one result per distinct request: queue the same
    daily totals many times (each analysis window is a distinct request)."""
    totals = usage_totals("aws", anchor, egress)
    result = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                "Total": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}},
                "Groups": [],
                "Estimated": False,
            }
            for d, v in totals.items()
        ]
    }
    url = f"{settings.moto_url}/moto-api/static/ce/cost-and-usage-results"
    httpx.post(url, json={"results": [result] * copies}, timeout=30).raise_for_status()


def ledger_egress(settings: WorldSettings, days: list[date]) -> dict[tuple[str, date], int]:
    """{(cloud, day): bytes} our replication moved out of each cloud (the route ledger): what the
    generated exports bill on top of the base egress, as a cloud bills what really left it."""
    from multiregion.replication import ledger

    topology = settings.topology
    cloud_of = {r.name: r.cloud.value for r in topology.regions}
    out: dict[tuple[str, date], int] = {}
    for entry in ledger.read(region_store(topology.primary), [d.isoformat() for d in days]):
        if entry.get("source_region") in cloud_of and entry.get("bytes_copied"):
            key = (cloud_of[entry["source_region"]], date.fromisoformat(entry["day"]))
            out[key] = out.get(key, 0) + int(entry["bytes_copied"])
    return out
