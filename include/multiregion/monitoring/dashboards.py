"""The Grafana dashboards, built with grafana-foundation-sdk (the Grafana 11.6 flavour, pinned) and
written as JSON to ``deploy/grafana/dashboards`` (Compose provisions that folder):

    python -m multiregion.monitoring.dashboards deploy/grafana/dashboards

An overview (region health and weights, DNS share, failovers and restorations, replication lag
against SLO, model version per region, cost per region per day, Airflow health) and one per
capability. Airflow's counters are matched with ``(_total)?``: the world's bridge (prometheus-client)
adds the suffix, prom/statsd-exporter does not. tests/unit/test_dashboards.py keeps the files equal
to this output; tests/monitoring/test_dashboard_queries.py runs every query against the world.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")  # the Compose provisioning's uid
HEARTBEATS = [
    (f'sum(rate({{__name__=~"airflow_{c}_heartbeat(_total)?"}}[1m]))', c)
    for c in ("scheduler", "triggerer", "dag_processor")
]
DNS_SHARE = "multiregion_traffic_weight / scalar(sum(multiregion_traffic_weight))"
LAG = "max by (dataset, region) (multiregion_replication_lag_seconds)"
LAG_SLO = "max by (dataset, region) (multiregion_replication_lag_slo_seconds)"
REQUESTS = "sum by (region, status) (rate(multiregion_serving_requests_total[1m]))"
LATENCY = "histogram_quantile(0.95, sum by (region, le) (rate(multiregion_serving_latency_seconds_bucket[5m])))"
BYTES = "sum by (dataset, region) (multiregion_replication_bytes_copied)"

# (panel kind, title, unit, [(expr, legend)], width)
Panel = tuple[str, str, str, list[tuple[str, str]], int]


def _panel(kind: str, title: str, unit: str, targets: list[tuple[str, str]], width: int, ident: int):
    builder = {"stat": stat.Panel, "timeseries": timeseries.Panel, "state": statetimeline.Panel}[kind]()
    builder = builder.id(ident).title(title).datasource(DATASOURCE).unit(unit).span(width).height(7)
    for n, (expr, legend) in enumerate(targets):
        builder = builder.with_target(prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(65 + n)))
    return builder


def _dashboard(uid: str, title: str, rows: list[tuple[str, list[Panel]]]) -> dict[str, Any]:
    board = (
        dashboard.Dashboard(title).uid(uid).tags(["multiregion"]).refresh("10s").time("now-6h", "now").timezone("utc")
    )
    ident = 1
    for row_title, panels in rows:
        board = board.with_row(dashboard.Row(row_title).id(ident))
        ident += 1
        for kind, title, unit, targets, width in panels:
            board = board.with_panel(_panel(kind, title, unit, targets, width, ident))
            ident += 1
    return json.loads(JSONEncoder(sort_keys=True).encode(board.build()))


def overview() -> dict[str, Any]:
    return _dashboard(
        "multiregion-overview",
        "Multi-region overview",
        [
            ("Regions", [
                ("stat", "Serving endpoint up", "none", [('up{job="serving"}', "{{region}}")], 6),
                ("stat", "Health (watcher: 1 healthy, 0 unhealthy, -1 unknown)", "none",
                 [("multiregion_region_health", "{{region}}")], 6),
                ("stat", "Model version served", "none",
                 [("multiregion_serving_model_version", "{{region}} {{model}}")], 6),
                ("stat", "Traffic weight", "none", [("multiregion_traffic_weight", "{{region}}")], 6),
            ]),
            ("Traffic", [
                ("timeseries", "DNS answer share (weight / total)", "percentunit", [(DNS_SHARE, "{{region}}")], 12),
                ("state", "Failovers, restorations and maintenance (weight over time)", "none",
                 [("multiregion_traffic_weight", "{{region}}")], 12),
            ]),
            ("Replication, cost, Airflow", [
                ("timeseries", "Dataset replication lag vs SLO", "s",
                 [(LAG, "{{dataset}} -> {{region}}"), (LAG_SLO, "SLO {{dataset}} -> {{region}}")], 8),
                ("stat", "Effective cost per region (last day)", "currencyUSD",
                 [("multiregion_cost_effective_daily", "{{cloud}} {{region}}")], 8),
                ("timeseries", "Airflow heartbeats per second", "none", HEARTBEATS, 8),
            ]),
        ],
    )  # fmt: skip


def traffic() -> dict[str, Any]:
    return _dashboard(
        "multiregion-traffic",
        "Multi-region traffic, health and failover",
        [
            ("Serving", [
                ("timeseries", "Prediction requests per second", "reqps",
                 [(REQUESTS, "{{region}} {{status}}")], 12),
                ("timeseries", "Prediction latency p95", "s",
                 [(LATENCY, "{{region}}")], 12),
            ]),
            ("Failover", [
                ("timeseries", "Traffic weight", "none", [("multiregion_traffic_weight", "{{region}}")], 8),
                ("state", "Region health (watcher)", "none", [("multiregion_region_health", "{{region}}")], 8),
                ("stat", "Health watcher heartbeat age", "s",
                 [("time() - multiregion_health_watcher_heartbeat_timestamp_seconds", "age")], 8),
                ("stat", "Failover refused (1: unhealthy, not drained)", "none",
                 [("multiregion_failover_refused", "{{region}}")], 12),
                ("stat", "In maintenance", "none", [("multiregion_region_maintenance", "{{region}}")], 12),
            ]),
        ],
    )  # fmt: skip


def replication() -> dict[str, Any]:
    return _dashboard(
        "multiregion-replication",
        "Multi-region replication",
        [
            ("Datasets", [
                ("timeseries", "Lag vs SLO per dataset and region", "s",
                 [(LAG, "{{dataset}} -> {{region}}"), (LAG_SLO, "SLO {{dataset}} -> {{region}}")], 12),
                ("timeseries", "Bytes copied per replica (last run)", "bytes",
                 [(BYTES, "{{dataset}} -> {{region}}")], 12),
                ("stat", "Bytes per route (last run)", "bytes",
                 [("multiregion_replication_route_bytes", "{{route}}")], 12),
                ("stat", "Egress cost per route (last run)", "currencyUSD",
                 [("multiregion_replication_route_cost_usd", "{{route}}")], 12),
            ]),
            ("Models", [
                ("timeseries", "Model replication lag vs SLO (registration -> live)", "s",
                 [("multiregion_model_replication_lag_seconds", "{{model}} {{region}}"),
                  ("multiregion_model_replication_lag_slo_seconds", "SLO {{model}} {{region}}")], 24),
            ]),
            ("Integrity at rest (scrub_replicas)", [
                ("stat", "Bad / repaired / not repairable (last scrub)", "none",
                 [("multiregion_scrub_bad_objects", "bad {{region}}"),
                  ("multiregion_scrub_repaired_objects", "repaired {{region}}"),
                  ("multiregion_scrub_unrepairable_objects", "lost {{region}}")], 12),
                ("stat", "Longest since an object was read and hashed", "s",
                 [("multiregion_scrub_oldest_verified_age_seconds", "{{region}}")], 6),
                ("stat", "Bytes read by the deep pass (last scrub)", "bytes",
                 [("multiregion_scrub_read_bytes", "{{region}}")], 6),
            ]),
        ],
    )  # fmt: skip


def cost_scaling() -> dict[str, Any]:
    return _dashboard(
        "multiregion-cost-scaling",
        "Multi-region cost and scaling",
        [
            ("Cost", [
                ("stat", "Effective cost per region (last day)", "currencyUSD",
                 [("multiregion_cost_effective_daily", "{{cloud}} {{region}}")], 12),
                ("stat", "Billed cost per region (last day)", "currencyUSD",
                 [("multiregion_cost_billed_daily", "{{cloud}} {{region}}")], 12),
                ("stat", "Anomalies in the last analysis", "none", [("multiregion_cost_anomalies", "anomalies")], 8),
                ("stat", "Replication egress over the window", "currencyUSD",
                 [("multiregion_cost_replication_egress", "egress")], 8),
                ("stat", "Hours since the last cost analysis", "h",
                 [("(time() - multiregion_cost_last_success_timestamp_seconds) / 3600", "hours")], 8),
            ]),
            ("Scaling", [
                ("timeseries", "Replicas vs schedule", "none",
                 [("multiregion_scaling_replicas", "{{region}} {{deployment}} (dry run {{dry_run}})"),
                  ("multiregion_scaling_desired_replicas", "scheduled {{region}} {{deployment}}")], 24),
            ]),
        ],
    )  # fmt: skip


def airflow() -> dict[str, Any]:
    return _dashboard(
        "multiregion-airflow",
        "Airflow health",
        [
            ("Components", [
                ("timeseries", "Heartbeats per second", "none", HEARTBEATS, 12),
                ("timeseries", "Scheduler loop duration (mean)", "s",
                 [("rate(airflow_scheduler_scheduler_loop_duration_sum[5m]) / "
                   "rate(airflow_scheduler_scheduler_loop_duration_count[5m])", "loop")], 12),
            ]),
            ("Work", [
                ("timeseries", "Executor slots", "none",
                 [("airflow_executor_open_slots", "open"), ("airflow_executor_queued_tasks", "queued"),
                  ("airflow_executor_running_tasks", "running")], 8),
                ("stat", "Task outcomes since start", "none",
                 [('sum by (__name__) ({__name__=~"airflow_ti_(successes|failures)(_total)?"})', "{{__name__}}")], 8),
                ("stat", "DAG import errors", "none", [("airflow_dag_processing_import_errors", "files")], 8),
                ("timeseries", "Mean DAG run duration (success)", "s",
                 [("sum by (dag_id) (airflow_dagrun_duration_success_sum) / "
                   "sum by (dag_id) (airflow_dagrun_duration_success_count)", "{{dag_id}}")], 24),
            ]),
        ],
    )  # fmt: skip


DASHBOARDS = {
    "multiregion-overview.json": overview,
    "multiregion-traffic.json": traffic,
    "multiregion-replication.json": replication,
    "multiregion-cost-scaling.json": cost_scaling,
    "multiregion-airflow.json": airflow,
}


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every target of a dashboard's JSON."""
    for panel in board.get("panels", []):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def queries_without_data(prometheus_url: str) -> list[tuple[str, str, str]]:
    """(dashboard, panel, PromQL) of every query that returns no series (or fails) right now."""
    from multiregion.monitoring.prometheus import PrometheusError, instant

    empty = []
    for name, build in DASHBOARDS.items():
        for title, expr in queries(build()):
            try:
                if instant(prometheus_url, expr):
                    continue
            except PrometheusError as exc:
                title = f"{title} ({exc})"
            empty.append((name, title, expr))
    return empty


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, build in DASHBOARDS.items():
        path = folder / name
        path.write_text(json.dumps(build(), indent=2, sort_keys=True) + "\n")
        out.append(path)
    return out


if __name__ == "__main__":
    for written in write(Path(sys.argv[1])):
        print(written)
