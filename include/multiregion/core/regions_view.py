"""What the Regions page shows for each region (pure: the signals are gathered by ``ops.regions``).

A tile's status, worst first:
- ``down``: the serving endpoint fails Prometheus's scrapes, or the health watcher judged it unhealthy;
- ``maintenance``: an operator drained it and holds it;
- ``drained``: no traffic (failover drained it; recovery is on it);
- ``degraded``: serving and in traffic, but a warning or critical alert about it is firing, or a
  replica is over its SLO;
- ``unknown``: no probe verdict and no scrape yet;
- ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Which DAG made a traffic change (the audit keeps the run id only).
DAG_OF_ACTION = {"drain": "region_failover", "restore_step": "region_recovery", "rollback": "region_recovery"}


@dataclass
class Signals:
    """Everything gathered for one refresh; a source that failed is named in ``errors``."""

    regions: list[dict[str, str]]  # name, cloud, primary
    weights: dict[str, int] = field(default_factory=dict)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)  # region -> state, last_probe_at, ...
    maintenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    drained_since: dict[str, float] = field(default_factory=dict)
    metrics: list[tuple[dict[str, str], float]] = field(default_factory=list)  # raw series
    request_rates: dict[str, float] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # active, from Alertmanager
    audit: list[dict[str, Any]] = field(default_factory=list)
    drills: dict[str, dict[str, Any]] = field(default_factory=dict)  # region -> its latest failover drill
    errors: dict[str, str] = field(default_factory=dict)


def _series(metrics: list[tuple[dict[str, str], float]], name: str, region: str) -> list[tuple[dict[str, str], float]]:
    return [(m, v) for m, v in metrics if m.get("__name__") == name and m.get("region") == region]


def _share(value: float, total: float) -> float | None:
    return round(value / total, 4) if total > 0 else None


_LAG = {
    "dataset": ("multiregion_replication", "multiregion_replication_last_success_timestamp_seconds"),
    "model": ("multiregion_model_replication", "multiregion_model_promoted_timestamp_seconds"),
}


def _replication(metrics, region: str, key: str) -> list[dict[str, Any]]:
    """Per dataset (or model): the worst lag of its last replication into ``region`` and its SLO."""
    prefix, at_metric = _LAG[key]
    rows: dict[str, dict[str, Any]] = {}
    for m, v in _series(metrics, f"{prefix}_lag_seconds", region):
        row = rows.setdefault(m[key], {key: m[key], "lag_seconds": v})
        row["lag_seconds"] = max(row["lag_seconds"], v)
    for m, v in _series(metrics, f"{prefix}_lag_slo_seconds", region):
        if m[key] in rows:
            rows[m[key]]["slo_seconds"] = v
    for m, v in _series(metrics, at_metric, region):
        if m[key] in rows:
            rows[m[key]]["at"] = max(rows[m[key]].get("at", 0), v)
    for row in rows.values():
        slo = row.get("slo_seconds")
        row["over_slo"] = slo is not None and row["lag_seconds"] > slo
    return sorted(rows.values(), key=lambda r: r[key])


def _alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": a["labels"].get("alertname"), "severity": a["labels"].get("severity"),
         "summary": a.get("annotations", {}).get("summary", "")}
        for a in alerts
    ]  # fmt: skip


INTEGRITY_ALERTS = ("ReplicaValidationFailed", "ReplicaCorrupt", "ReplicaUnrepairable")


def _integrity(metrics, region: str, alerts: list[dict[str, Any]], now: float) -> str:
    """The replicas' integrity: from the integrity alerts and the last scrub's figures."""
    scrub = {m["__name__"].removeprefix("multiregion_scrub_"): v for m, v in metrics
             if m.get("region") == region and m.get("__name__", "").startswith("multiregion_scrub_")}  # fmt: skip
    firing = sorted({a["name"] for a in alerts if a["name"] in INTEGRITY_ALERTS})
    if firing or scrub.get("unrepairable_objects", 0) > 0:
        return "failed: " + ", ".join(firing or ["objects lost"])
    if "last_success_timestamp_seconds" not in scrub:
        return "ok (not scrubbed yet)"
    hours = (now - scrub["last_success_timestamp_seconds"]) / 3600
    repaired = int(scrub.get("repaired_objects", 0))
    return f"ok (scrubbed {hours:.0f} h ago" + (f", {repaired} repaired)" if repaired else ")")


def _drill(row: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    """The region's latest failover drill: outcome, RTO against its objective, a link to its run."""
    if row is None:
        return None
    f = row["figures"] or {}
    if row["outcome"] == "completed":
        met = "met" if f.get("rto_met") else "MISSED"
        errors = 100 * (f.get("error_rate") or 0)
        text = (f"RTO {f.get('rto_s')} s ({met}, objective {f.get('rto_objective_s'):.0f} s), "
                f"detected {f.get('detection_s')} s, clients' errors {errors:.1f} %")  # fmt: skip
    else:
        text = "did not complete (handed back to recovery)"
    return {"summary": text, "ago_s": round(now - row["at"]), "outcome": row["outcome"],
            "link": f"dags/failover_drill/runs/{row['run_id']}" if row.get("run_id") else None}  # fmt: skip


