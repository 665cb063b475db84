"""FOCUS normalization in DuckDB: real-world quirks, charge-day splits, and clear errors on bad input."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from multiregion.core import focus
from multiregion.cost.exports import CostExportInvalid
from multiregion.cost.normalize import FileRef, connect, normalize_file

# The FinOps Foundation's anonymized public FOCUS 1.0 sample (CC BY 4.0: tests/data/focus-sample-1.0/LICENSE.md)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "focus-sample-1.0" / "focus_sample.csv"
BASE = {
    "BilledCost": "10.00",
    "EffectiveCost": "9.00",
    "ListCost": "12.00",
    "ContractedCost": "10.00",
    "PricingQuantity": "1",
    "PricingUnit": "Hours",
    "BillingAccountId": "acct-1",
    "BillingAccountName": "ml",
    "BillingCurrency": "USD",
    "BillingPeriodStart": "2026-11-01T00:00:00Z",
    "BillingPeriodEnd": "2026-12-01T00:00:00Z",
    "ChargePeriodStart": "2026-11-10 00:00:00",
    "ChargePeriodEnd": "2026-11-11 00:00:00",
    "ChargeCategory": "Usage",
    "ChargeClass": "NULL",
    "ChargeDescription": "vm hours",
    "InvoiceIssuerName": "AWS",
    "ProviderName": "AWS",
    "PublisherName": "AWS",
    "ServiceCategory": "Compute",
    "ServiceName": "Amazon EC2",
    "RegionId": "us-west-2",
}


def _csv(path: Path, rows: list[dict], gz: bool = False) -> Path:
    names = list(dict.fromkeys(k for r in rows for k in r))
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="") as fh:
        writer = csv.DictWriter(fh, names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _norm(path: Path, region_ids=None):
    con = connect()
    normalize_file(
        con, FileRef(path, f"s3://exports/{path.name}"), "aws", region_ids or {"us-west-2": "us-west-2"}, "t"
    )
    return con


def test_the_public_sample_ingests_with_its_row_count_and_billed_total():
    with SAMPLE.open(newline="") as fh:  # independent: Python's csv and Decimal
        rows = list(csv.DictReader(fh))
    expected = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    con = _norm(SAMPLE)
    count, billed, nulls = con.execute(
        "SELECT count(*), sum(BilledCost), count(*) FILTER (WHERE ChargeClass IS NOT NULL) FROM t"
    ).fetchone()
    assert (count, billed, nulls) == (len(rows), expected, 0)  # 'NULL' is a real null
    # 1.0 spellings in 1.2 form, the mixed-case ChargeFrequency in one spelling
    assert {r[0] for r in con.execute("SELECT DISTINCT ChargeFrequency FROM t").fetchall()} == {
        "Usage-Based",
        "One-Time",
    }
    # the Oracle rows without a ContractedCost get one (unit price x quantity, else the list cost)
    assert con.execute("SELECT count(*) FROM t WHERE ContractedCost IS NULL").fetchone()[0] == 0


def test_the_normalized_sample_passes_the_focus_expectation_suite():
    from multiregion.cost.focus_suite import expectations, expected_fields
    from multiregion.replication.validation import validate_table

    rows = _norm(SAMPLE).sql("SELECT * FROM t").to_arrow_table()
    report = validate_table(rows, dataset="focus", region="sample", partition="all", expected_rows=rows.num_rows,
                            expected_fields=expected_fields(rows.schema), expectations=expectations())  # fmt: skip
    assert report.success, report.summary()
    assert len(report.results) > 40  # presence, types, nullability, allowed values, period order


def test_quirks_become_focus_1_2(tmp_path):
    row = {
        **BASE,
        "ChargeCategory": "usage",
        "PricingCategory": "On-Demand",
        "ChargeFrequency": "Usage-based",
        "Tags": '"team": "ml", "env": "prod"',
        "ChargePeriodStart": "2026-11-10T05:30:00+05:30",
        "ChargePeriodEnd": "2026-11-11T05:30:00+05:30",
        "SkuId": "",
        "x_Custom": "kept",
        "Weird": "also",
    }
    con = _norm(_csv(tmp_path / "q.csv.gz", [row], gz=True))
    got = con.execute(
        "SELECT ChargeCategory, PricingCategory, ChargeFrequency, Tags, SkuId, x_Custom, x_Weird, "
        "CAST(ChargePeriodStart AS VARCHAR), x_Region, x_ChargeDate FROM t"
    ).fetchone()
    assert got[:7] == ("Usage", "Standard", "Usage-Based", '{"team":"ml","env":"prod"}', None, "kept", "also")
    assert got[7].startswith("2026-11-10 00:00:00") and got[8] == "us-west-2" and str(got[9]) == "2026-11-10"
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall())
    assert types["BilledCost"] == "DECIMAL(38,12)" and types["ChargePeriodStart"] == "TIMESTAMP WITH TIME ZONE"
    assert all(c.name in types for c in focus.COLUMNS)


def test_a_charge_over_several_days_is_split_into_charge_days_that_add_up_exactly(tmp_path):
    row = {
        **BASE,
        "BilledCost": "10.00",
        "EffectiveCost": "10.00",
        "ChargePeriodStart": "2026-11-01T12:00:00Z",
        "ChargePeriodEnd": "2026-11-04T00:00:00Z",
        "ChargeFrequency": "Recurring",
    }
    con = _norm(_csv(tmp_path / "split.csv", [row]))
    days = con.execute("SELECT CAST(x_ChargeDate AS VARCHAR), BilledCost FROM t ORDER BY 1").fetchall()
    assert [d for d, _ in days] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert days[0][1] == Decimal("2") and days[1][1] == Decimal("4") and days[2][1] == Decimal("4")  # by time
    periods = con.execute(
        "SELECT strftime(ChargePeriodStart, '%d %H'), strftime(ChargePeriodEnd, '%d %H') FROM t ORDER BY 1"
    ).fetchall()
    assert periods == [("01 12", "02 00"), ("02 00", "03 00"), ("03 00", "04 00")]  # each day its own part
    odd = {
        **row,
        "BilledCost": "100.00",
        "ChargePeriodStart": "2026-11-01T00:00:00Z",
        "ChargePeriodEnd": "2026-11-04T00:00:00Z",
    }
    con = _norm(_csv(tmp_path / "odd.csv", [odd]))
    assert con.execute("SELECT sum(BilledCost), count(*) FROM t").fetchone() == (Decimal("100"), 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BilledCost": "ten"}, "column BilledCost, row 3: 'ten' is not a decimal number"),
        ({"ChargePeriodStart": "yesterday"}, "column ChargePeriodStart, row 3: 'yesterday' is not a date-time"),
        ({"ChargeCategory": "Usagee"}, "column ChargeCategory, row 3: 'Usagee' is not one of Usage, Purchase"),
        ({"ServiceName": ""}, "column ServiceName, row 3: '' is empty: the column may not be null"),
        ({"Tags": "[1, 2]"}, "column Tags, row 3: '[1, 2]' is not a JSON object"),
        ({"ChargePeriodEnd": "2026-11-09T00:00:00Z"}, "column ChargePeriodEnd, row 3: not after ChargePeriodStart"),
    ],
)
def test_a_bad_value_names_the_file_the_column_and_the_row(tmp_path, change, message):
    path = _csv(tmp_path / "bad.csv", [BASE, {**BASE, **change}])
    with pytest.raises(CostExportInvalid) as err:
        _norm(path)
    assert str(err.value).startswith("s3://exports/bad.csv: ") and message in str(err.value)


def test_a_provider_column_that_collides_is_refused(tmp_path):
    for clash in ({"Foo": "1", "x_Foo": "2"}, {"x_Region": "mars"}, {"x_cloud": "aws"}):
        with pytest.raises(CostExportInvalid, match="collides with"):
            _norm(_csv(tmp_path / "clash.csv", [{**BASE, **clash}]))


def test_a_missing_mandatory_column_and_an_unreadable_file_are_named(tmp_path):
    missing = {k: v for k, v in BASE.items() if k != "BillingCurrency"}
    with pytest.raises(CostExportInvalid, match=r"missing.csv: missing mandatory FOCUS column\(s\) BillingCurrency"):
        _norm(_csv(tmp_path / "missing.csv", [missing]))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(CostExportInvalid, match=r"broken.parquet: unreadable"):
        _norm(broken)
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(json.dumps(BASE).encode() * 50)[:60])
    with pytest.raises(CostExportInvalid, match=r"cut.csv.gz: unreadable"):
        _norm(truncated)
