"""Integrity at rest on the real stores: damaged replica objects are found and repaired.

Overwritten, truncated and deleted objects of dataset replicas (GCS and Azure by a re-run, S3 by
the scrub) and of model artifacts (all three stores); rot under an unchanged ETag (deep pass only);
and a bad object with no good copy anywhere, which is alerted and kept, never deleted.
"""

from __future__ import annotations

import uuid

import pytest
import yaml
from localworld.sample_data import churn_table, parquet_bytes, write_partition

from multiregion.core import replica_layout as layout
from multiregion.core.errors import PermanentError
from multiregion.monitoring.alertmanager import active_alerts
from multiregion.ops import replicate_dataset as ops
from multiregion.ops import replicate_model as model_ops
from multiregion.ops import scrub
from multiregion.replication import integrity
from multiregion.replication import publish as pub
from multiregion.replication.reader import ReplicaCorruptError, read_table
from multiregion.state.postgres import StateStore
from multiregion.stores.registry import region_store

pytestmark = pytest.mark.world
DAY = "2032-02-02"


@pytest.fixture
def datasets(world, tmp_path, monkeypatch):
    """Two private datasets: ``aws`` replicated from S3 to GCS and Azure, ``gcp`` from GCS to S3."""
    tag = uuid.uuid4().hex[:8]
    names = {"aws": f"scrub-aws-{tag}", "gcp": f"scrub-gcp-{tag}"}
    sources = {"aws": ("us-west-2", ["eu-west-1", "ap-south-1"]), "gcp": ("eu-west-1", ["us-west-2"])}
    catalog = {
        "version": 1,
        "datasets": [
            {
                "name": names[k],
                "source": {"region": src, "prefix": f"data/{names[k]}/"},
                "layout": {"partitioned_by": "date"},
                "replicate_to": targets,
                "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "customer_id"}}],
            }
            for k, (src, targets) in sources.items()
        ],
    }
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(catalog))
    monkeypatch.setenv("MR_DATASETS", str(path))
    _, cat = ops._world()
    yield {k: cat.get(n) for k, n in names.items()}
    state = StateStore()
    for region in world.topology.regions:
        store = region_store(region)
        for name in names.values():
            store.delete_prefix(f"datasets/{name}/")
            store.delete_prefix(f"data/{name}/")
            state.forget_replicas(store.url_for(f"datasets/{name}/"))


def _replicate(dataset, seed: int) -> None:
    topology, _ = ops._world()
    source = region_store(topology.region(dataset.source.region))
    write_partition(source, dataset, DAY, files=4, rows_per_file=300, seed=seed)
    for item in ops.plan({"dataset": dataset.name, "partitions": [DAY]}, [], None):
        ops.publish(ops.validate(ops.replicate(item)))


def _keys(store, dataset) -> list[str]:
    manifest = pub.published_manifest(store, dataset.name, DAY)
    return [layout.object_key(dataset.name, e.sha256) for e in manifest.entries]


