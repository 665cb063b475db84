"""The smoke DAG, run by the running Airflow (scheduler, executor, triggerer) over the REST API."""

from __future__ import annotations

import uuid

import httpx
import pytest

from multiregion.airflow_api import AirflowApiError

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "smoke_object_stores"


def test_smoke_dag_verifies_every_region_store(airflow_client, world):
    airflow_client.wait_for_dag(DAG_ID)
    run_id = f"e2e-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf={}, run_id=run_id)
    run = airflow_client.wait(DAG_ID, run_id, timeout=300)
    tis = airflow_client.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    checks = [t for t in tis if t["task_id"] == "verify_probe"]
    assert sorted(t["rendered_map_index"] for t in checks) == sorted(world.topology.region_names)
    assert all(t["state"] == "success" for t in checks)

    metrics = httpx.get(f"{world.topology.monitoring.pushgateway_url}/metrics", timeout=10).text
    for region in world.topology.region_names:
        assert f'multiregion_smoke_ok{{instance="",job="smoke_object_stores",region="{region}"}} 1' in metrics


def test_unknown_region_param_is_refused_by_the_api_and_creates_no_run(airflow_client):
    airflow_client.wait_for_dag(DAG_ID)
    run_id = f"e2e-bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(AirflowApiError, match=r"HTTP 400.*mars-1"):
        airflow_client.trigger(DAG_ID, conf={"regions": ["mars-1"]}, run_id=run_id)
    assert airflow_client.find_run(DAG_ID, run_id) is None
