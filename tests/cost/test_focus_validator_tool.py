"""The FOCUS validator (tests/cost/focus_validator.py) on a hand-written FOCUS 1.2 file and on the
public 1.0 sample.

How to write a FOCUS 1.2 CSV that focus-validator 2.0.2 passes with zero failed MUST rules (the rows
below pass with zero failed rules of any level, every applicability criterion declared):

- **Columns**: all 57 columns of the 1.2 model (``COLUMNS``), nullable ones present even when every
  value is null. Declaring every criterion (``applicability_criteria="ALL"``) makes the presence of
  the conditional ones a MUST (CommitmentDiscount*, CapacityReservation*, PricingCurrency*,
  SkuMeter, SkuPriceDetails, BillingAccountType, SubAccountType, ...); with none declared the tool
  checks 137 rules instead of 368. Custom columns (``x_...``) are allowed.
- **CSV dialect**: comma, header row, ``\\n``; ``csv.writer`` with its default QUOTE_MINIMAL.
- **Nulls**: an empty, *unquoted* field. ``""`` (e.g. from QUOTE_ALL) is read as an empty string,
  not null, and breaks dozens of MUST rules. (The tool also reads the literal ``NULL`` as null,
  but other readers don't; don't write it.)
- **Decimals** (BilledCost, EffectiveCost, ListCost, ContractedCost, PricingQuantity,
  ConsumedQuantity, ListUnitPrice, ContractedUnitPrice, CommitmentDiscountQuantity,
  PricingCurrency{ContractedUnitPrice,EffectiveCost,ListUnitPrice}): plain fixed point with a ``.``
  in every value, e.g. ``100.0``, ``0.0``, ``0.125`` (``format(Decimal, "f")``, ``.0`` appended if
  there is no point). The tool infers column types from the text (polars, first 10,000 rows), so a
  column whose values are all integers (``100``) is an integer column and fails "<Column> MUST be of
  type Decimal" (BilledCost-C-001-M). No thousands separators or currency symbols.
- **Strings that look like numbers** are the one thing CSV cannot carry: a String column whose every
  value is digits (AWS account ids ``123456789012``, a GCP invoice number, Azure zone ``1``) is read
  as an integer, quoted or not, and fails its Type rule (BillingAccountId-C-002-M,
  SubAccountId-C-001-M, ...). It passes here only because other rows hold non-numeric ids. A file
  that may hold such a column should be written as Parquet with string columns (typed Parquet --
  string, float64 or decimal128, timestamp[us, UTC] -- passes the same rows, all-digit ids
  included).
- **Date/times**: UTC ISO 8601 with a ``Z``, ``2026-11-01T00:00:00Z`` (the tool also accepts
  ``+00:00``, fractional seconds and even ``2026-11-01 00:00:00``; the spec's form is the ``Z`` one).
  Billing period = the month, [start, end); charge period inside it.
- **Tags**, **SkuPriceDetails**: a JSON object (``json.dumps``), ``{}`` for none (null is accepted).
- **Values**: ProviderName == InvoiceIssuerName on every row whose BilledCost is not 0
  (BilledCost-C-005-C: a different invoice issuer means a marketplace charge, BilledCost MUST be 0);
  PublisherName may differ. ChargeClass null (not a correction). ChargeCategory Usage/Purchase/Tax/
  Credit/Adjustment; Tax rows: PricingCategory, PricingQuantity, PricingUnit, ListUnitPrice,
  ContractedUnitPrice, ConsumedQuantity/Unit, SkuId, SkuPriceId, SkuMeter, region and resource
  columns null (as here). ServiceSubcategory never null (a MUST in 1.2), one per ServiceName (SHOULD: the tax
  row repeats its service's). Usage rows: ConsumedQuantity/Unit set. Commitment-covered usage:
  PricingCategory ``Committed``, BilledCost 0.0, CommitmentDiscountId/Name/Type/Category ``Usage``/
  Status ``Used``/Quantity/Unit set; all CommitmentDiscount* and CapacityReservation* null elsewhere.
  InvoiceId set on every row, or null on every row: a mix fails InvoiceId-C-004-C and -C-005-C
  (MUST) with this model, which cannot tell from the data which charges have an invoice.

One validator run takes about 4 s on these 4 rows and 5-6 s on the 1000-row sample (startup
included; up to 8 s on this 2-core machine under load): this module runs it 7 times (~25 s).
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from focus_validator import SETUP_COMMAND, ValidatorError, validate

SAMPLE = Path("/work/shared/data/focus-sample-1.0/focus_sample.csv")

# Every column of the FOCUS 1.2 requirements model, in this order in the files written here.
COLUMNS = [
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "InvoiceId", "InvoiceIssuerName", "ProviderName", "PublisherName",
    "ServiceCategory", "ServiceSubcategory", "ServiceName",
    "PricingUnit", "PricingCategory", "PricingCurrency",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice",
    "RegionId", "RegionName", "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType", "Tags",
    "SkuId", "SkuPriceId", "SkuMeter", "SkuPriceDetails",
    "SubAccountId", "SubAccountName", "SubAccountType",
    "ConsumedQuantity", "ConsumedUnit", "ListUnitPrice", "ContractedUnitPrice",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit",
    "CapacityReservationId", "CapacityReservationStatus",
]  # fmt: skip


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def d(text: str) -> Decimal:
    return Decimal(text)


MONTH = {"BillingPeriodStart": utc("2026-11-01"), "BillingPeriodEnd": utc("2026-12-01")}
DAY = {"ChargePeriodStart": utc("2026-11-02"), "ChargePeriodEnd": utc("2026-11-03")}
CURRENCY = {"BillingCurrency": "USD", "PricingCurrency": "USD"}
AWS = {
    "BillingAccountId": "123456789012",
    "BillingAccountName": "ml-platform-payer",
    "BillingAccountType": "Payer Account",
    "InvoiceId": "EUINUS26-118842",
    "InvoiceIssuerName": "Amazon Web Services",
    "ProviderName": "Amazon Web Services",
    "PublisherName": "Amazon Web Services",
    "SubAccountId": "210987654321",
    "SubAccountName": "ml-training",
    "SubAccountType": "Linked Account",
}
GCP = {
    "BillingAccountId": "01A2B3-C4D5E6-F7A8B9",
    "BillingAccountName": "ml-platform-gcp",
    "BillingAccountType": "Billing Account",
    "InvoiceId": "5012345678",
    "InvoiceIssuerName": "Google Cloud",
    "ProviderName": "Google Cloud",
    "PublisherName": "Google Cloud",
    "SubAccountId": "ml-serving-prod",
    "SubAccountName": "ml-serving-prod",
    "SubAccountType": "Project",
}
AZURE = {
    "BillingAccountId": "/providers/Microsoft.Billing/billingAccounts/87654321",
    "BillingAccountName": "ml-platform-azure",
    "BillingAccountType": "Billing Account",
    "InvoiceId": "G012345678",
    "InvoiceIssuerName": "Microsoft",
    "ProviderName": "Microsoft",
    "PublisherName": "Microsoft",
    "SubAccountId": "/subscriptions/00000000-0000-0000-0000-000000000001",
    "SubAccountName": "ml-gpu",
    "SubAccountType": "Subscription",
}


COSTS = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingCurrencyEffectiveCost"]
UNIT_PRICES = [
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
]


def usage(cost: str, quantity: str, unit_price: str, unit: str) -> dict[str, Any]:
    """An on-demand usage charge at list price: every cost is ``cost`` = ``quantity`` x ``unit_price``."""
    return {
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        **dict.fromkeys(COSTS, d(cost)),
        **dict.fromkeys(["PricingQuantity", "ConsumedQuantity"], d(quantity)),
        **dict.fromkeys(["PricingUnit", "ConsumedUnit"], unit),
        **dict.fromkeys(UNIT_PRICES, d(unit_price)),
    }


ROWS: list[dict[str, Any]] = [
    {  # AWS: on-demand VM hours
        **MONTH, **DAY, **CURRENCY, **AWS, **usage("12.5", "100", "0.125", "Hours"),
        "ChargeDescription": "m5.xlarge Linux on-demand instance hours",
        "ServiceCategory": "Compute", "ServiceSubcategory": "Virtual Machines",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "RegionId": "us-east-1", "RegionName": "US East (N. Virginia)", "AvailabilityZone": "us-east-1a",
        "ResourceId": "i-0abc1234def567890", "ResourceName": "trainer-1", "ResourceType": "Virtual Machine",
        "Tags": {"team": "ml", "env": "prod"},
        "SkuId": "8KRW2S6D6PWHEAUN", "SkuPriceId": "8KRW2S6D6PWHEAUN.JRTCKXETXF.6YS6EN2CT7",
        "SkuMeter": "Compute Usage", "SkuPriceDetails": {"InstanceType": "m5.xlarge"},
    },
    {  # GCP: object storage
        **MONTH, **DAY, **CURRENCY, **GCP, **usage("0.46", "20", "0.023", "GiB-Months"),
        "ChargeDescription": "Standard Storage US Multi-region",
        "ServiceCategory": "Storage", "ServiceSubcategory": "Object Storage", "ServiceName": "Cloud Storage",
        "RegionId": "us", "RegionName": "United States",
        "ResourceId": "projects/ml-serving-prod/buckets/models", "ResourceName": "models", "ResourceType": "Bucket",
        "Tags": {"team": "ml"},
        "SkuId": "E5F0-6A5D-7BAD", "SkuPriceId": "E5F0-6A5D-7BAD-1",
        "SkuMeter": "Storage", "SkuPriceDetails": {"StorageClass": "Standard"},
    },
    {  # AWS: tax on the VM hours (no pricing, SKU, region or resource)
        **MONTH, **DAY, **CURRENCY, **AWS,
        **dict.fromkeys(COSTS, d("1.1")),
        "ChargeCategory": "Tax", "ChargeFrequency": "One-Time", "ChargeDescription": "Sales tax",
        "ServiceCategory": "Compute", "ServiceSubcategory": "Virtual Machines",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "Tags": {},
    },
    {  # Azure: a VM hour covered by a reservation (billed 0 on the day, amortized cost in EffectiveCost)
        **MONTH, **DAY, **CURRENCY, **AZURE, **usage("4.0", "1", "4.0", "Hours"),
        "BilledCost": d("0"), "EffectiveCost": d("3.2"), "PricingCurrencyEffectiveCost": d("3.2"),
        "PricingCategory": "Committed",
        "ChargeDescription": "NC6s v3 reserved VM hour",
        "ServiceCategory": "Compute", "ServiceSubcategory": "Virtual Machines", "ServiceName": "Virtual Machines",
        "RegionId": "eastus", "RegionName": "East US", "AvailabilityZone": "1",
        "ResourceId": AZURE["SubAccountId"] + "/resourceGroups/ml/providers/Microsoft.Compute/virtualMachines/gpu-1",
        "ResourceName": "gpu-1", "ResourceType": "Virtual machine",
        "Tags": {"team": "ml"},
        "SkuId": "DZH318Z0BQ4L", "SkuPriceId": "DZH318Z0BQ4L-0001",
        "SkuMeter": "NC6s v3", "SkuPriceDetails": {"vCPUs": 6},
        "CommitmentDiscountId": "/providers/Microsoft.Capacity/reservationOrders/ro-1/reservations/r-1",
        "CommitmentDiscountName": "ml-gpu-reservation", "CommitmentDiscountType": "Reservation",
        "CommitmentDiscountCategory": "Usage", "CommitmentDiscountStatus": "Used",
        "CommitmentDiscountQuantity": d("1"), "CommitmentDiscountUnit": "Hours",
    },
]  # fmt: skip


def csv_value(value: Any) -> str:
    """One FOCUS value as CSV text (the recipe of the module docstring)."""
    if value is None:
        return ""  # csv.writer leaves an empty field unquoted: a null
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal | float):
        text = format(Decimal(str(value)) if isinstance(value, float) else value, "f")
        return text if "." in text else text + ".0"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def write_focus_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] = COLUMNS, **writer_options) -> Path:
    unknown = {key for row in rows for key in row} - set(columns)
    assert not unknown, f"not FOCUS 1.2 columns: {unknown}"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, **writer_options)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_value(row.get(column)) for column in columns])
    return path


@pytest.fixture(scope="module")
def focus_csv(tmp_path_factory) -> Path:
    return write_focus_csv(tmp_path_factory.mktemp("focus") / "focus-1.2.csv", ROWS)


def test_hand_written_focus_csv_has_no_failed_rule_with_every_criterion(focus_csv):
    start = time.monotonic()
    report = validate(focus_csv, applicability_criteria="ALL")
    elapsed = time.monotonic() - start
    print(report.summary(), f"\nvalidate() took {elapsed:.1f} s")

    assert report.validator_version == "2.0.2"
    assert (report.focus_version, report.model_version) == ("1.2", "1.2.0.1")
    assert report.rows == len(ROWS)
    assert report.rules_reported == 578
    assert report.rules_checked == 368  # the others are skipped: Dynamic, MAY, upstream skipped
    assert report.failed_must == (), report.summary()
    assert report.failed_other == (), report.summary()
    # InvoiceId is set on every row: its "all null" alternative is the one not taken.
    assert [f.rule_id for f in report.alternatives_not_taken] == ["InvoiceId-C-004-C"]
    assert report.stderr.strip() == ""


def test_hand_written_focus_csv_has_no_failed_must_rule_without_criteria(focus_csv):
    report = validate(focus_csv)
    assert report.rules_checked == 137
    assert report.failed_must == (), report.summary()


def test_bundled_model_defects_fail_any_dataset_without_errata(focus_csv):
    """Why errata=True is the default: the bundled model fails the clean rows on its own defects."""
    report = validate(focus_csv, applicability_criteria="ALL", errata=False)
    leaves = {f.rule_id for f in report.failed_must if f.function != "Composite"}
    assert leaves == {"CapacityReservationStatus-C-004-C", "CommitmentDiscountStatus-C-004-C"}, report.summary()
    assert report.errata == ()


def test_recipe_pitfalls_are_must_violations(tmp_path):
    """Integer-looking decimals, all-digit ids and a marketplace-looking issuer each break a MUST rule."""
    rows = [dict(row) for row in ROWS]
    for row in rows:
        row["BilledCost"] = str(int(row["BilledCost"]))  # "12" instead of "12.5"/"12.0"
        row["SubAccountId"] = "210987654321"  # every SubAccountId all digits
    rows[0]["InvoiceIssuerName"] = "Amazon Web Services, Inc."  # != ProviderName, BilledCost != 0
    report = validate(write_focus_csv(tmp_path / "pitfalls.csv", rows), applicability_criteria="ALL")
    failed = set(report.failed_must_ids())
    assert {"BilledCost-C-001-M", "SubAccountId-C-001-M", "BilledCost-C-005-C"} <= failed, report.summary()


def test_quoted_empty_fields_are_not_nulls(tmp_path):
    path = write_focus_csv(tmp_path / "quote-all.csv", ROWS, quoting=csv.QUOTE_ALL)
    assert '""' in path.read_text()
    report = validate(path, applicability_criteria="ALL")
    assert "ConsumedQuantity-C-001-M" in report.failed_must_ids(), report.summary()  # "" is no decimal


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"{SAMPLE} is not on this machine")
def test_public_sample_fails_must_rules():
    report = validate(SAMPLE)
    print(report.summary())
    assert report.rows == 1000
    assert len(report.failed_must) > 0
    by_id = {f.rule_id: f for f in report.failed_must}
    # ProviderName "AWS" vs InvoiceIssuerName "Amazon Web Services, Inc." on rows billing money.
    assert by_id["BilledCost-C-005-C"].violations == 615
    assert by_id["BilledCost-C-005-C"].keyword == "MUST"


def test_missing_virtualenv_names_the_setup_command(tmp_path, focus_csv):
    with pytest.raises(ValidatorError, match=SETUP_COMMAND):
        validate(focus_csv, venv=tmp_path / "no-venv")


def test_a_crash_reports_the_tools_stderr(tmp_path):
    data = tmp_path / "focus.txt"  # the tool reads .csv and .parquet only
    data.write_text("BilledCost\n1.0\n")
    with pytest.raises(ValidatorError, match=r"crashed(.|\n)*File type not implemented"):
        validate(data)
