"""Replication on registration: the primary MLflow's webhooks, with no REST call from the test.

A new version in the primary registry ends registered and verified in every region with no alias
moved (staged); setting ``champion`` on it in the primary ends with every region serving it. The
webhook endpoint refuses forged, malformed and unknown-model deliveries, and a delivery sent twice
gives one replication.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from localworld.drills import wait_for

from multiregion.core.model_lineage import VERIFIED
from multiregion.core.registry_events import sign
from multiregion.registry.mlflow_registry import RegionRegistry
from multiregion.serving.health_client import get_health

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID, DISPATCH_DAG = "replicate_model", "model_registry_events"


@pytest.fixture(scope="module")
def webhook_url(world):
    return f"{world.airflow_url}/multiregion/webhooks/mlflow"


def _registry_run(client, prefix: str, timeout: float = 600) -> dict:
    """The replicate_model run a delivery started (its id starts with ``prefix``), once finished."""
    (run,) = wait_for(
        f"a replicate_model run {prefix}*",
        lambda: [r for r in client.runs(DAG_ID, limit=50) if r["dag_run_id"].startswith(prefix)],
        timeout,
        interval=2,
    )
    return client.wait(DAG_ID, run["dag_run_id"], timeout=timeout)


def _champions(world, model: str) -> dict[str, str | None]:
    return {r.name: RegionRegistry(r).alias_version(model, "champion") for r in world.topology.regions}


def test_new_version_is_staged_everywhere_then_the_primary_alias_moves_it_everywhere(
    world, airflow_client, training_pipeline
):
    from mlflow import MlflowClient

    primary = world.topology.primary
    model = primary.serving.model
    airflow_client.wait_for_dag(DISPATCH_DAG)
    before = _champions(world, model)
    version = training_pipeline.train_and_register(model, primary.registry.uri, seed=11)

    staged = _registry_run(airflow_client, f"registry__{model}__v{version}__")
    assert staged["state"] == "success"
    result = airflow_client.xcom_value(DAG_ID, staged["dag_run_id"], "promote")
    assert (
        result["staged"] is True
        and result["moved"] == []
        and set(result["versions"]) == set(world.topology.region_names)
    )
    for region in world.topology.regions:  # registered and verified in every region, no alias moved
        mv = RegionRegistry(region).client.get_model_version(model, result["versions"][region.name])
        assert mv.tags.get(VERIFIED) == "true", region.name
    assert _champions(world, model) == before

    MlflowClient(tracking_uri=primary.registry.uri).set_registered_model_alias(model, "champion", version)
    promoted = _registry_run(airflow_client, f"registry__{model}__champion-v{version}__")
    assert promoted["state"] == "success"
    for region in world.topology.regions:
        assert get_health(region.serving.endpoints[0])["version"] == result["versions"][region.name], region.name


def _delivery(secret: str, data: dict, event=("model_version", "created"), delivery_id=None) -> tuple[bytes, dict]:
    body = json.dumps({"entity": event[0], "action": event[1], "timestamp": "now", "data": data}).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery_id,
        "X-MLflow-Timestamp": ts,
        "X-MLflow-Signature": sign(secret, delivery_id, ts, body),
    }
    return body, headers


def _deliveries(airflow_client) -> list[dict]:
    token = airflow_client.api.configuration.access_token
    resp = httpx.get(
        f"{airflow_client.base_url}/multiregion/webhooks/mlflow/deliveries",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    resp.raise_for_status()
    return resp.json()


def test_forged_malformed_and_unknown_deliveries_are_refused_and_start_nothing(
    world, webhook_url, airflow_client, world_secrets
):
    model = world.topology.primary.serving.model
    before = _deliveries(airflow_client)
    dispatch_runs = len(airflow_client.runs(DISPATCH_DAG))
    body, headers = _delivery("not-the-secret", {"name": model, "version": "1"})
    forged = httpx.post(webhook_url, content=body, headers=headers, timeout=10)
    assert forged.status_code == 401 and "bad signature" in forged.text
    unsigned = httpx.post(webhook_url, content=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert unsigned.status_code == 401
    body, headers = _delivery(world_secrets.mlflow_webhook_secret, {"name": model, "version": "one"})
    assert httpx.post(webhook_url, content=body, headers=headers, timeout=10).status_code == 400
    body, headers = _delivery(world_secrets.mlflow_webhook_secret, {"name": "no-such-model-x", "version": "1"})
    unknown = httpx.post(webhook_url, content=body, headers=headers, timeout=10)
    assert unknown.status_code == 404 and "unknown model 'no-such-model-x'" in unknown.text
    opted_out = f"opted-out-{uuid.uuid4().hex[:6]}"
    from mlflow import MlflowClient

    from multiregion.core.registry_events import OPT_OUT_TAG

    MlflowClient(world.topology.primary.registry.uri).create_registered_model(opted_out, tags={OPT_OUT_TAG: "false"})
    body, headers = _delivery(world_secrets.mlflow_webhook_secret, {"name": opted_out, "version": "1"})
    ignored = httpx.post(webhook_url, content=body, headers=headers, timeout=10)
    assert ignored.status_code == 202 and ignored.json()["status"] == "ignored"
    assert _deliveries(airflow_client) == before
    assert len(airflow_client.runs(DISPATCH_DAG)) == dispatch_runs
    # nothing else in the app is open
    assert httpx.get(f"{webhook_url}/deliveries", timeout=10).status_code == 401


def test_the_same_delivery_sent_twice_gives_one_replication(world, webhook_url, airflow_client, world_secrets):
    primary = world.topology.primary
    model = primary.serving.model
    version = RegionRegistry(primary).alias_version(model, "champion")
    assert version, "the world serves a champion"
    delivery_id = str(uuid.uuid4())
    answers = []
    for _ in range(2):
        body, headers = _delivery(
            world_secrets.mlflow_webhook_secret, {"name": model, "version": version}, delivery_id=delivery_id
        )
        resp = httpx.post(webhook_url, content=body, headers=headers, timeout=10)
        assert resp.status_code == 202, resp.text
        answers.append(resp.json())
    assert [a["status"] for a in answers] == ["accepted", "duplicate"]
    assert answers[0]["asset_event_id"] == answers[1]["asset_event_id"]
    run = _registry_run(airflow_client, answers[0]["run_id"])
    assert run["state"] == "success"
    # the second delivery recorded nothing, so nothing can start a second run for it
    runs = [r for r in airflow_client.runs(DAG_ID, limit=100) if delivery_id in r["dag_run_id"]]
    assert len(runs) == 1
    assert [d for d in _deliveries(airflow_client) if d["delivery_id"] == delivery_id] != []
    assert len([d for d in _deliveries(airflow_client) if d["delivery_id"] == delivery_id]) == 1
