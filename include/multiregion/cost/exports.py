"""Find each cloud's FOCUS export where and how that cloud delivers it (one complete delivery per period).

- AWS Data Exports: ``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json``
  lists the period's data files (``dataFiles``); it is written after them, so only what a manifest
  lists is read, and every file it lists must exist.
- Azure Cost Management (``FocusCost``): ``<prefix>/<export>/<YYYYMMDD-YYYYMMDD>/<run>/manifest.json``
  per run, listing its blobs; the newest complete run of a period wins (runs overwrite by adding).
- Google: the FOCUS view exported to GCS (``EXPORT DATA`` into
  ``<prefix>/<export>/BILLING_PERIOD=YYYY-MM/<run>/*.parquet``, then ``_SUCCESS`` written by the job
  that ran it); the newest run with ``_SUCCESS`` wins.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from multiregion.core.cost_config import ExportSpec, Layout
from multiregion.core.errors import BadInputError
from multiregion.stores.base import ObjectStore
from multiregion.stores.errors import ObjectNotFound

DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz")
SUCCESS = "_SUCCESS"


class CostExportMissing(BadInputError):
    """No complete delivery of a period (nothing there, or still being delivered)."""


class CostExportInvalid(BadInputError):
    """A delivery that cannot be read as FOCUS (names the file, the column, the row)."""


@dataclass(frozen=True)
class Delivery:
    cloud: str
    period: str  # YYYY-MM
    run: str  # the delivery's id (AWS execution, Azure/GCS run folder)
    keys: tuple[str, ...]  # data files, relative to the store


def period_of(day: date) -> str:
    return f"{day:%Y-%m}"


def _base(spec: ExportSpec) -> str:
    return "/".join(p for p in (spec.prefix.strip("/"), spec.export) if p) + "/"


def _is_data(key: str) -> bool:
    return key.endswith(DATA_SUFFIXES)


def _read_json(store: ObjectStore, key: str, cloud: str) -> dict:
    try:
        data = json.loads(b"".join(store.iter_read(key)))
    except ValueError as exc:
        raise CostExportInvalid(f"{cloud}: {store.url_for(key)}: not a JSON manifest: {exc}") from None
    if not isinstance(data, dict):
        raise CostExportInvalid(f"{cloud}: {store.url_for(key)}: not a JSON manifest object")
    return data


def _require(store: ObjectStore, keys: list[str], manifest_key: str, cloud: str) -> None:
    present = {info.key for prefix in {k.rsplit("/", 1)[0] + "/" for k in keys} for info in store.list(prefix)}
    missing = [k for k in keys if k not in present]
    if missing:
        raise CostExportInvalid(
            f"{cloud}: {store.url_for(manifest_key)} names {len(missing)} missing file(s), "
            f"e.g. {store.url_for(missing[0])}"
        )


def _relative(store: ObjectStore, uri_or_key: str) -> str:
    """A manifest's file reference as a key in ``store`` (URIs of the store's bucket, or plain keys)."""
    base = store.url_for("")
    if uri_or_key.startswith(base):
        return uri_or_key[len(base) :]
    return uri_or_key.split("://", 1)[1].split("/", 1)[-1] if "://" in uri_or_key else uri_or_key.lstrip("/")


def _aws(store: ObjectStore, spec: ExportSpec, period: str) -> Delivery:
    manifest_key = f"{_base(spec)}metadata/BILLING_PERIOD={period}/{spec.export}-Manifest.json"
    try:
        manifest = _read_json(store, manifest_key, "aws")
    except ObjectNotFound:
        data = [i.key for i in store.list(f"{_base(spec)}data/BILLING_PERIOD={period}/") if _is_data(i.key)]
        state = f"{len(data)} data file(s) without a manifest: still being delivered" if data else "nothing delivered"
        raise CostExportMissing(f"aws: {store.url_for(manifest_key)}: {state}") from None
    files = manifest.get("dataFiles")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise CostExportInvalid(f"aws: {store.url_for(manifest_key)}: field dataFiles: expected a list of file URIs")
    keys = [_relative(store, f) for f in files]
    _require(store, keys, manifest_key, "aws")
    return Delivery("aws", period, str(manifest.get("executionId", "")), tuple(keys))


def _when(text: object) -> datetime:
    """A run's submitted time (ISO 8601); an unparsable one sorts first (never the newest)."""
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def month_folder(period: str) -> str:
    year, month = map(int, period.split("-"))
    last = calendar.monthrange(year, month)[1]
    return f"{year:04d}{month:02d}01-{year:04d}{month:02d}{last:02d}"


