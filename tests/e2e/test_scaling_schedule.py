"""scaling_schedule in the running Airflow, on the world's Kubernetes API (the kube-api emulator).

A Deployment of the test's own, scheduled by annotations: a dry run at an injected instant changes
nothing; a downtime window scales it down and records the original on the Deployment; the uptime
window restores it; a drained region, a restoration in progress and an unhealthy region each
suspend the downscale. (Scheduled runs of the DAG may act on it between the test's runs: every
step asserts what any run at real time would leave too.)
"""

from __future__ import annotations

import uuid

import pytest
from localworld import controller as world_controller
from localworld import drills

from multiregion.core.scaling_config import ORIGINAL_REPLICAS, PREFIX
from multiregion.core.traffic_policy import ChangeKind
from multiregion.k8s import deployments
from multiregion.state.postgres import StateStore
from multiregion.traffic.controller import TrafficController

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "scaling_schedule"
IN_2030 = "2030-01-01T00:00+00:00-2030-01-02T00:00+00:00"


def _at_rest(world, airflow_client) -> None:
    """No failover automation still running (an earlier test's recovery could restore weights
    meanwhile), every serving up, the topology's weights, and every region judged healthy."""
    from multiregion.core.health import HealthState
    from multiregion.core.scaling_config import load_scaling
    from multiregion.ops.scaling import fleet_state

    def idle() -> bool:
        return not any(
            r["state"] in ("queued", "running")
            for dag_id in (drills.FAILOVER_DAG, drills.RECOVERY_DAG)
            for r in airflow_client.runs(dag_id, limit=5)
        )

    drills.wait_for("no failover or recovery run in progress", idle, 600, 2)
    drills.reset(world)
    config = load_scaling(world.topology)

    def calm() -> bool:
        fleet = fleet_state(world.topology, config)
        return not fleet.restoring and set(fleet.health.values()) == {HealthState.HEALTHY}

    drills.wait_for("every region healthy, nothing drained", calm, 120, 1)


@pytest.fixture
def scheduled(world, airflow_client):
    """A 4-replica Deployment in us-west-2 whose schedule is its annotations (no grace period)."""
    _at_rest(world, airflow_client)
    region = world.topology.region("us-west-2")
    name = f"e2e-batch-{uuid.uuid4().hex[:6]}"
    body = {
        "metadata": {
            "name": name,
            "annotations": {
                PREFIX + "downtime": IN_2030,
                PREFIX + "downtime-replicas": "1",
                PREFIX + "grace-period": "0s",
            },
        },
        "spec": {"replicas": 4},
    }
    deployments._apps_api(region).create_namespaced_deployment(region.kubernetes.namespace, body)
    traffic = TrafficController(world.topology)
    original = {r.name: r.traffic.weight for r in world.topology.regions}
    yield region, name
    deployments._apps_api(region).delete_namespaced_deployment(name, region.kubernetes.namespace)
    world_controller.start_service(world, "serving-ap-south-1")
    traffic.reset(original, "scaling e2e: back to the topology's weights")


def _state(region, name) -> tuple[int, str | None]:
    (info,) = [d for d in deployments.list_deployments(region) if d.name == name]
    return info.replicas, info.annotations.get(ORIGINAL_REPLICAS)


def _run(airflow_client, conf: dict) -> dict:
    run_id = f"e2e-scaling-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf=conf, run_id=run_id)
    run = airflow_client.wait(DAG_ID, run_id, timeout=300)
    assert run["state"] == "success", airflow_client.task_log(DAG_ID, run_id, "decide")
    planned = airflow_client.xcom_value(DAG_ID, run_id, "decide")
    return {
        "run_id": run_id,
        "decisions": planned["decisions"],
        "applied": airflow_client.xcom_value(DAG_ID, run_id, "apply"),
    }


def _mine(result: dict, name: str) -> dict:
    (decision,) = [d for d in result["decisions"] if d["deployment"] == name]
    return decision


