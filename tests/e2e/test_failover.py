"""Failover, recovery and staged restoration, end to end in the running world.

The failover DAG is armed (unpaused) only for these tests: its health watcher would otherwise
drain regions that other tests stop on purpose. Each test leaves the world as it found it:
every serving process up, the topology's weights in DNS, the automation disarmed.
"""

from __future__ import annotations

import time

import pytest
from localworld import drills

from multiregion.monitoring.alertmanager import active_alerts
from multiregion.ops.failover import FAILOVER_REFUSED, REGION_DRAINED
from multiregion.ops.recovery import RESTORED, ROLLED_BACK
from multiregion.registry.mlflow_registry import RegionRegistry
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import backend_for

pytestmark = [pytest.mark.world, pytest.mark.airflow]
FAST = {"hold_s": 3, "step_hold_s": 3, "resync": False}


def _alerts(world, name: str, region: str, since: float) -> list[dict]:
    from datetime import datetime

    # updatedAt, not startsAt: a re-fired alert keeps the startsAt of the still-active one it merges into
    return [
        a
        for a in active_alerts(world.topology.monitoring.alertmanager_url, name)
        if a["labels"].get("region") == region and datetime.fromisoformat(a["updatedAt"]).timestamp() >= since - 1
    ]


def _audit_since(run_ids_after: float) -> list[dict]:
    return [a for a in reversed(StateStore().audit(200)) if a["at"].timestamp() >= run_ids_after]


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def test_region_down_drained_recovered_then_a_regression_rolls_back_and_it_is_restored(world, armed, airflow_client):
    arm, started = armed
    backend = backend_for(world.topology)
    original = drills.original_weights(world)
    arm({**FAST, "resync": True, "step_hold_s": 6})

    at = drills.take_down(world, "us-west-2")
    took = drills.time_to_drain(world, "us-west-2", at)
    print(f"us-west-2 down: weight 0 after {took['weight_zero_s']}s, out of DNS after {took['dns_gone_s']}s")
    weights = backend.get_weights()
    assert weights == {**original, "us-west-2": 0}
    assert StateStore().original_weights() == {"us-west-2": 50}  # recorded before the change
    drills.wait_for("RegionDrained alert", lambda: _alerts(world, REGION_DRAINED, "us-west-2", at), 60)

    # recovery restarts it (Kubernetes rollout restart -> the world's controller), holds, resyncs,
    # then restores in steps; the first step's weight is 10 % of 50
    drills.wait_for("first restoration step", lambda: backend.get_weights()["us-west-2"] == 5, 300)
    regressed = drills.take_down(world, "us-west-2")  # a regression while at 5
    drills.wait_for("rollback to 0", lambda: backend.get_weights()["us-west-2"] == 0, 60)
    drills.wait_for("RestoreRolledBack alert", lambda: _alerts(world, ROLLED_BACK, "us-west-2", regressed), 120)

    # the new failure starts a new recovery, which brings it all the way back
    drills.wait_for("full restoration", lambda: backend.get_weights() == original, 600, interval=2)
    drills.wait_for("RegionRestored alert", lambda: _alerts(world, RESTORED, "us-west-2", regressed), 60)
    assert not _alerts(world, REGION_DRAINED, "us-west-2", at)  # resolved by the restoration

    trail = [(a["region"], a["action"], a["new_weights"]["us-west-2"]) for a in _audit_since(started)]
    assert trail[0] == ("us-west-2", "drain", 0)
    steps = [w for r, action, w in trail if action == "restore_step"]
    assert steps[:1] == [5] and steps[-4:] == [5, 12, 25, 50]  # 10/25/50/100 % of 50
    assert ("us-west-2", "rollback", 0) in trail or trail.count(("us-west-2", "drain", 0)) == 2
    assert StateStore().original_weights() == {}  # forgotten once restored

    # the recoveries planned a resync before restoring; with a champion in the primary registry, its
    # replication ran (a fresh world has none yet: the model tests run after these)
    recoveries = [r for r in airflow_client.runs(drills.RECOVERY_DAG, limit=10) if r["run_after"] >= _iso(started)]
    planned = [
        t["state"]
        for r in recoveries
        for t in airflow_client.task_instances(drills.RECOVERY_DAG, r["dag_run_id"])
        if t["task_id"] == "resync_plan"
    ]
    assert planned and set(planned) == {"success"}, planned
    primary = world.topology.primary
    if RegionRegistry(primary).alias_version(primary.serving.model, primary.serving.alias):
        resyncs = [
            r for r in airflow_client.runs("replicate_model", limit=20) if r["dag_run_id"].startswith("resync__")
        ]
        assert any(r["state"] == "success" and r["start_date"] >= _iso(started) for r in resyncs), resyncs


def test_regions_failing_one_after_the_other_never_drain_the_last_healthy_one(world, armed):
    arm, _ = armed
    backend = backend_for(world.topology)
    original = drills.original_weights(world)
    arm({**FAST, "restart": False})  # no auto-restart: the regions stay down while the next fails

    drills.time_to_drain(world, "us-west-2", drills.take_down(world, "us-west-2"))
    drills.time_to_drain(world, "eu-west-1", drills.take_down(world, "eu-west-1"))
    assert backend.get_weights() == {"us-west-2": 0, "eu-west-1": 0, "ap-south-1": original["ap-south-1"]}

    at = drills.take_down(world, "ap-south-1")  # the last one: fail open, alert, change nothing
    drills.wait_for("FailoverRefused alert", lambda: _alerts(world, FAILOVER_REFUSED, "ap-south-1", at), 60)
    assert backend.get_weights()["ap-south-1"] == original["ap-south-1"]
    assert backend.serves("ap-south-1")


def test_all_regions_down_changes_nothing_and_alerts(world, armed):
    arm, started = armed
    backend = backend_for(world.topology)
    original = drills.original_weights(world)
    arm(FAST)

    with drills.frozen(world, *world.topology.region_names) as at:  # all fail in the same probe round
        for region in world.topology.region_names:
            refused = lambda r=region: _alerts(world, FAILOVER_REFUSED, r, at)  # noqa: E731
            drills.wait_for(f"FailoverRefused for {region}", refused, 60)
        assert backend.get_weights() == original
    assert not [a for a in _audit_since(started) if a["action"] == "drain"]


def test_a_region_flapping_faster_than_the_thresholds_changes_nothing(world, armed, airflow_client):
    arm, started = armed
    original = drills.original_weights(world)
    arm(FAST)
    since = _iso(time.time())

    # frozen 1.5 s of every 4: each time unreachable, never for 3 probes in a row
    assert drills.flap(world, "eu-west-1", cycles=6, down_s=1.5, up_s=2.5) == 6
    flapped = time.time()
    drills.wait_for(  # the watcher has judged probes after the last freeze (it persists every 10 s)
        "a health record after the flapping",
        lambda: (StateStore().load_health()["eu-west-1"].last_probe_at or 0) > flapped,
        60,
    )
    assert backend_for(world.topology).get_weights() == original
    assert not [r for r in airflow_client.runs(drills.FAILOVER_DAG, limit=20) if r["run_after"] >= since]
    assert not _audit_since(started)
    assert StateStore().load_health()["eu-west-1"].state.value == "healthy"
