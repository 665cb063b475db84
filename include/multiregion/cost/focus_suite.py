"""The FOCUS 1.2 column rules as Great Expectations expectations, for every published day's rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from multiregion.core import focus

if TYPE_CHECKING:
    import pyarrow as pa

ARROW_TYPES = {
    focus.Kind.DECIMAL: "decimal128(38, 12)",
    focus.Kind.DATETIME: "timestamp[us, tz=UTC]",
    focus.Kind.STRING: "string",
    focus.Kind.JSON: "string",
}


def expected_fields(schema: pa.Schema) -> list[tuple[str, str]]:
    """Every FOCUS column with its type, in order, then the table's own x_ columns as they are."""
    fields = [(c.name, ARROW_TYPES[c.kind]) for c in focus.COLUMNS]
    return fields + [(f.name, str(f.type)) for f in schema if f.name not in focus.BY_NAME]


def expectations() -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for c in focus.COLUMNS:
        if not c.nullable:
            out.append(("expect_column_values_to_not_be_null", {"column": c.name}))
        if c.allowed:  # nulls are not checked by GX's set expectation: nullability is above
            out.append(("expect_column_values_to_be_in_set", {"column": c.name, "value_set": list(c.allowed)}))
    for start, end in (("ChargePeriodStart", "ChargePeriodEnd"), ("BillingPeriodStart", "BillingPeriodEnd")):
        out.append(("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": end, "column_B": start}))
    out.append(("expect_column_values_to_be_in_set", {"column": "x_Cloud", "value_set": ["aws", "gcp", "azure"]}))
    return out
