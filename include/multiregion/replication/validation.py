"""Great Expectations validation of a dataset replica before it is published.

Two kinds of checks run against the replica's Arrow table:

- ``manifest``: the replica must match its source manifest: the row count and the ordered column
  list (through GX), and each column's Arrow type, compared here in Python because GX only sees
  the pandas dtypes, which lose the Arrow type (int64 with nulls becomes float64).
- ``dataset``: the dataset's own expectations from config, as ``(snake_case type, kwargs)``.

GX runs in-process with an ephemeral, in-memory data context built per call, so no files are
written and concurrent or repeated calls share nothing. GX is imported lazily: its first import
takes seconds, and this module is imported where loading must be fast.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

MANIFEST = "manifest"
DATASET = "dataset"
ARROW_TYPE_EXPECTATION = "expect_column_arrow_type_to_equal"
MAX_UNEXPECTED_VALUES = 10
_MAX_LIST = 100  # any other list in an observed value (e.g. a table's columns)
_INDEX_KEY = "multiregion_index"  # carried in each expectation's meta to match results back


@dataclass(frozen=True)
class ExpectationResult:
    expectation: str  # snake_case type, e.g. "expect_table_row_count_to_equal"
    kwargs: dict
    success: bool
    observed: Any  # JSON-simple
    source: str  # MANIFEST or DATASET

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"[{self.source}] {self.expectation}({args}): observed {json.dumps(self.observed)}"


@dataclass(frozen=True)
class ValidationReport:
    dataset: str
    region: str
    partition: str
    success: bool
    results: tuple[ExpectationResult, ...]

    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    def summary(self) -> str:
        where = f"dataset {self.dataset!r} partition {self.partition!r} in region {self.region!r}"
        failures = self.failures()
        if not failures:
            return f"{where}: all {len(self.results)} expectations passed"
        lines = [f"{where}: {len(failures)} of {len(self.results)} expectations failed"]
        lines += [f"  - {r.describe()}" for r in failures]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {**asdict(self), "results": [asdict(r) for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        results = tuple(ExpectationResult(**r) for r in data["results"])
        return cls(data["dataset"], data["region"], data["partition"], data["success"], results)


@functools.cache
def _expectation_classes() -> dict[str, type]:
    """snake_case type -> GX class, for every concrete expectation GX exports."""
    _quiet_gx_logging()
    import great_expectations.expectations as gxe
    from great_expectations.expectations.expectation import Expectation

    return {
        cls.expectation_type: cls
        for cls in vars(gxe).values()
        # Abstract (and deprecated) expectation classes have an empty expectation_type.
        if isinstance(cls, type) and issubclass(cls, Expectation) and cls.expectation_type
    }


def available_expectations() -> set[str]:
    """The snake_case expectation types ``validate_table`` accepts."""
    return set(_expectation_classes())


def _quiet_gx_logging() -> None:
    # GX logs at INFO on import and context creation; task logs only want its warnings.
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)


def _build_expectation(expectation_type: str, kwargs: Mapping[str, Any], index: int) -> Any:
    classes = _expectation_classes()  # first: it quiets GX logging before GX is imported
    from great_expectations.exceptions import GreatExpectationsError

    cls = classes.get(expectation_type)
    if cls is None:
        close = difflib.get_close_matches(expectation_type, classes, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see available_expectations()"
        raise ValueError(f"unknown expectation type {expectation_type!r}; {hint}")
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"{expectation_type}: kwargs must be a mapping, got {type(kwargs).__name__}")
    try:
        return cls(**{**kwargs, "meta": {**(kwargs.get("meta") or {}), _INDEX_KEY: index}})
    except (ValueError, TypeError, GreatExpectationsError) as e:  # pydantic's ValidationError is a ValueError
        problem = " ".join(str(e).split())
        raise ValueError(f"{expectation_type} with kwargs {dict(kwargs)!r} is invalid: {problem}") from e


def _jsonable(value: Any, max_list: int = _MAX_LIST) -> Any:
    """Make a GX result value JSON-simple: NaN/inf become None, numpy scalars Python numbers."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, max_list) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v, max_list) for v in list(value)[:max_list]]
        return [*items, f"... {len(value) - max_list} more"] if len(value) > max_list else items
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays, pandas Series
        return _jsonable(value.tolist(), max_list)
    return str(value)  # pandas NA, Decimal, ...


