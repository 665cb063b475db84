"""scrub_replicas in the running Airflow: damaged replica objects in GCS and Azure are repaired,
the figures of every region reach the Pushgateway, and readers read correct data again."""

from __future__ import annotations

import random
import uuid

import httpx
import pytest
from localworld.sample_data import write_partition

from multiregion.core import replica_layout as layout
from multiregion.core.datasets import load_catalog
from multiregion.ops import replicate_dataset as ops
from multiregion.replication import publish as pub
from multiregion.replication.reader import ReplicaCorruptError, read_table
from multiregion.state.postgres import StateStore
from multiregion.stores.registry import region_store

pytestmark = [pytest.mark.world, pytest.mark.airflow]
DAG_ID = "scrub_replicas"
DATASET = "churn-features"


@pytest.fixture
def replicated(world):
    """A far-future partition of churn-features, replicated in-process (the world's catalog)."""
    topology = world.topology
    dataset = load_catalog(topology).get(DATASET)
    day = f"{random.randint(2100, 2900)}-05-05"
    source = region_store(topology.region(dataset.source.region))
    write_partition(source, dataset, day, files=3, rows_per_file=400, seed=11)
    for item in ops.plan({"dataset": DATASET, "partitions": [day]}, [], None):
        ops.publish(ops.validate(ops.replicate(item)))
    yield dataset, day
    state = StateStore()
    for region in topology.regions:
        store = region_store(region)
        if region.name != dataset.source.region:
            manifest = pub.published_manifest(store, DATASET, day)
            for digest in manifest.digests if manifest else ():
                store.delete(layout.object_key(DATASET, digest))
                state.forget_replicas(store.url_for(layout.object_key(DATASET, digest)))
        store.delete_prefix(layout.manifests_prefix(DATASET, day))
        store.delete(layout.pointer_key(DATASET, day))
    source.delete_prefix(dataset.source_prefix(day))


def test_scrub_dag_repairs_damaged_replicas_and_reports_every_region(world, airflow_client, replicated):
    dataset, day = replicated
    expected = read_table(region_store(world.topology.region(dataset.source.region)), dataset, day)
    damaged = {}
    for region in dataset.replicate_to:
        store = region_store(world.topology.region(region))
        key = layout.object_key(DATASET, pub.published_manifest(store, DATASET, day).entries[0].sha256)
        store.write(key, b"bit rot")
        damaged[region] = store.url_for(key)
        with pytest.raises(ReplicaCorruptError):
            read_table(store, dataset, day)

    airflow_client.wait_for_dag(DAG_ID)
    run_id = f"e2e-scrub-{uuid.uuid4().hex[:8]}"
    airflow_client.trigger(DAG_ID, conf={}, run_id=run_id)
    run = airflow_client.wait(DAG_ID, run_id, timeout=600)
    assert run["state"] == "success", airflow_client.task_log(DAG_ID, run_id, "report")

    for region in dataset.replicate_to:
        assert read_table(region_store(world.topology.region(region)), dataset, day).equals(expected)
    summary = airflow_client.xcom_value(DAG_ID, run_id, "report")
    assert set(summary["regions"]) == set(world.topology.region_names)
    assert all(summary["regions"][r]["repaired"] >= 1 for r in dataset.replicate_to), summary
    metrics = httpx.get(f"{world.topology.monitoring.pushgateway_url}/metrics", timeout=10).text
    for region in world.topology.region_names:
        assert f'multiregion_scrub_objects{{instance="",job="scrub_replicas",region="{region}"}}' in metrics
