"""Normalize one cloud's FOCUS export files into our FOCUS 1.2 table, in DuckDB.

Per file: every mandatory column present (else an error naming the file and the column); real nulls
(exports write ``NULL`` and empty strings); decimals as DECIMAL(38,12); UTC timestamps (a time
without an offset is UTC); closed-list values in their 1.2 spelling; Tags a JSON object; other
columns kept as ``x_`` columns. A bad value fails with the file, the column and the row.
Charges spanning several UTC days are split into charge days, prorated by time; the parts add up
exactly to the original (each day takes the difference of two cumulative roundings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from multiregion.core import focus
from multiregion.cost.exports import CostExportInvalid

if TYPE_CHECKING:
    import duckdb

DECIMAL = "DECIMAL(38,12)"
SQL_TYPES = {
    focus.Kind.DECIMAL: DECIMAL,
    focus.Kind.DATETIME: "TIMESTAMPTZ",
    focus.Kind.STRING: "VARCHAR",
    focus.Kind.JSON: "VARCHAR",
}
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .\-/]*$")


def connect(memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory_limit, "preserve_insertion_order": True})
    con.execute("SET TimeZone = 'UTC'")  # a timestamp without an offset is UTC (FOCUS)
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple | None:
    """The first row of ``sql`` (fetched to the end: duckdb 2 keeps an unfinished result open)."""
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class FileRef:
    path: Path  # the local copy
    label: str  # what errors name: the file's URI in its store


def _load(con: duckdb.DuckDBPyConnection, ref: FileRef, table: str) -> int:
    """The file as a raw table (CSV: every column text, nothing null yet); its first data row's number."""
    import duckdb

    path = lit(str(ref.path))
    name = ref.label.lower()
    try:
        if name.endswith(".parquet"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet({path})")
            return 1
        # \x01 never occurs: no text becomes null here; _text() decides what is null
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_csv({path}, header=true, all_varchar=true, "
            f"nullstr=['\x01'], compression='auto', strict_mode=true)"
        )
        return 2  # the header is line 1
    except duckdb.Error as exc:  # parse, conversion, I/O: all mean "unreadable"
        raise CostExportInvalid(f"{ref.label}: unreadable: {' '.join(str(exc).split())[:300]}") from None


def _text(col: str) -> str:
    return f"NULLIF(NULLIF(TRIM(CAST({q(col)} AS VARCHAR)), ''), 'NULL')"


def _first_bad(con, table: str, col: str, bad_sql: str, first_row: int) -> tuple[int, str] | None:
    row = one(con, f"SELECT rowid, CAST({q(col)} AS VARCHAR) FROM {table} WHERE {bad_sql} ORDER BY rowid LIMIT 1")
    return None if row is None else (int(row[0]) + first_row, row[1])


def _fail(ref: FileRef, col: str, found: tuple[int, str], problem: str) -> None:
    row, value = found
    raise CostExportInvalid(f"{ref.label}: column {col}, row {row}: {value!r} {problem}")


def _contracted_cost(present: dict[str, str], built: dict[str, str]) -> str:
    # Real exports (the public sample's Oracle rows) leave it null: with no negotiated price known,
    # the contracted cost is the unit price times the quantity, else the list cost (FOCUS 1.2).
    def dec(name: str) -> str:
        return f"TRY_CAST({_text(present[name])} AS {DECIMAL})" if name in present else f"CAST(NULL AS {DECIMAL})"

    return f"COALESCE({dec('ContractedUnitPrice')} * {dec('PricingQuantity')}, {dec('ListCost')})"


def _service_subcategory(present: dict[str, str], built: dict[str, str]) -> str:
    # 1.2 requires one; 1.0 exports have none: the category's own catch-all, "Other (Compute)"
    return f"'Other (' || ({built['ServiceCategory']}) || ')'"


FALLBACKS = {"ContractedCost": _contracted_cost, "ServiceSubcategory": _service_subcategory}


def _column_sql(
    con,
    table: str,
    ref: FileRef,
    spec: focus.Column,
    source: str | None,
    first_row: int,
    present: dict[str, str],
    built: dict[str, str],
) -> str:
    """The column's SQL expression (checked: a bad value raises, naming the row)."""
    if source is None:
        if spec.name in FALLBACKS:
            return FALLBACKS[spec.name](present, built)
        return f"CAST(NULL AS {SQL_TYPES[spec.kind]})"
    text = _text(source)
    if spec.kind == focus.Kind.DECIMAL:
        expr = f"TRY_CAST({text} AS {DECIMAL})"
        if bad := _first_bad(con, table, source, f"{text} IS NOT NULL AND {expr} IS NULL", first_row):
            _fail(ref, spec.name, bad, "is not a decimal number")
    elif spec.kind == focus.Kind.DATETIME:
        expr = f"TRY_CAST({text} AS TIMESTAMPTZ)"
        if bad := _first_bad(con, table, source, f"{text} IS NOT NULL AND {expr} IS NULL", first_row):
            _fail(ref, spec.name, bad, "is not a date-time")
    elif spec.kind == focus.Kind.JSON:
        # Azure's older exports write tags without the braces: "k": "v","k2": "v2"
        wrapped = f"CASE WHEN LEFT({text}, 1) = '{{' THEN {text} ELSE '{{' || {text} || '}}' END"
        is_object = f"CASE WHEN json_valid({wrapped}) THEN json_type({wrapped}) = 'OBJECT' ELSE false END"
        bad_sql = f"{text} IS NOT NULL AND NOT ({is_object})"
        if bad := _first_bad(con, table, source, bad_sql, first_row):
            _fail(ref, spec.name, bad, "is not a JSON object")
        expr = f"CASE WHEN {text} IS NULL THEN NULL ELSE CAST(json({wrapped}) AS VARCHAR) END"
    elif spec.allowed:
        values = con.execute(f"SELECT DISTINCT {text} FROM {table} WHERE {text} IS NOT NULL").fetchall()
        mapping = {v: focus.canonical(spec.name, v) for (v,) in values}
        for value, canon in sorted(mapping.items()):
            if canon is None:
                found = _first_bad(con, table, source, f"{text} = {lit(value)}", first_row)
                _fail(ref, spec.name, found or (0, value), f"is not one of {', '.join(spec.allowed)}")
        cases = " ".join(f"WHEN {lit(v)} THEN {lit(c)}" for v, c in mapping.items() if c is not None)
        expr = f"CASE {text} {cases} END" if cases else "CAST(NULL AS VARCHAR)"
    else:
        expr = text
    if spec.name in FALLBACKS:
        expr = f"COALESCE({expr}, {FALLBACKS[spec.name](present, built)})"
    if not spec.nullable and (bad := _first_bad(con, table, source, f"({expr}) IS NULL", first_row)):
        _fail(ref, spec.name, bad, "is empty: the column may not be null")
    return expr


def normalize_file(
    con: duckdb.DuckDBPyConnection, ref: FileRef, cloud: str, region_ids: dict[str, str], out: str
) -> int:
    """Load, check and normalize one export file into the temp table ``out``; its row count."""
    raw = f"{out}_raw"
    first_row = _load(con, ref, raw)
    columns = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    present = {focus.RENAMED.get(c, c): c for c in columns}
    missing = [name for name in focus.MANDATORY if name not in present]
    if missing:
        raise CostExportInvalid(f"{ref.label}: missing mandatory FOCUS column(s) {', '.join(missing)}")
    built: dict[str, str] = {}
    for spec in focus.COLUMNS:  # in order: a fallback may use a column built before it
        built[spec.name] = _column_sql(con, raw, ref, spec, present.get(spec.name), first_row, present, built)
    selects = [f"{expr} AS {q(name)}" for name, expr in built.items()]
    extra = [c for c in columns if c not in focus.BY_NAME and c not in focus.RENAMED]
    seen: dict[str, str] = {c.lower(): c for c in [*built, *focus.OURS]}
    for col in extra:
        name = focus.provider_column(col)
        if not _NAME_OK.match(col):
            raise CostExportInvalid(f"{ref.label}: column name {col!r} is not usable")
        if name.lower() in seen:  # e.g. Foo and x_Foo, or the export's own x_Region
            raise CostExportInvalid(f"{ref.label}: column {col!r} collides with {seen[name.lower()]!r}")
        seen[name.lower()] = col
        selects.append(f"{_text(col)} AS {q(name)}")
    cases = " ".join(f"WHEN {lit(n)} THEN {lit(r)}" for n, r in region_ids.items())
    region = f"CASE {_text(present['RegionId'])} {cases} END" if "RegionId" in present and cases else "NULL"
    selects += [f"{lit(cloud)} AS {focus.X_CLOUD}", f"CAST({region} AS VARCHAR) AS {focus.X_REGION}"]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out}_typed AS SELECT {', '.join(selects)} FROM {raw} ORDER BY rowid")
    bad = one(con, f"SELECT rowid FROM {out}_typed WHERE ChargePeriodEnd <= ChargePeriodStart ORDER BY rowid LIMIT 1")
    if bad:
        row = int(bad[0]) + first_row
        raise CostExportInvalid(f"{ref.label}: column ChargePeriodEnd, row {row}: not after ChargePeriodStart")
    _split_days(con, f"{out}_typed", out)
    con.execute(f"DROP TABLE {raw}; DROP TABLE {out}_typed")
    return one(con, f"SELECT count(*) FROM {out}")[0]


