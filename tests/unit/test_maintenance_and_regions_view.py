"""Pure rules of maintenance drains and of the Regions page's tiles."""

from __future__ import annotations

import pytest

from multiregion.core.health import HealthState
from multiregion.core.regions_view import Signals, overview
from multiregion.core.traffic_policy import (
    Action,
    ChangeKind,
    MaintenanceHold,
    decide_maintenance_drain,
    decide_weight,
    plan_failover,
)

H, U = HealthState.HEALTHY, HealthState.UNHEALTHY
W = {"a": 50, "b": 30, "c": 20}


def test_a_maintenance_drain_follows_the_failover_rules():
    d = decide_maintenance_drain("a", W, {"a": H, "b": H, "c": H}, set(), "patching")
    assert d.action == Action.DRAIN and d.new_weights == {"a": 0, "b": 30, "c": 20} and "patching" in d.reason
    last = decide_maintenance_drain("c", {"a": 0, "b": 0, "c": 20}, {"a": H, "b": H, "c": H}, set(), "x")
    assert last.action == Action.REFUSE_LAST_HEALTHY and last.new_weights["c"] == 20
    # b is healthy by its probes but in maintenance: it does not count as a survivor
    held = decide_maintenance_drain("a", {"a": 50, "b": 30, "c": 0}, {"a": H, "b": H, "c": U}, {"b"}, "x")
    assert held.action == Action.REFUSE_LAST_HEALTHY
    already = decide_maintenance_drain("c", {"a": 50, "b": 30, "c": 0}, {"a": H, "b": H, "c": U}, set(), "x")
    assert already.action == Action.NO_CHANGE
    with pytest.raises(ValueError, match="unknown region"):
        decide_maintenance_drain("z", W, {"a": H}, set(), "x")


def test_nothing_but_the_operator_raises_a_region_in_maintenance():
    drained = {"a": 0, "b": 30, "c": 20}
    for kind in (ChangeKind.RESTORE_STEP, ChangeKind.SET):
        with pytest.raises(MaintenanceHold, match="drained for maintenance"):
            decide_weight(kind, "a", 5, drained, "step", maintenance={"a"})
    assert decide_weight(ChangeKind.ROLLBACK, "a", 0, drained, "rollback", maintenance={"a"}).new["a"] == 0
    assert decide_weight(ChangeKind.MAINTENANCE_END, "a", 50, drained, "back", maintenance={"a"}).new["a"] == 50
    assert decide_weight(ChangeKind.RESTORE_STEP, "a", 5, drained, "step").new["a"] == 5  # not held


def test_failover_counts_maintenance_as_unavailable():
    from multiregion.core.traffic_policy import available

    health = available({"a": U, "b": H, "c": H}, {"b", "c"})
    assert plan_failover({"a": 50, "b": 0, "c": 20}, health)[0].action == Action.REFUSE_ALL_UNHEALTHY


def _signals(**kw) -> Signals:
    regions = [{"name": n, "cloud": c, "primary": n == "a"} for n, c in (("a", "aws"), ("b", "gcp"), ("c", "azure"))]
    up = [({"__name__": "up", "job": "serving", "region": n}, 1.0) for n in "abc"]
    return Signals(regions=regions, weights=dict(W), metrics=kw.pop("metrics", up), **kw)


def _status(s: Signals) -> dict[str, str]:
    return {r["name"]: r["status"] for r in overview(s, 1000.0)["regions"]}


