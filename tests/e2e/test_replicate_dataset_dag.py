"""replicate_dataset in the running Airflow: REST-triggered, Asset-triggered, and bad input."""

from __future__ import annotations

import random
import time
import uuid

import httpx
import pytest
from localworld.sample_data import write_partition

from multiregion.airflow_api import AirflowApiError
from multiregion.core import replica_layout as layout
from multiregion.core.datasets import load_catalog
from multiregion.replication import publish as pub
from multiregion.replication.reader import read_table
from multiregion.stores.registry import region_store

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "replicate_dataset"
DATASET = "churn-features"


@pytest.fixture
def partitions(world):
    """Two fresh partitions of churn-features at the source (far-future dates: no clash with real data)."""
    topology = world.topology
    dataset = load_catalog(topology).get(DATASET)
    year = random.randint(2100, 2900)
    days = [f"{year}-03-01", f"{year}-03-02"]
    source = region_store(topology.region(dataset.source.region))
    for i, day in enumerate(days):
        write_partition(source, dataset, day, files=4, rows_per_file=1000, seed=year + i)
    yield dataset, days
    for region in topology.regions:
        store = region_store(region)
        for day in days:
            manifest = pub.published_manifest(store, DATASET, day)
            if manifest and region.name != dataset.source.region:
                for digest in manifest.digests:
                    store.delete(layout.object_key(DATASET, digest))
            store.delete_prefix(layout.manifests_prefix(DATASET, day))
            store.delete(layout.pointer_key(DATASET, day))
    for day in days:
        source.delete_prefix(dataset.source_prefix(day))


def _replica_tables(world, dataset, day):
    return {
        r.name: read_table(region_store(r), dataset, day)
        for r in world.topology.regions
        if r.name in (dataset.source.region, *dataset.replicate_to)
    }


def test_rest_triggered_multi_partition_replication(airflow_client, world, partitions):
    dataset, days = partitions
    airflow_client.wait_for_dag(DAG_ID)
    run_id = f"e2e-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf={"dataset": DATASET, "partitions": days}, run_id=run_id)
    run = airflow_client.wait(DAG_ID, run_id, timeout=600)
    tis = airflow_client.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", [(t["task_id"], t["rendered_map_index"], t["state"]) for t in tis]
    published = [t for t in tis if t["task_id"] == "replicate_region.publish" and t["state"] == "success"]
    assert len(published) == len(days) * len(dataset.replicate_to)

    for day in days:  # every region returns identical data
        tables = _replica_tables(world, dataset, day)
        source = tables.pop(dataset.source.region)
        assert source.num_rows == 4000
        assert all(t.equals(source) for t in tables.values()), day

    # Asset events for the replicas, through the alias: one per published (region, partition). Events,
    # not /assets: the scheduler orphans (deactivates) alias-created assets no DAG references.
    events = airflow_client.asset_events(source_dag_id=DAG_ID, source_run_id=run_id)
    assert sorted(e["name"] for e in events) == sorted(
        f"dataset-replica/{DATASET}/{r}" for r in dataset.replicate_to for _ in days
    )

    # metrics and the transfer ledger for the cost analyzer
    metrics = httpx.get(f"{world.topology.monitoring.pushgateway_url}/metrics", timeout=10).text
    assert f'multiregion_replication_lag_seconds{{dataset="{DATASET}",instance="",job="replicate_dataset"' in metrics
    assert 'multiregion_replication_route_bytes{instance="",job="replicate_dataset_routes",route="aws->gcp"}' in metrics
    ledger = [i.key for i in region_store(world.topology.primary).list("_ledger/transfers/") if run_id in i.key]
    assert len(ledger) == len(days) * len(dataset.replicate_to)