def test_downtime_scales_down_uptime_restores_and_a_dry_run_changes_nothing(world, airflow_client, scheduled):
    region, name = scheduled
    airflow_client.wait_for_dag(DAG_ID)
    dry = _run(airflow_client, {"now": "2030-01-01T12:00:00+00:00", "dry_run": True})
    mine = _mine(dry, name)
    assert (mine["action"], mine["desired"]) == ("scale_down", 1), mine
    assert _state(region, name) == (4, None)  # reported only
    # Only this Deployment: the fleet's model-servers follow real-time schedules, so at the injected
    # instant one a scheduled run scaled down tonight may be due a (dry-run) restore too.
    audit = [a for a in StateStore().scaling_audit(50) if a["run_id"] == dry["run_id"]]
    assert all(a["dry_run"] for a in audit), audit
    assert [(a["action"], a["dry_run"]) for a in audit if a["deployment"] == name] == [("scale_down", True)]

    down = _run(airflow_client, {"now": "2030-01-01T12:00:00+00:00"})
    assert _mine(down, name)["action"] == "scale_down"
    assert name in [d["deployment"] for d in down["applied"]["changed"]]
    replicas, record = _state(region, name)
    assert (replicas, record) in ((1, "4"), (4, None))  # (4, None): a scheduled run at real time restored it since

    up = _run(airflow_client, {"now": "2030-01-02T12:00:00+00:00"})
    assert _mine(up, name)["action"] in ("restore", "none")
    assert _state(region, name) == (4, None)  # the recorded original, and the record gone
    restored = [a for a in StateStore().scaling_audit(50) if a["deployment"] == name and a["action"] == "restore"]
    assert restored and restored[0]["new_replicas"] == 4 and not restored[0]["dry_run"]


def test_a_drained_restoring_or_unhealthy_region_suspends_downscaling(world, airflow_client, scheduled):
    region, name = scheduled
    airflow_client.wait_for_dag(DAG_ID)
    deployments.annotate(region, name, {PREFIX + "downtime": "always"})
    traffic = TrafficController(world.topology)

    traffic.set_weight("ap-south-1", 0, ChangeKind.SET, "scaling e2e: maintenance drain", None)
    drained = _mine(_run(airflow_client, {}), name)
    assert drained["action"] == "none" and "suspended" in drained["reason"] and "drained" in drained["reason"]
    traffic.set_weight("ap-south-1", 5, ChangeKind.RESTORE_STEP, "scaling e2e: restoration step", None)
    restoring = _mine(_run(airflow_client, {}), name)
    assert restoring["action"] == "none" and "restoration in progress" in restoring["reason"]
    assert _state(region, name) == (4, None)  # a failover's replicas are never taken away meanwhile

    traffic.reset({r.name: r.traffic.weight for r in world.topology.regions}, "scaling e2e: restored")
    world_controller.stop_service(world, "serving-ap-south-1")
    try:
        unhealthy = _mine(_run(airflow_client, {}), name)
    finally:
        world_controller.start_service(world, "serving-ap-south-1")
    assert unhealthy["action"] == "none" and "not healthy" in unhealthy["reason"]
    assert _state(region, name) == (4, None)

    free = _mine(_run(airflow_client, {}), name)  # nothing blocks it any more
    assert free["action"] in ("scale_down", "none")
    assert _state(region, name) == (1, "4")


def test_a_failed_scale_call_alerts_and_fails_after_the_others(world, scheduled):
    """apply() in-process on the world's cluster: the missing Deployment alerts ScalingFailed,
    the other change is still made, audited and pushed as a metric, then the task fails."""
    import httpx

    from multiregion.monitoring.alertmanager import active_alerts
    from multiregion.ops.scaling import SCALING_FAILED, apply

    region, name = scheduled
    run_id = f"e2e-scaling-fail-{uuid.uuid4().hex[:6]}"
    change = {"region": region.name, "current": 4, "desired": 2, "action": "scale_down", "record": 4, "changed": True}
    planned = {
        "decisions": [
            {**change, "deployment": "no-such-deployment", "reason": "test"},
            {**change, "deployment": name, "reason": "test"},
        ]
    }
    with pytest.raises(RuntimeError, match="1 scaling change"):
        apply(planned, dry_run=False, run_id=run_id)
    assert _state(region, name) == (2, "4")
    alerts = active_alerts(world.topology.monitoring.alertmanager_url, SCALING_FAILED)
    assert any(
        a["labels"].get("deployment") == "no-such-deployment" and run_id in a["annotations"]["description"]
        for a in alerts
    )
    assert [a["deployment"] for a in StateStore().scaling_audit(20) if a["run_id"] == run_id] == [name]
    metrics = httpx.get(f"{world.topology.monitoring.pushgateway_url}/metrics", timeout=10).text
    assert f'multiregion_scaling_desired_replicas{{deployment="{name}",dry_run="False"' in metrics
    # the failed one is reported at its current replicas (ScalingBehindSchedule if it stays behind)
    assert 'multiregion_scaling_replicas{deployment="no-such-deployment",dry_run="False"' in metrics
