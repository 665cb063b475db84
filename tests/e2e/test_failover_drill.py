"""failover_drill in the running world, with the failover automation armed.

A drill scales a region's serving to 0 through the Kubernetes API, records its RTO figures and
hands the region back to recovery; a drill refuses while a region is in maintenance; and a drill
whose observe task fails mid-way (marked failed through the API) still hands the region back.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid

import httpx
import pytest
from localworld import drills

from multiregion.core.scaling_config import PREFIX
from multiregion.core.traffic_policy import ChangeKind
from multiregion.k8s import deployments
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController, backend_for

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "failover_drill"
FAST = {"hold_s": 3, "step_hold_s": 3, "resync": False}


@contextlib.contextmanager
def _no_downtime(world):
    """Every serving Deployment in uptime whatever the hour (its annotation overrides the file)."""
    for region in world.topology.regions:
        deployments.annotate(region, region.kubernetes.deployment, {PREFIX + "uptime": "always"})
    try:
        yield
    finally:
        for region in world.topology.regions:
            deployments.annotate(region, region.kubernetes.deployment, {PREFIX + "uptime": None})


@pytest.fixture
def drill(world, airflow_client, armed):
    arm, _ = armed
    arm(FAST)
    airflow_client.wait_for_dag(DAG_ID)
    with _no_downtime(world):
        airflow_client.unpause(DAG_ID)
        try:
            yield
        finally:
            # Unpausing lets Airflow catch up on the last slot: that run is refused (late) or, in
            # its own hour, drills for real and hands back. Let it end before pausing again.
            drills.wait_for(f"{DAG_ID} runs to end", lambda: not drills.active_runs(airflow_client, DAG_ID), 900, 2)
            airflow_client.pause(DAG_ID)


def _trigger(airflow_client, conf: dict) -> tuple[str, dict]:
    run_id = f"e2e-drill-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf=conf, run_id=run_id)
    return run_id, airflow_client.wait(DAG_ID, run_id, timeout=900)


def _row(run_id: str) -> dict:
    (row,) = [d for d in StateStore().drills(50) if d["run_id"] == run_id]
    return row


def test_a_drill_measures_the_outage_and_hands_the_region_back(world, airflow_client, drill):
    region = world.topology.region("eu-west-1")
    replicas = deployments.replicas(region)[0]
    run_id, run = _trigger(airflow_client, {"region": region.name, "rto_objective_s": 120})
    assert run["state"] == "success", airflow_client.task_log(DAG_ID, run_id, "record")

    row = _row(run_id)
    f = row["figures"]
    print(f"drill of {region.name}: {f}")
    assert (row["outcome"], row["method"]) == ("completed", "scale_to_zero")
    assert 0 < f["detection_s"] <= f["drain_s"] <= f["dns_s"] and f["rto_met"] and f["restoration_s"] > 0
    # Europe's own clients were sent to it until DNS moved them: they saw the outage
    assert f["requests"] > 0 and 0 < f["error_rate"] < 1 and 0 < f["client_outage_s"] <= f["dns_s"] + 6
    assert backend_for(world.topology).get_weights() == drills.original_weights(world)
    assert deployments.replicas(region)[0] == replicas
    # restored: Europe's clients (their subnet) are answered by their nearest region again
    assert backend_for(world.topology).resolve(30, source="127.2.7.7") == {region.name}
    since = time.time() - 900
    audit = [a for a in StateStore().audit(30) if a["region"] == region.name and a["at"].timestamp() > since]
    assert {"drain", "restore_step"} <= {a["action"] for a in audit}  # the automation did the work
    metrics = httpx.get(f"{world.topology.monitoring.pushgateway_url}/metrics", timeout=10).text
    assert re.search(rf'multiregion_drill_rto_seconds{{.*region="{region.name}".*}} {f["rto_s"]}', metrics)


def test_a_drill_refuses_during_maintenance_and_hands_back_when_a_task_fails(world, airflow_client, drill):
    traffic = TrafficController(world.topology)
    traffic.set_weight("ap-south-1", 0, ChangeKind.SET, "drill e2e: a drained region", None)
    try:
        run_id, run = _trigger(airflow_client, {"region": "us-west-2"})
    finally:
        traffic.reset(drills.original_weights(world), "drill e2e: back")
    assert run["state"] == "failed"
    assert _row(run_id)["outcome"] == "refused" and "ap-south-1 not at its original weight" in _row(run_id)["detail"]
    assert "refused" in airflow_client.task_log(DAG_ID, run_id, "preflight")

    # mid-drill failure: the observe task is failed by hand while the region is out
    region = world.topology.region("us-west-2")
    replicas = deployments.replicas(region)[0]
    run_id = f"e2e-drill-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf={"region": region.name}, run_id=run_id)

    def observing() -> bool:
        return any(t["task_id"] == "observe" and t["state"] == "running"
                   for t in airflow_client.task_instances(DAG_ID, run_id))  # fmt: skip

    drills.wait_for("observe running", observing, 300, 1)
    from airflow_client.client.models import PatchTaskInstanceBody

    airflow_client.task_instances_api.patch_task_instance(
        DAG_ID, run_id, "observe", PatchTaskInstanceBody(new_state="failed")
    )
    run = airflow_client.wait(DAG_ID, run_id, timeout=900)
    states = {t["task_id"]: t["state"] for t in airflow_client.task_instances(DAG_ID, run_id)}
    assert run["state"] == "failed" and states["hand_back"] == "success" and states["record"] == "failed", states
    assert _row(run_id)["outcome"] == "failed"
    assert deployments.replicas(region)[0] == replicas
    backend, original = backend_for(world.topology), drills.original_weights(world)
    # hand_back saw the region restored; any other region still finishing its own recovery, too
    drills.wait_for(f"weights {original}", lambda: backend.get_weights() == original, 120, 1)