def _azure(store: ObjectStore, spec: ExportSpec, period: str) -> Delivery:
    folder = f"{_base(spec)}{month_folder(period)}/"
    listed = [i.key for i in store.list(folder)]
    manifests = sorted(k for k in listed if k.endswith("/manifest.json"))  # run folders begin with their time
    if not manifests:
        runs = {k[len(folder) :].split("/", 1)[0] for k in listed if "/" in k[len(folder) :]}
        state = f"{len(runs)} run(s) without a manifest: still being delivered" if runs else "no run delivered"
        raise CostExportMissing(f"azure: {store.url_for(folder)}: {state}")
    candidates, broken = [], []
    for key in manifests:
        try:
            manifest = _read_json(store, key, "azure")
            blobs = manifest.get("blobs")
            if not isinstance(blobs, list) or not all(isinstance(b, dict) and "blobName" in b for b in blobs):
                raise CostExportInvalid(
                    f"azure: {store.url_for(key)}: field blobs: expected a list of {{blobName: ...}}"
                )
        except CostExportInvalid as exc:
            broken.append((key, exc))
            continue
        info = manifest.get("runInfo")
        submitted = _when(info.get("submittedTime") if isinstance(info, dict) else None)
        candidates.append((submitted, key, [_relative(store, b["blobName"]) for b in blobs]))
    newest_broken = max(broken, default=None, key=lambda b: b[0])
    if not candidates or (newest_broken and newest_broken[0] > max(candidates)[1]):
        raise newest_broken[1]  # a newer run than any good one is unreadable: not silently skipped
    _, key, keys = max(candidates)  # the newest run wins (an older unreadable one is superseded)
    _require(store, keys, key, "azure")
    return Delivery("azure", period, key[len(folder) :].rsplit("/", 1)[0], tuple(keys))


def _gcs(store: ObjectStore, spec: ExportSpec, period: str) -> Delivery:
    folder = f"{_base(spec)}BILLING_PERIOD={period}/"
    by_run: dict[str, list[str]] = {}
    for info in store.list(folder):
        run, _, _name = info.key[len(folder) :].partition("/")
        by_run.setdefault(run, []).append(info.key)
    complete = sorted(run for run, keys in by_run.items() if any(k.endswith("/" + SUCCESS) for k in keys))
    if not complete:
        state = f"{len(by_run)} run(s) without {SUCCESS}: still being exported" if by_run else "no export run"
        raise CostExportMissing(f"gcp: {store.url_for(folder)}: {state}")
    run = complete[-1]  # run folders are named by their UTC start time, so the last is the newest
    keys = sorted(k for k in by_run[run] if _is_data(k))
    if not keys:
        raise CostExportInvalid(f"gcp: {store.url_for(folder + run + '/')}: {SUCCESS} but no data file")
    return Delivery("gcp", period, run, tuple(keys))


_FINDERS = {Layout.AWS_DATA_EXPORTS: _aws, Layout.AZURE_COST_MANAGEMENT: _azure, Layout.GCS_FOCUS_EXPORT: _gcs}


def find_delivery(store: ObjectStore, spec: ExportSpec, period: str) -> Delivery:
    """The delivery of ``period`` to read, or CostExportMissing / CostExportInvalid saying why not."""
    return _FINDERS[spec.layout](store, spec, period)