def test_source_asset_event_triggers_replication(airflow_client, world, partitions):
    dataset, days = partitions
    airflow_client.wait_for_dag(DAG_ID)
    from airflow_client.client.models import CreateAssetEventsBody

    assets = airflow_client.assets.get_assets(name_pattern=f"dataset-source/{DATASET}").assets
    (asset,) = [a for a in assets if a.name == f"dataset-source/{DATASET}"]
    before = {r["dag_run_id"] for r in airflow_client.runs(DAG_ID)}
    airflow_client.assets.create_asset_event(CreateAssetEventsBody(asset_id=asset.id, extra={"partition": days[0]}))
    deadline = time.monotonic() + 120
    while True:
        runs = airflow_client.runs(DAG_ID)
        new = [r for r in runs if r["dag_run_id"] not in before and r["run_type"] == "asset_triggered"]
        if new:
            break
        assert time.monotonic() < deadline, "no asset-triggered run"
        time.sleep(2)
    run = airflow_client.wait(DAG_ID, new[0]["dag_run_id"], timeout=600)
    assert run["state"] == "success"
    tables = _replica_tables(world, dataset, days[0])
    source = tables.pop(dataset.source.region)
    assert all(t.equals(source) for t in tables.values())


def dataset_source(world) -> str:
    return load_catalog(world.topology).get(DATASET).source.region


def test_bad_rest_input_is_rejected_or_fails_fast(airflow_client, world):
    airflow_client.wait_for_dag(DAG_ID)
    # What the params' JSON schema can judge is refused by the API (400) before a run exists.
    for conf, message in [
        ({"dataset": "no-such-dataset"}, "no-such-dataset"),
        ({"dataset": DATASET, "partitions": ["2026-02-30"]}, "2026-02-30"),
        ({"dataset": DATASET, "partitions": ["yesterday"]}, "yesterday"),
        ({"dataset": DATASET, "regions": ["mars-1"]}, "mars-1"),
    ]:
        run_id = f"e2e-bad-{uuid.uuid4().hex[:8]}"
        with pytest.raises(AirflowApiError, match=r"HTTP 400") as err:
            airflow_client.trigger(DAG_ID, conf=conf, run_id=run_id)
        assert message in str(err.value)
        assert airflow_client.find_run(DAG_ID, run_id) is None

    # What needs a lookup fails the first task on try 1, with a message naming the problem.
    run_id = f"e2e-bad-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf={"dataset": DATASET, "regions": [dataset_source(world)]}, run_id=run_id)
    assert airflow_client.wait(DAG_ID, run_id, timeout=300)["state"] == "failed"
    tis = {t["task_id"]: t for t in airflow_client.task_instances(DAG_ID, run_id)}
    assert tis["plan"]["state"] == "failed" and tis["plan"]["try_number"] == 1
    assert "are not replication targets of dataset" in airflow_client.task_log(DAG_ID, run_id, "plan")


def test_failed_expectations_fail_the_run_publish_nothing_and_alert(airflow_client, world, partitions):
    from multiregion.monitoring.alertmanager import active_alerts

    dataset, days = partitions
    source = region_store(world.topology.region(dataset.source.region))
    source.delete_prefix(dataset.source_prefix(days[1]))
    write_partition(source, dataset, days[1], files=2, rows_per_file=500, seed=7, bad=True)
    run_id = f"e2e-gx-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf={"dataset": DATASET, "partitions": [days[1]]}, run_id=run_id)
    assert airflow_client.wait(DAG_ID, run_id, timeout=600)["state"] == "failed"
    tis = airflow_client.task_instances(DAG_ID, run_id)
    failed = [t for t in tis if t["task_id"] == "replicate_region.validate" and t["state"] == "failed"]
    assert len(failed) == len(dataset.replicate_to)
    log = airflow_client.task_log(DAG_ID, run_id, "replicate_region.validate", 1, map_index=failed[0]["map_index"])
    assert "expect_column_values_to_not_be_null" in log and "expect_column_values_to_be_between" in log
    for region in dataset.replicate_to:
        assert pub.read_pointer(region_store(world.topology.region(region)), DATASET, days[1]) is None
    alerts = active_alerts(world.topology.monitoring.alertmanager_url, "ReplicaValidationFailed")
    assert {a["labels"]["region"] for a in alerts if a["labels"].get("partition") == days[1]} == set(
        dataset.replicate_to
    )