def _split_days(con, typed: str, out: str) -> None:
    """One row per charge day (x_ChargeDate): a charge over several UTC days is prorated by time."""
    cols = [r[0] for r in con.execute(f"DESCRIBE {typed}").fetchall()]
    day0 = "CAST(date_trunc('day', ChargePeriodStart) AS DATE)"
    last = "CAST(date_trunc('day', ChargePeriodEnd - INTERVAL 1 MICROSECOND) AS DATE)"
    total = "epoch_us(ChargePeriodEnd) - epoch_us(ChargePeriodStart)"
    lo = "greatest(ChargePeriodStart, CAST(d AS TIMESTAMPTZ))"
    hi = "least(ChargePeriodEnd, CAST(d + 1 AS TIMESTAMPTZ))"

    def cumulative(col: str, at: str, whole: str, none: str) -> str:
        frac = f"(epoch_us({at}) - epoch_us(ChargePeriodStart)) / ({total})::DOUBLE"
        return (
            f"CASE WHEN {at} >= ChargePeriodEnd THEN {whole} WHEN {at} <= ChargePeriodStart THEN {none} "
            f"ELSE CAST(round(CAST({col} AS DOUBLE) * {frac}, 10) AS {DECIMAL}) END"
        )

    split_cols = []
    for c in cols:
        if c == "ChargePeriodStart":  # the day's own part of the charge period
            split_cols.append(f"{lo} AS ChargePeriodStart")
        elif c == "ChargePeriodEnd":
            split_cols.append(f"{hi} AS ChargePeriodEnd")
        elif c in focus.PRORATED:
            whole, zero = q(c), f"CAST(0 AS {DECIMAL})"
            split_cols.append(f"{cumulative(q(c), hi, whole, zero)} - {cumulative(q(c), lo, whole, zero)} AS {q(c)}")
        else:
            split_cols.append(q(c))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT * EXCLUDE (d), d AS {focus.X_CHARGE_DATE} FROM (
          SELECT *, {day0} AS d FROM {typed} WHERE {day0} = {last}
          UNION ALL BY NAME
          SELECT {", ".join(split_cols)}, CAST(g.d AS DATE) AS d
          FROM {typed}, LATERAL (SELECT CAST(unnest(generate_series({day0}, {last}, INTERVAL 1 DAY)) AS DATE) AS d) g
          WHERE {day0} <> {last}
        )"""
    )


def union(con: duckdb.DuckDBPyConnection, tables: Iterable[str], out: str) -> None:
    """The union of normalized files (columns matched by name; x_ columns differ between clouds)."""
    parts = list(tables)
    if not parts:
        raise ValueError("nothing to union")
    sql = " UNION ALL BY NAME ".join(f"SELECT * FROM {t}" for t in parts)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS {sql}")


def unmapped_regions(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Native region ids of ``table`` that the config's ``region_ids`` does not map."""
    rows = con.execute(
        f"SELECT DISTINCT RegionId FROM {table} WHERE RegionId IS NOT NULL AND {focus.X_REGION} IS NULL ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]
