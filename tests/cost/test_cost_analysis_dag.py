"""cost_analysis in the running Airflow, over the world's generated FOCUS exports (localworld.cost_exports).

One story, in the order an operator meets it: the 5-week backfill publishes one partition per date;
its totals per cloud, region and service equal the price book to the cent; the injected anomaly
(and nothing else) is flagged and alerted;
replication's egress is priced as the ledger says, the report is written, and focus-validator
finds no MUST violation in the published table; then AWS restates a day and a 7-date backfill
republishes that day only, while Cost Explorer (not yet restated) disagrees and that alerts.
"""

from __future__ import annotations

import calendar
import tempfile
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from focus_validator import validate
from localworld import cost_exports as world_exports

from multiregion.core.cost_config import load_cost_config
from multiregion.cost import table
from multiregion.monitoring.alertmanager import active_alerts
from multiregion.ops.cost import ANOMALY, CROSS_CHECK
from multiregion.replication import ledger
from multiregion.stores.registry import region_store

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "cost_analysis"
CENT = Decimal("0.01")


def _run(client, conf: dict) -> str:
    run_id = f"e2e-cost-{uuid.uuid4().hex[:8]}"
    client.trigger(DAG_ID, conf=conf, run_id=run_id)
    run = client.wait(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", client.task_log(DAG_ID, run_id, "report")
    return run_id


def _expected_totals(
    days: list[date], anchor: date, egress: dict, exact: bool = False
) -> dict[tuple[str, str, str], Decimal]:
    """From the price book, not from the files: per (cloud, region, service) over ``days``."""
    region = {"aws": "us-west-2", "gcp": "eu-west-1", "azure": "ap-south-1"}
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for cloud, (_, _, lines, price, base_gb) in world_exports.BOOK.items():
        for d in days:
            for line in lines:
                out[(cloud, region[cloud], line.service)] += world_exports.daily_cost(cloud, line, d, anchor)
            gb = base_gb + Decimal(egress.get((cloud, d), 0)) / world_exports.GB
            out[(cloud, region[cloud], world_exports.EGRESS_SERVICE[cloud])] += gb * price
    for d in days:  # the monthly support fee, spread over its month's days
        out[("aws", "us-west-2", "AWS Support (Business)")] += (
            world_exports.SUPPORT_FEE / calendar.monthrange(d.year, d.month)[1]
        )
    return dict(out) if exact else {k: v.quantize(CENT) for k, v in out.items()}


def test_backfill_totals_anomaly_attribution_report_validator_and_a_restated_day(world, airflow_client):
    topology = world.topology
    config = load_cost_config(topology)
    central = region_store(topology.primary)
    today = datetime.now(UTC).date()
    anchor = today + timedelta(days=1)  # the exports run to today: today's replication is billed
    run_tag = uuid.uuid4().hex[:6]
    ledger.record(central, kind="dataset", name=f"e2e-cost-{run_tag}", partition=today.isoformat(),
                  source_region="us-west-2", dest_region="eu-west-1", nbytes=7_500_000_000,
                  run_id=f"e2e-cost-{run_tag}")  # fmt: skip
    egress = world_exports.ledger_egress(world, [today])  # every copy recorded today (other tests' too)
    world_exports.write_exports(world, config, anchor, egress)
    days = world_exports.days(anchor)
    airflow_client.wait_for_dag(DAG_ID)

    full = _run(airflow_client, {"start": days[0].isoformat(), "end": days[-1].isoformat()})
    published = airflow_client.xcom_value(DAG_ID, full, "publish")
    assert [d["day"] for d in published["days"]] == [d.isoformat() for d in days] and published["failed"] == []
    for d in published["days"]:  # one partition per date, at the version the run reports
        assert table.day_manifest(central, config.table, d["day"]).version == d["version"]
    result = airflow_client.xcom_value(DAG_ID, full, "analyse")

    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in result["by_service"]:
        totals[(row["x_Cloud"], row["x_Region"], row["ServiceName"])] += Decimal(row["effective"])
    assert {k: v.quantize(CENT) for k, v in totals.items()} == _expected_totals(days, anchor, egress)

    weekday, weekend = next(d for d in days if d.weekday() == 2), next(d for d in days if d.weekday() == 6)
    for d in (weekday, weekend):  # and per cloud and region on single days
        per_region: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for (cloud, region, _), v in _expected_totals([d], anchor, egress, exact=True).items():
            per_region[(cloud, region)] += v
        got = {(r["x_Cloud"], r["x_Region"]): Decimal(r["effective"]).quantize(CENT)
               for r in result["by_region"] if r["day"] == d.isoformat()}  # fmt: skip
        assert got == {k: v.quantize(CENT) for k, v in per_region.items()}, d
    anomalies = [(a["cloud"], a["service"], a["day"], a["impact"]) for a in result["anomalies"]]
    assert anomalies == [("gcp", "Vertex AI", world_exports.anomaly_day(anchor).isoformat(), 400.0)]
    fired = active_alerts(topology.monitoring.alertmanager_url, ANOMALY)
    assert any(a["labels"]["day"] == world_exports.anomaly_day(anchor).isoformat() for a in fired)

    ours = [r for r in result["replication_egress"] if r["name"] == f"e2e-cost-{run_tag}"]
    assert [(r["source_region"], r["dest_region"], r["bytes"]) for r in ours] == [
        ("us-west-2", "eu-west-1", 7_500_000_000)
    ]
    assert Decimal(ours[0]["cost"]) == Decimal("7.5") * world_exports.BOOK["aws"][3]  # bytes x the bill's $/GB
    assert result["egress_rates"] == {c: float(b[3]) for c, b in world_exports.BOOK.items()}
    assert result["cross_check"] == []
    spot = {r["cloud"]: Decimal(r["saved"]) for r in result["spot"]["realized"]}
    assert spot == {"aws": Decimal("7.50") * Decimal("2.2") * len(days), "azure": Decimal("3.50") * len(days)}
    report_key = f"{config.reports_prefix}/{days[-1].isoformat()}/index.html"
    page = b"".join(central.iter_read(report_key)).decode()
    assert (
        "Vertex AI" in page
        and "cost_per_region.png" in page
        and central.exists(report_key.replace("index.html", "egress.png"))
    )

    # the FinOps validator on what we published (its own venv; tests/cost/focus_validator.py)
    with tempfile.TemporaryDirectory() as tmp:
        files = table.download_days(central, config.table, [d.isoformat() for d in days], Path(tmp))
        merged = Path(tmp) / "focus-1.2.parquet"
        pq.write_table(pa.concat_tables([pq.read_table(f) for f in files], promote_options="default"), merged)
        report = validate(merged)
    print(f"focus-validator {report.validator_version}: {report.rules_checked} rules checked, "
          f"{len(report.failed_must)} MUST failed, {len(report.failed_other)} other failed")  # fmt: skip
    assert report.rules_checked > 100 and report.failed_must == (), report.failed_must

    # AWS restates a day; a 7-date backfill around it: 7 partitions, the other 6 unchanged (nothing
    # written), the restated one republished. (The nightly window itself: test_cost_plan.py.)
    restated = world_exports.restate(topology, config, anchor, egress)
    week = [d.isoformat() for d in days[-8:-1]]
    rerun = _run(airflow_client, {"start": week[0], "end": week[-1]})
    published = airflow_client.xcom_value(DAG_ID, rerun, "publish")
    assert [d["day"] for d in published["days"]] == week and restated.isoformat() in week
    assert published["changed"] == [restated.isoformat()]
    result = airflow_client.xcom_value(DAG_ID, rerun, "analyse")
    assert [(c["day"], c["difference"]) for c in result["cross_check"]] == [(restated.isoformat(), "-5")]
    fired = active_alerts(topology.monitoring.alertmanager_url, CROSS_CHECK)
    assert any(a["labels"]["day"] == restated.isoformat() for a in fired)