def _observed(gx_result: Any) -> Any:
    info = gx_result.exception_info or {}
    # One dict per failed metric when metrics raised, else a flat dict.
    errors = [info] if "raised_exception" in info else list(info.values())
    messages = [e.get("exception_message") for e in errors if isinstance(e, dict) and e.get("raised_exception")]
    if messages:
        return "error: " + "; ".join(sorted({str(m) for m in messages}))
    result = gx_result.result or {}
    if "observed_value" in result:
        return _jsonable(result["observed_value"])
    summary = {k: result[k] for k in ("unexpected_count", "unexpected_percent") if k in result}
    if "partial_unexpected_list" in result:
        summary["partial_unexpected_list"] = result["partial_unexpected_list"]
    return _jsonable(summary, MAX_UNEXPECTED_VALUES)


def _same(a: Any, b: Any) -> bool:
    ca, cb = a.configuration, b.configuration
    return ca.type == cb.type and ca.kwargs == cb.kwargs


def _arrow_type_results(table: pa.Table, expected_fields: list[tuple[str, str]]) -> list[ExpectationResult]:
    # Columns missing from the replica are reported by the ordered column list expectation.
    actual = {field.name: str(field.type) for field in table.schema}
    return [
        ExpectationResult(
            ARROW_TYPE_EXPECTATION, {"column": name, "type": want}, actual[name] == want, actual[name], MANIFEST
        )
        for name, want in expected_fields
        if name in actual
    ]


def validate_table(
    table: pa.Table,
    *,
    dataset: str,
    region: str,
    partition: str,
    expected_rows: int,
    expected_fields: list[tuple[str, str]],
    expectations: list[tuple[str, dict]],
) -> ValidationReport:
    """Validate a replica's table against its source manifest and the dataset's expectations.

    Raises ValueError for an unknown expectation type or invalid kwargs (a config error, not a
    data failure); every data failure is a failed result in the report.
    """
    planned: list[tuple[str, str, dict]] = [
        (MANIFEST, "expect_table_row_count_to_equal", {"value": expected_rows}),
        (MANIFEST, "expect_table_columns_to_match_ordered_list", {"column_list": [n for n, _ in expected_fields]}),
        *((DATASET, type_, kwargs) for type_, kwargs in expectations),
    ]
    built = [_build_expectation(type_, kwargs, i) for i, (_, type_, kwargs) in enumerate(planned)]

    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # No temporary data docs site and no tqdm bars ("Calculating Metrics") in task logs.
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    name = f"replica-{uuid.uuid4().hex[:12]}"
    source = context.data_sources.add_pandas(name)
    try:
        batch = (
            source.add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe(name)
            .get_batch(batch_parameters={"dataframe": table.to_pandas()})
        )
        suite = context.suites.add(gx.ExpectationSuite(name=name))
        for expectation in built:
            suite.add_expectation(expectation)
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_UNEXPECTED_VALUES}
        suite_result = batch.validate(suite, result_format=result_format)
    finally:
        context.data_sources.delete(name)  # drop the engine's cached reference to the dataframe

    # Results come back in no particular order; GX also drops an expectation equal to one
    # already in the suite, so a duplicate takes the result of its earlier twin.
    by_index = {r.expectation_config.meta[_INDEX_KEY]: r for r in suite_result.results}
    results: list[ExpectationResult] = []
    for i, (origin, type_, kwargs) in enumerate(planned):
        found = by_index[i] if i in by_index else next(by_index[j] for j in range(i) if _same(built[j], built[i]))
        results.append(ExpectationResult(type_, _jsonable(dict(kwargs)), bool(found.success), _observed(found), origin))
    results[2:2] = _arrow_type_results(table, expected_fields)
    return ValidationReport(dataset, region, partition, all(r.success for r in results), tuple(results))
