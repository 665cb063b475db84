"""Task bodies of ``cost_analysis``: plan the days, ingest each cloud, publish the days, analyse, report.

ingest (one task per cloud) finds that cloud's complete deliveries, normalizes them and stages one
Parquet file per charge day (content-addressed, invisible); publish (one writer) checks each cloud's
staged rows with the Great Expectations suite, then makes each day's manifest and pointer, keeping
a failed cloud's previous file (a partial day); analyse reads the published days; report writes the HTML report,
pushes metrics, alerts, and fails the run if a cloud's export was missing or invalid.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from multiregion.core.cost_config import CostConfig, load_cost_config
from multiregion.core.egress import MEASURED_RATES_KEY
from multiregion.core.errors import BadInputError
from multiregion.core.topology import Topology, load_topology
from multiregion.cost.exports import DATA_SUFFIXES, CostExportInvalid, CostExportMissing, find_delivery, period_of
from multiregion.stores.registry import region_store

log = logging.getLogger(__name__)
EXPORT_MISSING, EXPORT_INVALID = "CostExportMissing", "CostExportInvalid"
ANOMALY, CROSS_CHECK = "CostAnomaly", "CostCrossCheckMismatch"
INGEST_FAILED = "CostIngestFailed"


def _world() -> tuple[Topology, CostConfig]:
    topology = load_topology()
    return topology, load_cost_config(topology)


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def plan(
    run_day: str, start: str = "", end: str = "", clouds: list[str] | None = None, backfill_of: str = ""
) -> dict[str, Any]:
    """The charge days to (re-)ingest: ``start``..``end`` if given (a backfill by params), the day
    before ``backfill_of`` (a run of Airflow's own backfill), else the trailing window before the
    run's day and the open billing period; and the clouds. Anomalies are judged as of the earlier
    of the day after the last and the run's day (today is never complete)."""
    _, config = _world()
    unknown = sorted(set(clouds or []) - set(config.clouds))
    if unknown:
        raise BadInputError(f"clouds: unknown {unknown} (configured: {sorted(config.clouds)})")
    today = _day(run_day, "run day")
    if start or end:
        first, last = _day(start or end, "start"), _day(end or start, "end")
        if last < first:
            raise BadInputError(f"end {last} is before start {first}")
    elif backfill_of:
        first = last = _day(backfill_of, "logical date") - timedelta(days=1)
    else:
        last = today - timedelta(days=1)
        first = min(last - timedelta(days=config.window_days - 1), last.replace(day=1))
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return {
        "days": days,
        "periods": sorted({period_of(date.fromisoformat(d)) for d in days}),
        "clouds": sorted(clouds or config.clouds),
        "as_of": min(last + timedelta(days=1), today).isoformat(),
        "run_day": today.isoformat(),
    }


def ingest(cloud: str, planned: dict[str, Any]) -> dict[str, Any]:
    """Stage ``cloud``'s rows of the planned days. An unusable delivery alerts and is reported, not
    raised: its period's days keep their previous file, the other periods and clouds go on, and
    report fails the run at the end."""
    topology, config = _world()
    try:
        return _ingest(topology, config, cloud, planned)
    except (CostExportMissing, CostExportInvalid) as exc:  # e.g. the normalized rows fail the suite
        _export_alert(topology, cloud, exc)
        return {"cloud": cloud, "error": str(exc), "days": {}, "failed_days": planned["days"]}


def _export_alert(topology: Topology, cloud: str, exc: Exception) -> None:
    name = EXPORT_MISSING if isinstance(exc, CostExportMissing) else EXPORT_INVALID
    log.error("%s: %s", name, exc)
    _alert(topology, name, {"cloud": cloud}, f"{cloud} FOCUS export unusable", str(exc))


def _read_delivery(con, source, delivery, cloud: str, region_ids: dict[str, str], tmp: Path, n0: int) -> list[str]:
    """Download and normalize one delivery's files; the temp tables. Any failure names the file."""
    import duckdb

    from multiregion.cost import normalize
    from multiregion.stores.errors import ObjectStoreError

    tables = []
    for n, key in enumerate(delivery.keys):
        label = source.url_for(key)
        suffix = next(s for s in DATA_SUFFIXES if key.endswith(s))  # DuckDB reads by it (gzip too)
        local = tmp / f"{n0 + n}{suffix}"
        try:
            with local.open("wb") as fh:
                for chunk in source.iter_read(key):
                    fh.write(chunk)
            out = f"f_{n0 + n}"
            normalize.normalize_file(con, normalize.FileRef(local, label), cloud, region_ids, out)
        except (ObjectStoreError, OSError, duckdb.Error) as exc:
            raise CostExportInvalid(f"{label}: cannot be read: {' '.join(str(exc).split())[:300]}") from exc
        tables.append(out)
    return tables


def _ingest(topology: Topology, config: CostConfig, cloud: str, planned: dict[str, Any]) -> dict[str, Any]:
    from multiregion.cost import normalize, table

    spec = config.clouds[cloud]
    source = region_store(topology.region(spec.region))
    con = normalize.connect()
    parts, errors, failed_periods, runs = [], [], set(), []
    with tempfile.TemporaryDirectory(prefix=f"cost-{cloud}-") as tmp:
        for period in planned["periods"]:
            try:
                delivery = find_delivery(source, spec, period)
                parts += _read_delivery(con, source, delivery, cloud, spec.region_ids, Path(tmp), 1000 * len(runs))
                runs.append(delivery.run)
            except (CostExportMissing, CostExportInvalid) as exc:
                _export_alert(topology, cloud, exc)
                errors.append(str(exc))
                failed_periods.add(period)
    failed_days = [d for d in planned["days"] if period_of(date.fromisoformat(d)) in failed_periods]
    result = {"cloud": cloud, "days": {}, "failed_days": failed_days, "deliveries": runs}
    if errors:
        result["error"] = "; ".join(errors)
    if not parts:
        return result
    normalize.union(con, parts, "cloud_rows")
    days_sql = ", ".join(f"DATE {normalize.lit(d)}" for d in planned["days"] if d not in failed_days)
    rows = con.sql(f"SELECT * FROM cloud_rows WHERE x_ChargeDate IN ({days_sql}) ORDER BY ALL").to_arrow_table()
    unmapped = normalize.unmapped_regions(con, "cloud_rows")
    if unmapped:
        log.warning("%s: native region id(s) not in region_ids (rows kept, region empty): %s", cloud, unmapped)
    central = region_store(topology.primary)
    for day in planned["days"]:
        part = table.day_rows(rows, day)
        if part is not None:
            data = table.to_parquet(part)
            result["days"][day] = (table.stage(central, config.table, data), len(data), part.num_rows)
    log.info("%s: %d rows over %d day(s) from %s", cloud, rows.num_rows, len(result["days"]), runs)
    return {**result, "rows": rows.num_rows, "unmapped_region_ids": unmapped}


def _validate(rows, cloud: str) -> None:
    """The FOCUS 1.2 column rules as a Great Expectations suite over a cloud's staged rows (in
    publish, once per run: importing GX costs ~5 s, too much for every ingest task)."""
    from multiregion.cost.focus_suite import expectations, expected_fields
    from multiregion.replication.validation import validate_table

    report = validate_table(
        rows,
        dataset="focus",
        region=cloud,
        partition="window",
        expected_rows=rows.num_rows,
        expected_fields=expected_fields(rows.schema),
        expectations=expectations(),
    )
    if not report.success:
        raise CostExportInvalid(f"{cloud}: normalized rows fail the FOCUS suite:\n{report.summary()}")


def publish(results: list[dict[str, Any] | None], planned: dict[str, Any]) -> dict[str, Any]:
    """Each planned day's new version (or nothing, if unchanged): the one writer of the day pointers.
    A cloud keeps its previous file on the days it could not deliver, or whose ingest task failed."""
    from multiregion.cost import table
    from multiregion.replication.publish import collect_garbage

    topology, config = _world()
    central = region_store(topology.primary)
    done = {r["cloud"]: r for r in results if r}
    errors = [{"cloud": c, "error": r["error"]} for c, r in done.items() if r.get("error")]
    for cloud in sorted(set(planned["clouds"]) - set(done)):  # its task failed (see its log)
        message = f"{cloud}: the ingest task failed (see its log); its previous files are kept"
        _alert(topology, INGEST_FAILED, {"cloud": cloud}, f"{cloud} cost ingest failed", message)
        errors.append({"cloud": cloud, "error": message})
        done[cloud] = {"cloud": cloud, "days": {}, "failed_days": planned["days"]}
    for cloud, result in done.items():  # nothing is published that fails the FOCUS suite
        if not result["days"]:
            continue
        try:
            _validate(table.read_staged(central, config.table, [f[0] for f in result["days"].values()]), cloud)
        except CostExportInvalid as exc:
            _export_alert(topology, cloud, exc)
            errors.append({"cloud": cloud, "error": str(exc)})
            done[cloud] = {**result, "days": {}, "failed_days": planned["days"]}
    absent = set(config.clouds) - set(planned["clouds"])
    out = []
    for day in planned["days"]:
        failed = {c for c, r in done.items() if day in r.get("failed_days", [])}
        files = {c: tuple(r["days"][day]) for c, r in done.items() if day in r["days"]}
        result = table.publish_day(central, config.table, day, files, failed | absent, topology.primary.name)
        out.append({"day": day, "version": result.version, "changed": result.changed, "rows": result.rows,
                    "kept": list(result.kept), "partial": sorted(failed)})  # fmt: skip
    # superseded versions beyond the retention, and staged files no run published (a killed run's)
    gc = collect_garbage(central, config.table, config.retention.keep_versions, config.retention.min_age_hours)
    changed = [d["day"] for d in out if d["changed"]]
    log.info("published %d day(s), %d new version(s): %s; collected %d superseded version(s), %d file(s)",
             len(out), len(changed), changed, gc.manifests_deleted, gc.objects_deleted)  # fmt: skip
    failed_clouds = sorted({e["cloud"] for e in errors})
    return {"days": out, "changed": changed, "failed": failed_clouds, "errors": errors}


def analyse(planned: dict[str, Any], published: dict[str, Any]) -> dict[str, Any]:
    """The analysis of the planned days (anomalies over the baseline weeks before them too)."""
    from multiregion.core.cost_anomaly import AnomalySettings
    from multiregion.cost import analysis, normalize, table
    from multiregion.replication import ledger

    topology, config = _world()
    central = region_store(topology.primary)
    days = planned["days"]
    as_of = date.fromisoformat(planned["as_of"])
    a = config.anomaly
    settings = AnomalySettings(
        baseline_weeks=a.baseline_weeks,
        min_history=a.min_history,
        k=a.threshold,
        impact_floor=a.impact_floor,
        settle_days=a.settle_days,
        # judged: from the first planned day to the last settled one
        window_days=max(1, (as_of - date.fromisoformat(days[0])).days - a.settle_days),
    )
    history_from = date.fromisoformat(days[0]) - timedelta(days=7 * a.baseline_weeks + a.settle_days)
    published_days = sorted(d for d in table.published_days(central, config.table) if history_from.isoformat() <= d)
    published_days = [d for d in published_days if d <= days[-1]]
    con = normalize.connect()
    with tempfile.TemporaryDirectory(prefix="cost-analysis-") as tmp:
        analysis.load(con, table.download_days(central, config.table, published_days, Path(tmp)), config)
        transfers = [
            analysis.Transfer(e["day"], e["kind"], e["name"], e["source_region"], e["region"], int(e["bytes_copied"]))
            for e in ledger.read(central, days)
            if e.get("source_region") and e.get("bytes_copied")
        ]
        result = analysis.analyse(
            con,
            days,
            published_days,
            config,
            as_of,
            settings,
            {r.name: r.cost_tags for r in topology.regions},
            {r.name: r.cloud.value for r in topology.regions},
            transfers,
        )
        result.update(
            {
                **_cross_check(con, config, days, as_of),
                "scale_down": _scale_down(topology, config),
                "partial": published["failed"],
                "errors": [e["error"] for e in published["errors"]],
            }
        )
    return result


def _cross_check(con, config: CostConfig, days: list[str], as_of: date) -> dict[str, list[dict[str, Any]]]:
    """FOCUS usage totals against Cost Explorer's per settled day: differences over the tolerance,
    and a day one side has and the other lacks; a cloud whose API could not be asked is listed as
    unavailable (the report says so) rather than failing the analysis."""
    from multiregion.cost import analysis
    from multiregion.cost.cost_explorer import CostExplorerUnavailable, daily_usage_totals

    settled = [d for d in days if date.fromisoformat(d) < as_of - timedelta(days=config.anomaly.settle_days)]
    out: list[dict[str, Any]] = []
    unavailable: list[dict[str, str]] = []
    for cloud, check in config.cross_check.items() if settled else ():
        ours = analysis.usage_totals(con, settled, cloud)
        try:
            theirs = daily_usage_totals(check.conn_id, date.fromisoformat(settled[0]), date.fromisoformat(settled[-1]))
        except CostExplorerUnavailable as exc:
            log.warning("cost cross-check of %s skipped: %s", cloud, exc)
            unavailable.append({"cloud": cloud, "error": str(exc)})
            continue
        for day in settled:
            if day not in ours and day not in theirs:
                continue
            mine, other = ours.get(day, Decimal(0)), theirs.get(day, Decimal(0))
            if day not in ours or day not in theirs or abs(mine - other) > Decimal(str(check.tolerance)):
                out.append({"cloud": cloud, "day": day, "focus": analysis.plain_value(ours.get(day)),
                            "cost_explorer": analysis.plain_value(theirs.get(day)),
                            "difference": analysis.plain_value(mine - other)})  # fmt: skip
    return {"cross_check": out, "cross_check_unavailable": unavailable}


def _scale_down(topology: Topology, config: CostConfig) -> list[dict[str, Any]]:
    import time

    from multiregion.core.scaledown import hour_of_week_means, low_windows, monthly_saving
    from multiregion.monitoring.prometheus import PrometheusError, hourly_request_rates

    sd = config.scale_down
    try:
        rates = hourly_request_rates(topology.monitoring.prometheus_url, topology.region_names, sd.weeks, time.time())
    except PrometheusError as exc:
        log.warning("no scale-down recommendations: %s", exc)
        return []
    out = []
    for region in topology.regions:
        windows = low_windows(hour_of_week_means(rates[region.name]), sd.low_fraction, sd.min_hours)
        if windows:
            saved = 1  # one replica per low window, never below the region's minimum (the schedule enforces it)
            out.append(
                {
                    "region": region.name,
                    "deployment": region.kubernetes.deployment,
                    "downtime": ", ".join(w.spec for w in windows),
                    "hours_per_week": sum(w.hours_per_week for w in windows),
                    "monthly_saving": monthly_saving(windows, saved, sd.replica_hour_cost),
                }
            )
    return out


def _alert(topology: Topology, name: str, labels: dict[str, str], summary: str, description: str) -> None:
    from multiregion.monitoring.alertmanager import AlertError, send_alert

    try:
        send_alert(topology.monitoring.alertmanager_url, name, labels, summary, description, severity="warning")
    except AlertError as exc:
        log.error("alert %s not delivered: %s", name, exc)


def report(result: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The HTML report in the central store, the metrics, the alerts; fails if a cloud's export was unusable."""
    from multiregion.core.errors import PermanentError
    from multiregion.cost import report as html
    from multiregion.monitoring.pushgateway import push_gauges

    topology, config = _world()
    central = region_store(topology.primary)
    url = html.write(central, config, result, run_id)
    recent = date.fromisoformat(result["days"][-1]) >= date.fromisoformat(result["as_of"]) - timedelta(days=3)
    if result["egress_rates"] and recent:  # the replication route choice prices egress with these from now on
        rates = {"per_gb": result["egress_rates"], "days": [result["days"][0], result["days"][-1]], "run_id": run_id}
        central.write(MEASURED_RATES_KEY, json.dumps(rates).encode(), content_type="application/json")
    for a in result["anomalies"]:
        labels = {"cloud": a["cloud"], "region": a["region"], "service": a["service"], "day": a["day"]}
        _alert(topology, ANOMALY, labels, f"cost {a['direction']}: {a['service']} in {a['region']}", a["summary"])
    for c in result["cross_check"]:
        desc = f"{c['day']}: FOCUS {c['focus']} vs Cost Explorer {c['cost_explorer']} (difference {c['difference']})"
        _alert(topology, CROSS_CHECK, {"cloud": c["cloud"], "day": c["day"]}, "cost totals disagree", desc)
    _push_metrics(topology, result, push_gauges)
    summary = html.summary(result)
    log.info("cost report: %s\n%s", url, summary)
    if result["errors"]:
        raise PermanentError(
            f"{len(result['errors'])} cloud export(s) unusable (days kept partial): {result['errors']}"
        )
    return {"report": url, "anomalies": len(result["anomalies"]), "summary": summary}


def _push_metrics(topology: Topology, result: dict[str, Any], push_gauges) -> None:
    import time

    last = result["days"][-1]
    gw = topology.monitoring.pushgateway_url
    for row in result["by_region"]:
        if row["day"] != last:
            continue
        push_gauges(
            gw,
            "cost_analysis",
            {"cost_effective_daily": float(row["effective"]), "cost_billed_daily": float(row["billed"])},
            {"cloud": row["x_Cloud"], "region": row["x_Region"] or "global"},
        )
    replication = sum(Decimal(r["cost"]) for r in result["replication_egress"] if r["cost"])
    spot_saved = sum(Decimal(r["saved"]) for r in result["spot"]["realized"])
    push_gauges(
        gw,
        "cost_analysis_run",
        {
            "cost_anomalies": len(result["anomalies"]),
            "cost_replication_egress": float(replication),
            "cost_spot_saved": float(spot_saved),
            "cost_partial_clouds": len(result["partial"]),
        },
    )
    if not result["errors"]:  # its own group: a failed run must not erase the last success
        push_gauges(gw, "cost_analysis_success", {"cost_last_success_timestamp_seconds": time.time()})
