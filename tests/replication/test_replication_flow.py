"""The replication protocol against the real stores (S3 → GCS, Azure), task body by task body.

Each test uses its own dataset (a temporary catalog naming a unique source prefix), so runs
never see each other's versions.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from localworld.sample_data import parquet_bytes, write_partition

from multiregion.core import replica_layout as layout
from multiregion.core.errors import BadInputError
from multiregion.ops import replicate_dataset as ops
from multiregion.replication import publish as pub
from multiregion.replication.copy import CorruptObjectError
from multiregion.replication.reader import NotPublishedError, read_table
from multiregion.stores.registry import region_store

pytestmark = pytest.mark.world
DAY1, DAY2 = "2031-01-01", "2031-01-02"


@pytest.fixture
def dataset(world, tmp_path, monkeypatch):
    name = f"test-{uuid.uuid4().hex[:10]}"
    catalog = {
        "version": 1,
        "datasets": [
            {
                "name": name,
                "source": {"region": "us-west-2", "prefix": f"data/{name}/"},
                "layout": {"partitioned_by": "date"},
                "replicate_to": ["eu-west-1", "ap-south-1"],
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "customer_id"}},
                    {
                        "type": "expect_column_values_to_be_between",
                        "kwargs": {"column": "tenure_months", "max_value": 600},
                    },
                ],
                "retention": {"keep_versions": 1, "min_age_hours": 24},
            }
        ],
    }
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(catalog))
    monkeypatch.setenv("MR_DATASETS", str(path))
    _, cat = ops._world()
    ds = cat.get(name)
    yield ds
    for region in world.topology.regions:
        region_store(region).delete_prefix(f"datasets/{name}/")
    region_store(world.topology.primary).delete_prefix(f"data/{name}/")


def _source(world):
    return region_store(world.topology.primary)


def _run(items):
    replicated = [ops.replicate(i) for i in items]  # all copies first, as the mapped tasks may run
    validated = [ops.validate(i) for i in replicated]
    return replicated, [ops.publish(i) for i in validated]


def test_replicates_partitions_everywhere_and_rerun_copies_nothing(world, dataset):
    for day, seed in ((DAY1, 1), (DAY2, 2)):
        write_partition(_source(world), dataset, day, files=3, rows_per_file=500, seed=seed)
    items = ops.plan({"dataset": dataset.name, "partitions": [DAY1, DAY2]}, [], None)
    assert {(i["partition"], i["region"]) for i in items} == {
        (d, r) for d in (DAY1, DAY2) for r in ("eu-west-1", "ap-south-1")
    }
    replicated, published = _run(items)
    assert all(r["objects_copied"] == 3 and r["route"]["source_region"] == "us-west-2" for r in replicated)
    assert all(p["lag_seconds"] >= 0 and p["replica_uri"].endswith(".json") for p in published)
    for day in (DAY1, DAY2):
        expected = read_table(_source(world), dataset, day)
        assert expected.num_rows == 1500
        for region in ("eu-west-1", "ap-south-1"):
            assert read_table(region_store(world.topology.region(region)), dataset, day).equals(expected)

    # nothing changed: zero bytes copied, versions unchanged
    again = ops.plan({"dataset": dataset.name, "partitions": [DAY1, DAY2]}, [], None)
    assert [i["version"] for i in again] == [i["version"] for i in items]
    replicated2, _ = _run(again)
    assert all(r["up_to_date"] and r["bytes_copied"] == 0 for r in replicated2)

    # a changed file: a new version, and only that file is copied
    _source(world).write(f"{dataset.source_prefix(DAY1)}part-00001.parquet", parquet_bytes(_table(7)))
    changed = ops.plan({"dataset": dataset.name, "partitions": [DAY1]}, [], None)
    replicated3, published3 = _run(changed)
    assert all(r["objects_copied"] == 1 for r in replicated3)
    assert all(p["gc"]["manifests"] == 0 for p in published3)  # the old version is within its grace period

    # past the grace period the superseded version and its now-unreferenced file are collected
    dest = region_store(world.topology.region("eu-west-1"))
    later = datetime.now(UTC) + timedelta(hours=25)
    gc = pub.collect_garbage(dest, dataset.name, keep_versions=1, min_age_hours=24, now=later)
    assert (gc.manifests_deleted, gc.objects_deleted) == (1, 1)
    assert read_table(dest, dataset, DAY1).equals(read_table(_source(world), dataset, DAY1))
    assert read_table(dest, dataset, DAY2).num_rows == 1500


def _table(seed):
    from localworld.sample_data import churn_table

    return churn_table(500, seed)


def _copy_in_child(item):
    ops.replicate(item, parallel=1)


def test_kill_minus_9_mid_copy_publishes_nothing_and_rerun_resumes(world, dataset):
    write_partition(_source(world), dataset, DAY1, files=24, rows_per_file=20_000, seed=3)
    (item,) = [
        i for i in ops.plan({"dataset": dataset.name, "partitions": [DAY1], "regions": ["ap-south-1"]}, [], None)
    ]
    dest = region_store(world.topology.region("ap-south-1"))
    child = multiprocessing.get_context("spawn").Process(target=_copy_in_child, args=(item,))
    child.start()
    deadline = time.monotonic() + 120
    while len(pub.present_digests(dest, dataset.name)) < 2:
        assert child.is_alive() and time.monotonic() < deadline, "copy finished or stalled before the kill"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert pub.read_pointer(dest, dataset.name, DAY1) is None  # nothing published
    with pytest.raises(NotPublishedError):
        read_table(dest, dataset, DAY1)
    done_before = len(pub.present_digests(dest, dataset.name))
    assert 2 <= done_before < 24

    result = ops.replicate(item)
    assert result["objects_present"] == done_before and result["objects_copied"] == 24 - done_before
    ops.publish(ops.validate(result))
    assert read_table(dest, dataset, DAY1).equals(read_table(_source(world), dataset, DAY1))


def test_corrupted_object_fails_loudly_and_publishes_nothing(world, dataset):
    write_partition(_source(world), dataset, DAY1, files=2, rows_per_file=300, seed=4)
    items = ops.plan({"dataset": dataset.name, "partitions": [DAY1], "regions": ["eu-west-1"]}, [], None)
    # the bytes change after the manifest was taken: every copy attempt mismatches the digest
    key = f"{dataset.source_prefix(DAY1)}part-00001.parquet"
    _source(world).write(key, parquet_bytes(_table(99)))
    with pytest.raises(CorruptObjectError, match=r"part-00001\.parquet.*digest mismatch after 3 attempts"):
        ops.replicate(items[0])
    dest = region_store(world.topology.region("eu-west-1"))
    assert pub.read_pointer(dest, dataset.name, DAY1) is None


def test_failed_expectations_alert_and_publish_nothing(world, dataset):
    from multiregion.monitoring.alertmanager import active_alerts

    write_partition(_source(world), dataset, DAY2, files=2, rows_per_file=300, seed=5, bad=True)
    (item,) = ops.plan({"dataset": dataset.name, "partitions": [DAY2], "regions": ["eu-west-1"]}, [], None)
    replicated = ops.replicate(item)
    with pytest.raises(ops.ReplicaValidationError) as exc:
        ops.validate(replicated)
    assert "expect_column_values_to_not_be_null" in str(exc.value)
    assert "expect_column_values_to_be_between" in str(exc.value)
    dest = region_store(world.topology.region("eu-west-1"))
    assert pub.read_pointer(dest, dataset.name, DAY2) is None
    alerts = active_alerts(world.topology.monitoring.alertmanager_url, "ReplicaValidationFailed")
    assert any(a["labels"].get("dataset") == dataset.name for a in alerts)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dataset": "no-such-dataset"}, "unknown dataset 'no-such-dataset'"),
        ({"partitions": ["2031-02-30"]}, "no such day"),
        ({"partitions": ["31-01-01"]}, "malformed partition date"),
        ({"partitions": [DAY1], "regions": ["mars-1"]}, "not replication targets"),
    ],
)
def test_bad_params_fail_before_anything_is_written(world, dataset, params, message):
    write_partition(_source(world), dataset, DAY1, files=1, rows_per_file=10, seed=6)
    with pytest.raises(BadInputError, match=message):
        ops.plan({"dataset": dataset.name, **params}, [], None)
    for region in world.topology.regions:
        assert not list(region_store(region).list(f"datasets/{dataset.name}/")), region.name
    assert not list(region_store(world.topology.primary).list(layout.manifests_prefix(dataset.name)))
