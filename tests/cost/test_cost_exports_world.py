"""Bad exports in the world's real stores (S3, GCS, Azure Blob): a clear error naming the file, the
alert, the other clouds still published, and the day's previous version still readable.

Runs the task bodies in-process against exports of its own (a prefix and a table of this test).
"""

from __future__ import annotations

import csv
import gzip
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from localworld import cost_exports as world_exports

from multiregion.core.cost_config import load_cost_config
from multiregion.cost import table
from multiregion.cost.exports import month_folder
from multiregion.monitoring.alertmanager import active_alerts
from multiregion.ops import cost
from multiregion.stores.registry import region_store

pytestmark = [pytest.mark.world]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def exports(world, tmp_path, monkeypatch):
    """This test's own exports of all three clouds, and the config that points at them."""
    tag = uuid.uuid4().hex[:6]
    raw = yaml.safe_load((ROOT / "config" / "cost.yaml").read_text())
    for spec in raw["clouds"].values():
        spec["prefix"] = f"e2e-bad-{tag}"
    raw["table"] = f"focus-bad-{tag}"
    raw["cross_check"] = {}
    path = tmp_path / "cost.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("MR_COST_CONFIG", str(path))
    config = load_cost_config(world.topology)
    anchor = datetime.now(UTC).date()
    world_exports.write_exports(world, config, anchor)
    day = (anchor - timedelta(days=1)).isoformat()
    planned = cost.plan(anchor.isoformat(), day, day)
    first = cost.publish([cost.ingest(c, planned) for c in planned["clouds"]], planned)
    assert first["failed"] == [] and len(first["days"]) == 1
    return config, planned, first["days"][0]


def _store(world, config, cloud: str):
    return region_store(world.topology.region(config.clouds[cloud].region))


def _keys(store, prefix: str) -> list[str]:
    return sorted(i.key for i in store.list(prefix))


def _aws_data_files(s3, config, period: str) -> list[str]:
    prefix = f"{config.clouds['aws'].prefix}/"
    return [k for k in _keys(s3, prefix) if f"BILLING_PERIOD={period}/" in k and k.endswith("parquet")]


def _rerun_keeps_previous(world, config, planned, before: dict, failing: str, message: str) -> None:
    results = [cost.ingest(c, planned) for c in planned["clouds"]]
    (bad,) = [r for r in results if r.get("error")]
    assert bad["cloud"] == failing and message in bad["error"], bad["error"]
    published = cost.publish(results, planned)
    (day,) = published["days"]
    assert day["kept"] == [failing] and published["failed"] == [failing]
    assert day["version"] == before["version"]  # nothing else changed: the previous version stands
    central = region_store(world.topology.primary)
    manifest = table.day_manifest(central, config.table, before["day"])
    assert {e.path for e in manifest.entries} == {"aws.parquet", "gcp.parquet", "azure.parquet"}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        assert len(table.download_days(central, config.table, [before["day"]], Path(tmp))) == 3  # still readable


def test_a_manifest_naming_a_missing_file(world, exports):
    config, planned, before = exports
    s3 = _store(world, config, "aws")
    period = planned["periods"][0]
    data = _aws_data_files(s3, config, period)
    s3.delete(data[0])
    _rerun_keeps_previous(world, config, planned, before, "aws", f"names 1 missing file(s), e.g. {s3.url_for(data[0])}")
    alerts = active_alerts(world.topology.monitoring.alertmanager_url, cost.EXPORT_INVALID)
    assert any(data[0] in a["annotations"]["description"] for a in alerts)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_an_export_still_being_delivered(world, exports, cloud):
    config, planned, before = exports
    store = _store(world, config, cloud)
    marker = {"aws": "-Manifest.json", "gcp": "/_SUCCESS", "azure": "/manifest.json"}[cloud]
    for key in _keys(store, f"{config.clouds[cloud].prefix}/"):
        if key.endswith(marker):
            store.delete(key)
    message = {"aws": "without a manifest: still being delivered", "gcp": "without _SUCCESS: still being exported",
               "azure": "without a manifest: still being delivered"}[cloud]  # fmt: skip
    _rerun_keeps_previous(world, config, planned, before, cloud, message)
    alerts = active_alerts(world.topology.monitoring.alertmanager_url, cost.EXPORT_MISSING)
    assert any(a["labels"].get("cloud") == cloud for a in alerts)


def test_a_newer_run_with_a_missing_column_or_a_bad_value_is_refused_by_name(world, exports):
    config, planned, before = exports
    gcs = _store(world, config, "gcp")
    period = planned["periods"][0]
    base = f"{config.clouds['gcp'].prefix}/{config.clouds['gcp'].export}/BILLING_PERIOD={period}"
    rows = [
        {k: v for k, v in r.items() if k != "BillingCurrency"}
        for r in world_exports.all_rows("gcp", datetime.now(UTC).date(), {})
    ]
    run = f"{base}/29991231T000000Z"  # the newest run: it wins, and it is bad
    gcs.write(f"{run}/000000000000.parquet", world_exports._parquet(rows))
    gcs.write(f"{run}/_SUCCESS", b"")
    _rerun_keeps_previous(
        world,
        config,
        planned,
        before,
        "gcp",
        f"{gcs.url_for(run)}/000000000000.parquet: missing mandatory FOCUS column(s) BillingCurrency",
    )
    gcs.delete_prefix(run + "/")

    azure = _store(world, config, "azure")
    folder = f"{config.clouds['azure'].prefix}/{config.clouds['azure'].export}/{month_folder(period)}/"
    newest = [k for k in _keys(azure, folder) if k.endswith("manifest.json")][-1]  # run folders sort by time
    blob = newest.replace("manifest.json", "part_0_0001.csv.gz")
    rows = list(csv.reader(io.StringIO(gzip.decompress(b"".join(azure.iter_read(blob))).decode())))
    rows[4][rows[0].index("BilledCost")] = "12,5"  # line 5: a decimal comma is not a number
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    azure.write(blob, gzip.compress(text.getvalue().encode()))
    message = f"{azure.url_for(blob)}: column BilledCost, row 5: '12,5' is not a decimal number"
    _rerun_keeps_previous(world, config, planned, before, "azure", message)


def test_an_unreadable_file_in_a_complete_delivery(world, exports):
    config, planned, before = exports
    s3 = _store(world, config, "aws")
    period = planned["periods"][0]
    data = _aws_data_files(s3, config, period)
    s3.write(data[0], b"PAR1 this is not Parquet")
    _rerun_keeps_previous(world, config, planned, before, "aws", f"{s3.url_for(data[0])}: unreadable")


def test_a_cloud_whose_ingest_task_failed_keeps_its_previous_files_and_alerts(world, exports):
    """publish runs after every ingest, failed ones too (trigger rule all_done): a failed task leaves
    no result, and its cloud's previous files stay published."""
    _, planned, before = exports
    results = [cost.ingest(c, planned) for c in planned["clouds"] if c != "azure"]
    published = cost.publish([*results, None], planned)  # azure's task failed: no XCom
    (day,) = published["days"]
    assert day["kept"] == ["azure"] and day["version"] == before["version"] and published["failed"] == ["azure"]
    assert "the ingest task failed" in published["errors"][0]["error"]
    alerts = active_alerts(world.topology.monitoring.alertmanager_url, cost.INGEST_FAILED)
    assert any(a["labels"].get("cloud") == "azure" for a in alerts)