def test_tile_status_worst_first():
    assert _status(_signals()) == {"a": "ok", "b": "ok", "c": "ok"}
    down = [({"__name__": "up", "region": n}, 0.0 if n == "c" else 1.0) for n in "abc"]
    assert _status(_signals(metrics=down))["c"] == "down"
    s = _signals(health={"b": {"state": "unhealthy"}}, maintenance={"a": {"reason": "x"}})
    s.weights["a"] = 0
    alert = {"labels": {"alertname": "CostAnomaly", "region": "c", "severity": "warning"},
             "annotations": {"summary": "spend up"}}  # fmt: skip
    news = {"labels": {"alertname": "RegionRestored", "region": "a", "severity": "info"}, "annotations": {}}
    s.alerts = [alert, news]
    rows = {r["name"]: r for r in overview(s, 1000.0)["regions"]}
    assert [rows[n]["status"] for n in "abc"] == ["maintenance", "down", "degraded"]
    assert rows["c"]["cost_anomalies"] == ["spend up"] and rows["a"]["weight_share"] == 0.0


def test_replication_lag_against_slo_and_event_links():
    m = [({"__name__": "up", "region": "b"}, 1.0),
         ({"__name__": "multiregion_replication_lag_seconds", "region": "b", "dataset": "d", "partition": "1"}, 1200.0),
         ({"__name__": "multiregion_replication_lag_seconds", "region": "b", "dataset": "d", "partition": "2"}, 10.0),
         ({"__name__": "multiregion_replication_lag_slo_seconds", "region": "b", "dataset": "d"}, 900.0)]  # fmt: skip
    audit = [{"id": 1, "action": "drain", "run_id": "r1", "region": "b"}, {"id": 2, "action": "maintenance",
              "run_id": None, "region": "a"}]  # fmt: skip
    out = overview(_signals(metrics=m, audit=audit), 1000.0)
    b = next(r for r in out["regions"] if r["name"] == "b")
    assert b["datasets"] == [{"dataset": "d", "lag_seconds": 1200.0, "slo_seconds": 900.0, "over_slo": True}]
    assert b["status"] == "degraded"
    assert [e["link"] for e in out["events"]] == ["dags/region_failover/runs/r1", None]


def test_replica_integrity_from_the_last_scrub_and_the_integrity_alerts():
    def scrub(region, name, value):
        return ({"__name__": f"multiregion_scrub_{name}", "region": region, "job": "scrub_replicas"}, value)

    m = [scrub("a", "last_success_timestamp_seconds", 1000.0 - 7200), scrub("a", "repaired_objects", 2.0),
         scrub("b", "last_success_timestamp_seconds", 1000.0), scrub("b", "unrepairable_objects", 1.0)]  # fmt: skip
    corrupt = {"labels": {"alertname": "ReplicaCorrupt", "region": "c", "severity": "critical"}, "annotations": {}}
    rows = {r["name"]: r["integrity"] for r in overview(_signals(metrics=m, alerts=[corrupt]), 1000.0)["regions"]}
    assert rows == {
        "a": "ok (scrubbed 2 h ago, 2 repaired)",
        "b": "failed: objects lost",
        "c": "failed: ReplicaCorrupt",
    }
    assert _status(_signals())["a"] == "ok"  # never scrubbed is not trouble
    assert overview(_signals(), 1000.0)["regions"][0]["integrity"] == "ok (not scrubbed yet)"


def test_the_last_drill_of_each_region_with_its_rto_and_run():
    drills = {
        "a": {"outcome": "completed", "at": 400.0, "run_id": "d1",
              "figures": {"rto_s": 6.1, "rto_met": True, "rto_objective_s": 120.0, "detection_s": 3.3,
                          "error_rate": 0.023}},
        "b": {"outcome": "failed", "at": 900.0, "run_id": "d2", "figures": {}},
    }  # fmt: skip
    rows = {r["name"]: r["last_drill"] for r in overview(_signals(drills=drills), 1000.0)["regions"]}
    assert rows["a"] == {
        "summary": "RTO 6.1 s (met, objective 120 s), detected 3.3 s, clients' errors 2.3 %",
        "ago_s": 600,
        "outcome": "completed",
        "link": "dags/failover_drill/runs/d1",
    }
    assert rows["b"]["summary"] == "did not complete (handed back to recovery)" and rows["c"] is None
