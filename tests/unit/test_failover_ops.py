"""Failover/recovery helpers: what a recovery resyncs, recovery run ids, the Alertmanager notifier."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from multiregion.monitoring.alertmanager import active_alerts
from multiregion.notifiers.alertmanager import AlertmanagerNotifier, task_failed_notifier
from multiregion.ops.failover import recovery_requests
from multiregion.ops.recovery import missed_partitions


def test_missed_partitions_are_the_source_versions_the_replica_lacks():
    source = {"2026-11-01": "v1", "2026-11-02": "v2", "2026-11-03": "v3"}
    replica = {"2026-11-01": "v1", "2026-11-02": "old"}
    assert missed_partitions(source, replica) == ["2026-11-02", "2026-11-03"]
    assert missed_partitions(source, source) == []
    assert missed_partitions({}, replica) == []  # a replica-only partition is not the source's news


def test_recovery_requests_one_per_drained_region_with_stable_run_ids():
    result = {"drained": [{"region": "us-west-2"}, {"region": "eu-west-1"}], "refused": []}
    run_id = "asset_triggered__2026-11-27T02:26:59.819407+00:00_74lXoqWh"
    requests = recovery_requests(result, run_id)
    assert [r["conf"] for r in requests] == [{"region": "us-west-2"}, {"region": "eu-west-1"}]
    assert requests == recovery_requests(result, run_id)  # a re-run triggers the same runs (idempotent)
    assert all(
        set(r["trigger_run_id"]) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        for r in requests
    )
    assert recovery_requests({"drained": [], "refused": [{"region": "x"}]}, run_id) == []
    # a region left at 0 by a rolled-back restoration gets a recovery too
    stalled = recovery_requests({"drained": [], "refused": [], "stalled": ["ap-south-1"]}, run_id)
    assert [r["conf"] for r in stalled] == [{"region": "ap-south-1"}]


@pytest.mark.world
def test_notifier_renders_its_templates_and_alerts_through_alertmanager(world):
    from airflow.sdk import DAG

    run_id = f"notifier-{uuid.uuid4().hex[:8]}"
    context = {
        "run_id": run_id,
        "dag": DAG("region_failover", schedule=None),
        "ti": SimpleNamespace(task_id="drain"),
        "exception": RuntimeError("PowerDNS API unreachable"),
    }
    task_failed_notifier("NotifierTest")(context)
    (alert,) = [
        a
        for a in active_alerts(world.topology.monitoring.alertmanager_url, "NotifierTest")
        if run_id in a["annotations"]["summary"]
    ]
    assert alert["labels"].items() >= {"dag_id": "region_failover", "task_id": "drain", "severity": "critical"}.items()
    assert alert["annotations"]["summary"] == f"region_failover.drain failed in run {run_id}"
    assert alert["annotations"]["description"] == "PowerDNS API unreachable"
    assert AlertmanagerNotifier("X", "y").template_fields == ("alertname", "summary", "description", "labels")
