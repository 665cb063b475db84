"""replicate_model end to end: a training pipeline registers a model and replicates it over REST."""

from __future__ import annotations

import uuid

import httpx
import pytest
from localworld import controller

from multiregion.airflow_api import AirflowApiError
from multiregion.client import replicate_model
from multiregion.registry.mlflow_registry import RegionRegistry
from multiregion.serving.health_client import get_health

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "replicate_model"


@pytest.fixture
def model_name():
    return f"test-model-{uuid.uuid4().hex[:8]}"


def _state(world, model):
    """(version count, champion version) per region."""
    out = {}
    for region in world.topology.regions:
        registry = RegionRegistry(region)
        versions = registry.client.search_model_versions(f"name = '{model}'") if _exists(registry, model) else []
        out[region.name] = (len(versions), registry.alias_version(model, "champion") if versions else None)
    return out


def _exists(registry, model):
    from mlflow.exceptions import MlflowException

    try:
        registry.client.get_registered_model(model)
        return True
    except MlflowException:
        return False


def test_training_pipeline_replicates_and_every_region_serves_it(world, airflow_client, training_pipeline):
    """The serving model (churn-classifier@champion): train, register, replicate over REST, served everywhere."""
    pipeline = training_pipeline
    model = world.topology.primary.serving.model
    version = pipeline.train_and_register(model, world.topology.primary.registry.uri)
    airflow_client.wait_for_dag(DAG_ID)
    result = replicate_model(model, version=version, client=airflow_client)
    assert result.state == "success", result.failed_tasks
    versions = result.promoted["versions"]
    assert set(versions) == set(world.topology.region_names)
    for region in world.topology.regions:  # serving followed the alias (promote waits for it)
        health = get_health(region.serving.endpoints[0])
        assert health["version"] == versions[region.name], region.name
        rows = [{"tenure_months": 3.0, "monthly_spend": 80.0, "support_tickets": 4.0}]
        prediction = httpx.post(f"{region.serving.endpoints[0]}/predict", json={"instances": rows}, timeout=10).json()
        assert prediction["version"] == versions[region.name] and len(prediction["predictions"]) == 1

    before = _state(world, model)
    again = replicate_model(model, version=version, client=airflow_client, run_id=f"{result.run_id}-again")
    assert again.state == "success"
    assert _state(world, model) == before  # no new version, no alias churn
    assert again.promoted["moved"] == []


def test_failed_region_moves_no_alias_and_a_rerun_completes(world, airflow_client, model_name, training_pipeline):
    pipeline = training_pipeline
    # REST only: the model opts out of the registry webhook (no staged run queued ahead of ours)
    v1 = pipeline.train_and_register(model_name, world.topology.primary.registry.uri, seed=1, on_registration=False)
    first = replicate_model(model_name, version=v1, client=airflow_client)
    assert first.state == "success"
    v2 = pipeline.train_and_register(model_name, world.topology.primary.registry.uri, seed=2, on_registration=False)
    before = _state(world, model_name)

    controller.stop_service(world, "mlflow-ap-south-1")
    try:
        failed = replicate_model(model_name, version=v2, client=airflow_client, timeout=900)
    finally:
        controller.start_service(world, "mlflow-ap-south-1")
    assert failed.state == "failed"
    assert any(t.startswith("replicate_to[ap-south-1]") for t in failed.failed_tasks)
    after_failure = _state(world, model_name)
    assert {r: alias for r, (_, alias) in after_failure.items()} == {r: alias for r, (_, alias) in before.items()}
    log = airflow_client.task_log(DAG_ID, failed.run_id, "promote", 1)
    assert "not moved in any region" in log and "ap-south-1" in log

    rerun = replicate_model(model_name, version=v2, client=airflow_client)  # same request: a new attempt
    assert rerun.state == "success" and rerun.run_id.endswith("__attempt-2")
    final = _state(world, model_name)
    assert all(alias == str(rerun.promoted["versions"][r]) for r, (_, alias) in final.items())
    assert final["us-west-2"][1] == v2


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"model": "no-such-model", "version": "1"}, "unknown model 'no-such-model'"),
        ({"model": "churn-classifier", "version": "1", "alias": "champion"}, "exactly one of version or alias"),
        ({"model": "churn-classifier", "version": "9999"}, "has no version 9999"),
    ],
)
def test_bad_rest_input_fails_fast_and_writes_nothing(world, airflow_client, conf, message):
    before = _state(world, "churn-classifier")
    run_id = f"e2e-bad-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf=conf, run_id=run_id)
    assert airflow_client.wait(DAG_ID, run_id, timeout=300)["state"] == "failed"
    tis = {t["task_id"]: t for t in airflow_client.task_instances(DAG_ID, run_id)}
    assert tis["resolve"]["state"] == "failed" and tis["resolve"]["try_number"] == 1
    assert message in airflow_client.task_log(DAG_ID, run_id, "resolve")
    assert _state(world, "churn-classifier") == before


@pytest.mark.parametrize(
    "conf",
    [
        {"model": "churn-classifier", "version": "abc"},
        {"model": "churn classifier", "version": "1"},
        {"model": "churn-classifier", "alias": "not an alias"},
        {"model": "churn-classifier", "version": "1", "promote": "yes"},
    ],
)
def test_what_a_schema_can_judge_is_refused_with_400_and_no_run(airflow_client, conf):
    airflow_client.wait_for_dag(DAG_ID)
    run_id = f"e2e-400-{uuid.uuid4().hex[:8]}"
    with pytest.raises(AirflowApiError, match="HTTP 400"):
        airflow_client.trigger(DAG_ID, conf=conf, run_id=run_id)
    assert airflow_client.find_run(DAG_ID, run_id) is None