def _damage(store, overwrite: str, truncate: str, delete: str) -> None:
    store.write(overwrite, parquet_bytes(churn_table(300, 999)))
    data = b"".join(store.iter_read(truncate))
    store.write(truncate, data[: len(data) // 2])
    store.delete(delete)


def _alerts(world, name: str, owner: str) -> list[dict]:
    return [
        a
        for a in active_alerts(world.topology.monitoring.alertmanager_url, name)
        if a["labels"]["owner"] == owner and a["status"]["state"] == "active"
    ]


def _mine(rows: list[dict], owner: str) -> list[dict]:
    return [r for r in rows if r["owner"] == owner]


def test_a_rerun_repairs_overwritten_truncated_and_deleted_objects_in_gcs_and_azure(world, datasets):
    dataset = datasets["aws"]
    _replicate(dataset, seed=1)
    source = region_store(world.topology.region("us-west-2"))
    expected = read_table(source, dataset, DAY)
    pointers = {}
    for region in dataset.replicate_to:
        store = region_store(world.topology.region(region))
        _damage(store, *_keys(store, dataset)[:3])
        with pytest.raises(ReplicaCorruptError):
            read_table(store, dataset, DAY)
        pointers[region] = pub.read_pointer(store, dataset.name, DAY)

    items = ops.plan({"dataset": dataset.name, "partitions": [DAY]}, [], None)
    replicated = [ops.replicate(i) for i in items]
    assert [(r["repaired"], r["objects_copied"], r["up_to_date"]) for r in replicated] == [(3, 3, False)] * 2
    for item in replicated:
        ops.publish(ops.validate(item))
    for region in dataset.replicate_to:
        store = region_store(world.topology.region(region))
        assert read_table(store, dataset, DAY).equals(expected)
        assert pub.read_pointer(store, dataset.name, DAY) == pointers[region]  # the pointer never moved
    repaired = _alerts(world, integrity.REPLICA_REPAIRED, dataset.name)
    assert sorted(a["labels"]["region"] for a in repaired) == ["ap-south-1"] * 3 + ["eu-west-1"] * 3

    # from then on the listing vouches for them: nothing read back, nothing copied
    again = [ops.replicate(i) for i in ops.plan({"dataset": dataset.name, "partitions": [DAY]}, [], None)]
    assert [(r["up_to_date"], r["objects_read_back"], r["bytes_copied"]) for r in again] == [(True, 0, 0)] * 2


def test_scrub_repairs_an_s3_replica_finds_rot_in_the_deep_pass_and_keeps_the_last_copy(world, datasets):
    dataset = datasets["gcp"]
    _replicate(dataset, seed=2)
    source = region_store(world.topology.region("eu-west-1"))
    s3 = region_store(world.topology.region("us-west-2"))
    expected = read_table(source, dataset, DAY)
    keys = _keys(s3, dataset)
    _damage(s3, *keys[:3])

    report = scrub.scrub_region("us-west-2", {})
    mine = _mine(report["repaired"], dataset.name)
    assert sorted(row["verdict"] for row in mine) == ["changed", "changed", "missing"]
    assert all(row["from"].startswith(source.url) for row in mine)  # the only other copy: the source
    assert read_table(s3, dataset, DAY).equals(expected)

    # rot under an unchanged checksum: the record matches the listing, only reading finds it
    rotten = keys[3]
    data = bytearray(b"".join(s3.iter_read(rotten)))
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size
    info = s3.write(rotten, bytes(data))
    sha = rotten.rsplit("/", 1)[-1]
    StateStore().record_replicas([integrity.record_row("us-west-2", "dataset", dataset.name, s3, rotten, info, sha)])
    cheap = scrub.scrub_region("us-west-2", {"deep_period_days": 1e9})  # the deep share: one object
    assert not _mine(cheap["bad"], dataset.name)
    deep = scrub.scrub_region("us-west-2", {"deep_all": True})
    assert [(r["url"], r["verdict"]) for r in _mine(deep["bad"], dataset.name)] == [(s3.url_for(rotten), "changed")]
    assert _mine(deep["repaired"], dataset.name) == _mine(deep["bad"], dataset.name)
    assert read_table(s3, dataset, DAY).equals(expected)

    # no good copy anywhere: alerted, the run fails, and the bad object is kept, not deleted
    manifest = pub.published_manifest(s3, dataset.name, DAY)
    entry = manifest.entries[0]
    source_key = layout.entry_key(dataset, DAY, layout.LOCATION_SOURCE, entry)
    original = b"".join(source.iter_read(source_key))
    source.write(source_key, original[:100])
    bad_key = layout.object_key(dataset.name, entry.sha256)
    s3.write(bad_key, original[:200])
    lost = scrub.scrub_region("us-west-2", {})
    assert [r["url"] for r in _mine(lost["unrepairable"], dataset.name)] == [s3.url_for(bad_key)]
    assert _alerts(world, integrity.REPLICA_CORRUPT, dataset.name)
    assert s3.head(bad_key).size == 200
    with pytest.raises(PermanentError, match="no verified copy"):
        scrub.summarize([lost])

    source.write(source_key, original)  # the producer restores its file: the next scrub repairs
    back = scrub.scrub_region("us-west-2", {})
    assert [r["verdict"] for r in _mine(back["repaired"], dataset.name)] == ["changed"]
    assert not _mine(back["unrepairable"], dataset.name)
    assert not _alerts(world, integrity.REPLICA_CORRUPT, dataset.name)
    assert read_table(s3, dataset, DAY).equals(expected)
    scrub.summarize([back])  # the region's figures as they now are


def _sha(store, key: str) -> str | None:
    return integrity.sha256_of(store, key)


@pytest.fixture
def model_spec(world, train):
    """A freshly trained version, resolved; afterwards its records are dropped, so that a failed run
    of this test leaves the other scrubs nothing unrepairable."""
    name = f"test-scrub-{uuid.uuid4().hex[:6]}"
    spec = model_ops.resolve({"model": name, "version": train(name, world.topology.primary.registry.uri)})
    yield spec
    state = StateStore()
    for url in state.replicas(owner=model_ops.owner(spec)):
        state.forget_replicas(url)


def test_model_artifacts_damaged_in_each_store_are_repaired_by_a_rerun_or_the_scrub(world, model_spec):
    spec, name = model_spec, model_spec["model"]
    results = {r: model_ops.replicate_to(spec, r) for r in ("eu-west-1", "ap-south-1")}
    owner = model_ops.owner(spec)
    records = StateStore().replicas(owner=owner)
    by_region: dict[str, list[tuple[str, str]]] = {}
    for url, rec in sorted(records.items(), key=lambda kv: -kv[1].size):
        by_region.setdefault(url.split("://", 1)[0], []).append((url, rec.sha256))
    stores = {r.name: region_store(r) for r in world.topology.regions}
    assert {s.scheme for s in stores.values()} == set(by_region)  # recorded in all three stores
    assert all(len(v) == len(spec["files"]) for v in by_region.values())

    def key_of(region: str, i: int = 0) -> tuple[str, str]:
        url, sha = by_region[stores[region].scheme][i]
        return url[len(stores[region].url) :], sha

    s3_key, s3_sha = key_of("us-west-2", 1)  # the primary's original of a file: deleted
    stores["us-west-2"].delete(s3_key)
    gcs_key, gcs_sha = key_of("eu-west-1", 1)  # eu-west-1's copy of the same file: overwritten
    stores["eu-west-1"].write(gcs_key, b"not the model")
    az_key, az_sha = key_of("ap-south-1", 0)  # another file, in ap-south-1: truncated
    data = b"".join(stores["ap-south-1"].iter_read(az_key))
    stores["ap-south-1"].write(az_key, data[:-1])

    rerun = model_ops.replicate_to(spec, "ap-south-1")  # the next run of the DAG repairs its region
    assert rerun["version"] == results["ap-south-1"]["version"] and rerun["bytes_copied"] == len(data)
    assert _sha(stores["ap-south-1"], az_key) == az_sha

    # the scrub repairs the other two. The primary's original comes from the first regional copy
    # that verifies: eu-west-1's copy of the same file is the overwritten one, so it is skipped.
    assert s3_sha == gcs_sha
    for region, key, sha in (("us-west-2", s3_key, s3_sha), ("eu-west-1", gcs_key, gcs_sha)):
        report = scrub.scrub_region(region, {})
        assert [r["url"] for r in _mine(report["repaired"], owner)] == [stores[region].url_for(key)]
        assert _sha(stores[region], key) == sha
    assert len(_alerts(world, integrity.REPLICA_REPAIRED, owner)) == 3
    from multiregion.registry.mlflow_registry import RegionRegistry

    assert RegionRegistry(world.topology.region("eu-west-1")).smoke_test(name, results["eu-west-1"]["version"])
