"""Dataset catalog validation and partition resolution (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from multiregion import PROJECT_ROOT
from multiregion.core.datasets import BadPartitionError, DatasetConfigError, UnknownDatasetError, parse_catalog
from multiregion.core.egress import PriceTable, choose_route, load_price_table
from multiregion.core.errors import BadInputError
from multiregion.core.topology import load_topology
from multiregion.ops.replicate_dataset import resolve_requests

TOPOLOGY = load_topology(PROJECT_ROOT / "config" / "topology.local.yaml")
RAW = yaml.safe_load((PROJECT_ROOT / "config" / "datasets.yaml").read_text())


def _catalog(raw=RAW):
    return parse_catalog(yaml.safe_dump(raw), TOPOLOGY, source="ds.yaml")


def test_shipped_catalog_loads():
    catalog = _catalog()
    features = catalog.get("churn-features")
    assert features.partitioned and features.source_prefix("2026-11-20") == "data/churn-features/dt=2026-11-20/"
    assert not catalog.get("churn-eval-set").partitioned


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r["datasets"][0].update(replicate_to=["mars-1"]),
            "dataset 'churn-features': unknown region 'mars-1'",
        ),
        (lambda r: r["datasets"][0]["source"].update(region="eu-west-1"), "replicate_to lists the source region"),
        (lambda r: r["datasets"][1].update(name="churn-features"), "duplicate dataset 'churn-features'"),
        (lambda r: r["datasets"][0].pop("source"), "dataset 'churn-features': source: missing required field"),
        (lambda r: r["datasets"][0]["expectations"].append({"type": "not_gx"}), "expectations.4.type"),
        (lambda r: r["datasets"][0]["source"].update(prefix="../etc"), "must be relative"),
    ],
)
def test_bad_catalogs_name_file_dataset_and_field(mutate, message):
    raw = yaml.safe_load(yaml.safe_dump(RAW))
    mutate(raw)
    with pytest.raises(DatasetConfigError) as exc:
        _catalog(raw)
    assert "ds.yaml" in str(exc.value) and message in str(exc.value)


def test_partition_resolution():
    features, evalset = _catalog().get("churn-features"), _catalog().get("churn-eval-set")
    assert features.partition_for("2026-11-20") == "2026-11-20"
    for bad in ("2026-13-01", "20261120", "yesterday"):
        with pytest.raises(BadPartitionError, match="malformed partition date"):
            features.partition_for(bad)
    with pytest.raises(BadPartitionError, match="give a partition date"):
        features.partition_for(None)
    assert evalset.partition_for(None) == "_all"
    with pytest.raises(BadPartitionError, match="not partitioned"):
        evalset.partition_for("2026-11-20")


def test_resolve_requests_from_params_events_and_schedule():
    catalog = _catalog()
    day = datetime(2026, 11, 20, 2, tzinfo=UTC)
    manual = resolve_requests(catalog, {"dataset": "churn-features", "partitions": ["2026-11-01"]}, [], None)
    assert [(d.name, p, r) for d, p, r in manual] == [("churn-features", "2026-11-01", ["eu-west-1", "ap-south-1"])]
    event = resolve_requests(catalog, {}, [{"dataset": "churn-eval-set", "partition": None}], None)
    assert [(d.name, p) for d, p, _ in event] == [("churn-eval-set", "_all")]
    nightly = resolve_requests(catalog, {}, [], day)
    assert [(d.name, p) for d, p, _ in nightly] == [("churn-features", "2026-11-20"), ("churn-eval-set", "_all")]
    only_eu = resolve_requests(catalog, {"dataset": "churn-eval-set", "regions": ["eu-west-1"]}, [], day)
    assert only_eu[0][2] == ["eu-west-1"]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"dataset": "nope"}, UnknownDatasetError, "unknown dataset 'nope'; known datasets: churn-features"),
        ({"dataset": "churn-features", "partitions": ["2026-02-30"]}, BadPartitionError, "no such day"),
        ({"dataset": "churn-eval-set", "regions": ["us-west-2"]}, BadInputError, "not replication targets"),
    ],
)
def test_bad_params_are_bad_input(params, error, message):
    with pytest.raises(error, match=message):
        resolve_requests(_catalog(), params, [], None)


def test_route_choice_prefers_cheapest_then_source():
    prices = load_price_table(PROJECT_ROOT / "config" / "egress_prices.yaml")
    holders = [("us-west-2", "aws"), ("eu-west-1", "gcp")]
    # to Azure: AWS 0.09 beats GCP 0.12
    assert choose_route("ap-south-1", "azure", holders, prices).source_region == "us-west-2"
    cheap_gcp = PriceTable(prices={"aws": {"default": 0.09}, "gcp": {"default": 0.01}})
    assert choose_route("ap-south-1", "azure", holders, cheap_gcp).source_region == "eu-west-1"
    flat = PriceTable(prices={"aws": {"default": 0.05}, "gcp": {"default": 0.05}})
    assert choose_route("ap-south-1", "azure", holders, flat, preferred="us-west-2").source_region == "us-west-2"
    with pytest.raises(ValueError, match="no region holds"):
        choose_route("us-west-2", "aws", [("us-west-2", "aws")], prices)