def _status(s: Signals, name: str, up: list[float], alerts: list, over_slo: bool) -> str:
    if (up and min(up) == 0) or s.health.get(name, {}).get("state") == "unhealthy":
        return "down"
    if name in s.maintenance:
        return "maintenance"
    if s.weights.get(name) == 0:
        return "drained"
    if over_slo or any(a["severity"] in ("warning", "critical") for a in alerts):  # info: news, not trouble
        return "degraded"
    if not up and s.health.get(name, {}).get("state") in (None, "unknown"):
        return "unknown"
    return "ok"


def _row(s: Signals, info: dict[str, Any], now: float, total_weight: int, total_rate: float) -> dict[str, Any]:
    name = info["name"]
    up = [v for _, v in _series(s.metrics, "up", name)]
    alerts = _alert_rows([a for a in s.alerts if a["labels"].get("region") == name])
    datasets, models = _replication(s.metrics, name, "dataset"), _replication(s.metrics, name, "model")
    served = _series(s.metrics, "multiregion_serving_model_version", name)
    cost = [v for _, v in _series(s.metrics, "multiregion_cost_effective_daily", name)]
    replicas = {m["__name__"]: v for n in ("multiregion_scaling_replicas", "multiregion_scaling_desired_replicas")
                for m, v in _series(s.metrics, n, name) if m.get("dry_run") == "False"}  # fmt: skip
    weight = s.weights.get(name)
    rate = s.request_rates.get(name, 0.0)
    drained = weight == 0 and name in s.drained_since
    return {
        **info,
        "status": _status(s, name, up, alerts, any(r["over_slo"] for r in datasets + models)),
        "serving_up": None if not up else min(up) > 0,
        "health": s.health.get(name, {}),
        "weight": weight,
        "weight_share": _share(weight or 0, total_weight),
        "request_share": _share(rate, total_rate),
        "requests_per_s": round(rate, 3),
        "maintenance": s.maintenance.get(name),
        "drained_for_s": round(now - s.drained_since[name]) if drained else None,
        "models": [{"model": m.get("model"), "version": int(v)} for m, v in served if v > 0],
        "datasets": datasets,
        "model_replication": models,
        "integrity": _integrity(s.metrics, name, alerts, now),
        "cost_yesterday": round(sum(cost), 2) if cost else None,
        "cost_anomalies": [a["summary"] for a in alerts if a["name"] == "CostAnomaly"],
        "replicas": replicas.get("multiregion_scaling_replicas"),
        "replicas_scheduled": replicas.get("multiregion_scaling_desired_replicas"),
        "last_drill": _drill(s.drills.get(name), now),
        "alerts": alerts,
    }


def _link(entry: dict[str, Any]) -> str | None:
    dag_id = DAG_OF_ACTION.get(entry["action"])
    return f"dags/{dag_id}/runs/{entry['run_id']}" if dag_id and entry.get("run_id") else None


def region_rows(s: Signals, now: float) -> list[dict[str, Any]]:
    total_weight, total_rate = sum(s.weights.values()), sum(s.request_rates.values())
    return [_row(s, info, now, total_weight, total_rate) for info in s.regions]


def overview(s: Signals, now: float) -> dict[str, Any]:
    return {
        "generated_at": now,
        "regions": region_rows(s, now),
        "events": [{**e, "link": _link(e)} for e in s.audit],
        "errors": s.errors,
    }
