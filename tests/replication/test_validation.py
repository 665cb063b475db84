"""Great Expectations validation of a dataset replica (pure: GX runs in-process, no servers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

import multiregion
from multiregion.replication.validation import (
    ARROW_TYPE_EXPECTATION,
    DATASET,
    MANIFEST,
    ValidationReport,
    available_expectations,
    validate_table,
)

NOT_NULL = ("expect_column_values_to_not_be_null", {"column": "customer_id"})
IN_RANGE = ("expect_column_values_to_be_between", {"column": "tenure_months", "min_value": 0, "max_value": 600})


def churn(customer_id=(1, 2, 3, 4), tenure_months=(1, 12, 36, 600), plan=("basic", "pro", "basic", "pro")) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array(customer_id, pa.int64()),
            "tenure_months": pa.array(tenure_months, pa.int64()),
            "plan": pa.array(plan, pa.string()),
        }
    )


FIELDS = [("customer_id", "int64"), ("tenure_months", "int64"), ("plan", "string")]


def validate(table: pa.Table, *, rows: int = 4, fields=FIELDS, expectations=(NOT_NULL, IN_RANGE)) -> ValidationReport:
    return validate_table(
        table,
        dataset="churn",
        region="eu-west",
        partition="2024-05-01",
        expected_rows=rows,
        expected_fields=list(fields),
        expectations=list(expectations),
    )


def only_failure(report: ValidationReport):
    assert not report.success
    [failure] = report.failures()
    return failure


def test_a_faithful_replica_passes_every_expectation():
    report = validate(churn())
    assert report.success and report.failures() == []
    assert [(r.expectation, r.source) for r in report.results] == [
        ("expect_table_row_count_to_equal", MANIFEST),
        ("expect_table_columns_to_match_ordered_list", MANIFEST),
        *[(ARROW_TYPE_EXPECTATION, MANIFEST)] * 3,
        ("expect_column_values_to_not_be_null", DATASET),
        ("expect_column_values_to_be_between", DATASET),
    ]
    assert report.results[0].observed == 4
    assert report.results[1].observed == ["customer_id", "tenure_months", "plan"]
    assert "all 7 expectations passed" in report.summary()


def test_wrong_row_count_fails():
    failure = only_failure(validate(churn(), rows=5))
    assert failure.expectation == "expect_table_row_count_to_equal" and failure.source == MANIFEST
    assert (failure.kwargs, failure.observed) == ({"value": 5}, 4)


@pytest.mark.parametrize(
    "table",
    [
        pytest.param(churn().drop_columns(["plan"]), id="missing"),
        pytest.param(churn().append_column("extra", pa.array([0, 0, 0, 0])), id="extra"),
        pytest.param(churn().select(["tenure_months", "customer_id", "plan"]), id="reordered"),
    ],
)
def test_column_list_must_match_the_manifest_in_order(table):
    report = validate(table)
    failure = only_failure(report)
    assert failure.expectation == "expect_table_columns_to_match_ordered_list"
    assert failure.source == MANIFEST
    assert failure.observed == table.column_names


def test_changed_arrow_type_is_detected():
    table = churn().set_column(1, "tenure_months", pa.array([1.0, 12.0, 36.0, 600.0], pa.float64()))
    failure = only_failure(validate(table))
    assert failure.expectation == ARROW_TYPE_EXPECTATION
    assert failure.kwargs == {"column": "tenure_months", "type": "int64"}
    assert failure.observed == "double"
    assert "expect_column_arrow_type_to_equal(column='tenure_months', type='int64'): observed \"double\"" in (
        validate(table).summary()
    )


def test_arrow_types_are_compared_not_pandas_dtypes():
    # An int64 column with nulls is float64 in pandas; the Arrow type still matches the manifest.
    report = validate(churn(tenure_months=(1, None, 3, 4)), expectations=[])
    assert report.success


def test_null_in_a_not_null_column_is_reported_with_its_observed_values():
    report = validate(churn(customer_id=(1, None, 3, None)))
    failure = only_failure(report)
    assert failure.expectation == "expect_column_values_to_not_be_null" and failure.source == DATASET
    assert failure.observed["unexpected_count"] == 2
    assert failure.observed["partial_unexpected_list"] == [None, None]  # NaN made JSON-simple
    summary = report.summary()
    assert "1 of 7 expectations failed" in summary
    assert "[dataset] expect_column_values_to_not_be_null(column='customer_id')" in summary
    assert '"unexpected_count": 2' in summary


def test_out_of_range_values_are_reported_in_the_summary():
    report = validate(churn(tenure_months=(-1, 12, 601, 700)))
    failure = only_failure(report)
    assert failure.expectation == "expect_column_values_to_be_between"
    assert failure.kwargs == {"column": "tenure_months", "min_value": 0, "max_value": 600}
    assert sorted(failure.observed["partial_unexpected_list"]) == [-1, 601, 700]
    line = next(line for line in report.summary().splitlines() if "be_between" in line)
    assert "min_value=0, max_value=600" in line and "601" in line and "700" in line


def test_unexpected_values_are_truncated():
    table = churn(customer_id=range(100), tenure_months=range(1000, 1100), plan=["basic"] * 100)
    failure = only_failure(validate(table, rows=100, expectations=[IN_RANGE]))
    assert failure.observed["unexpected_count"] == 100
    assert len(failure.observed["partial_unexpected_list"]) == 10


def test_expectation_on_a_missing_column_fails_instead_of_raising():
    report = validate(churn(), expectations=[("expect_column_values_to_not_be_null", {"column": "nope"})])
    failure = only_failure(report)
    assert failure.observed.startswith("error:") and "nope" in failure.observed


def test_duplicate_expectations_are_each_reported():
    report = validate(churn(), expectations=[NOT_NULL, NOT_NULL, ("expect_table_row_count_to_equal", {"value": 4})])
    assert report.success
    assert [r.source for r in report.results[-3:]] == [DATASET] * 3
    assert report.results[-1].observed == 4


def test_unknown_expectation_type_suggests_close_matches():
    with pytest.raises(ValueError, match="expect_column_values_to_be_not_null") as raised:
        validate(churn(), expectations=[("expect_column_values_to_be_not_null", {"column": "plan"})])
    assert "did you mean" in str(raised.value)
    assert "expect_column_values_to_not_be_null" in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"column": "tenure_months"}, "min_value and max_value cannot both be None"),
        ({"colum": "tenure_months", "min_value": 0}, "extra fields not permitted"),
        ({"column": "tenure_months", "min_value": "zero"}, "min_value"),
    ],
)
def test_bad_kwargs_raise_value_error_naming_the_expectation(kwargs, problem):
    with pytest.raises(ValueError, match="expect_column_values_to_be_between") as raised:
        validate(churn(), expectations=[("expect_column_values_to_be_between", kwargs)])
    assert problem in str(raised.value)


def test_validations_in_one_process_do_not_interfere():
    bad_first = validate(churn(customer_id=(None, 2, 3, 4)))
    good = validate(churn())
    bad_again = validate(churn(customer_id=(None, 2, 3, 4)))
    assert good.success and not bad_first.success
    assert bad_first.to_dict() == bad_again.to_dict()


def test_concurrent_validations_do_not_interfere():
    def run(rows: int) -> tuple[int, object]:
        table = churn(customer_id=range(rows), tenure_months=[5] * rows, plan=["basic"] * rows)
        return rows, validate(table, rows=rows).results[0].observed

    with ThreadPoolExecutor(4) as pool:
        for rows, observed in pool.map(run, [3, 5, 7, 9, 11, 13]):
            assert observed == rows


def test_report_to_dict_is_json_and_round_trips():
    report = validate(churn(customer_id=(None, 2, 3, 4), tenure_months=(1, 2, 3, 999)), rows=3)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["dataset"] == "churn" and data["region"] == "eu-west" and data["partition"] == "2024-05-01"
    assert data["success"] is False
    assert ValidationReport.from_dict(data) == report


def test_available_expectations_are_snake_case_gx_types():
    names = available_expectations()
    assert {"expect_column_values_to_not_be_null", "expect_table_row_count_to_equal"} <= names
    assert "expect_column_kl_divergence_to_be_less_than" in names  # not a naive CamelCase split
    assert all(name and name == name.lower() for name in names)


def test_importing_the_module_does_not_import_heavy_libraries():
    code = (
        "import sys, multiregion.replication.validation\n"
        "heavy = {'great_expectations', 'pandas', 'pyarrow'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(multiregion.__file__).parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
