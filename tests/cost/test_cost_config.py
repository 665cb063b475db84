"""config/cost.yaml: the shipped file loads; mistakes are named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from multiregion.core.cost_config import CostConfigError, Layout, load_cost_config, parse_cost_config
from multiregion.core.topology import load_topology

TOPOLOGY = load_topology()
SHIPPED = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "cost.yaml").read_text())


def test_the_shipped_config_loads():
    config = load_cost_config(TOPOLOGY)
    assert {c: s.layout for c, s in config.clouds.items()} == {
        "aws": Layout.AWS_DATA_EXPORTS,
        "gcp": Layout.GCS_FOCUS_EXPORT,
        "azure": Layout.AZURE_COST_MANAGEMENT,
    }
    assert config.region_of("gcp", "europe-west1") == "eu-west-1" and config.region_of("gcp", "mars-1") is None


def _with(path: list, value) -> str:
    raw = yaml.safe_load(yaml.safe_dump(SHIPPED))
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(raw)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["clouds", "gcp", "layout"], "aws_data_exports", "clouds.gcp.layout: aws_data_exports is aws's layout"),
        (["clouds", "gcp", "layout"], "bigquery", "cost.yaml: clouds.gcp.layout: Input should be"),
        (["clouds", "aws", "region"], "eu-west-1", "clouds.aws.region: eu-west-1 is not on aws"),
        (["clouds", "aws", "region"], "mars-1", "clouds.aws.region: unknown region 'mars-1'"),
        (["clouds", "azure", "region_ids"], {"centralindia": "ap-south-9"}, "region_ids.centralindia: unknown region"),
        (["clouds", "aws", "spot", "discount"], 1.5, "clouds.aws.spot.discount: Input should be less than 1"),
        (["anomaly", "threshold"], 0, "anomaly.threshold: Input should be greater than 0"),
        (["window_days"], "two weeks", "window_days: Input should be a valid integer"),
        (["cross_check", "gcp"], {"conn_id": "x"}, "cross_check.gcp: only aws"),
        (["surprise"], 1, "cost.yaml: surprise: unknown field"),
    ],
)
def test_a_bad_setting_is_named_by_file_and_field(path, value, message):
    with pytest.raises(CostConfigError) as err:
        parse_cost_config(_with(path, value), TOPOLOGY, source="cost.yaml")
    assert message in str(err.value)
