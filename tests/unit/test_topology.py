"""Topology loading and validation: the shipped files load; bad files get one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from multiregion import PROJECT_ROOT
from multiregion.core.topology import Cloud, StoreKind, TopologyError, load_topology, parse_topology

LOCAL = PROJECT_ROOT / "config" / "topology.local.yaml"
EXAMPLE = PROJECT_ROOT / "config" / "topology.example.yaml"


def _raw() -> dict:
    return yaml.safe_load(LOCAL.read_text())


def _error(raw: dict, env: dict | None = None) -> str:
    with pytest.raises(TopologyError) as exc:
        parse_topology(yaml.safe_dump(raw), source="bad.yaml", env=env or {})
    return str(exc.value)


def test_local_topology_has_the_seed_regions():
    topo = load_topology(LOCAL)
    assert [(r.name, r.cloud, r.storage.kind) for r in topo.regions] == [
        ("us-west-2", Cloud.AWS, StoreKind.S3),
        ("eu-west-1", Cloud.GCP, StoreKind.GCS),
        ("ap-south-1", Cloud.AZURE, StoreKind.AZURE_BLOB),
    ]
    assert topo.primary.name == "us-west-2"
    assert topo.traffic.backend.kind == "powerdns"
    assert topo.region("eu-west-1").registry.artifact_root.startswith("gs://")


def test_example_topology_for_real_clouds_loads():
    topo = load_topology(EXAMPLE)
    assert topo.traffic.backend.kind == "route53"
    assert all(r.storage.endpoint is None for r in topo.regions)


def test_env_interpolation_overrides_ports():
    topo = parse_topology(LOCAL.read_text(), env={"MR_S3_PORT": "29999"})
    assert topo.region("us-west-2").storage.endpoint == "http://127.0.0.1:29999"
    assert parse_topology(LOCAL.read_text(), env={}).region("us-west-2").storage.endpoint.endswith(":18333")


def test_unknown_cloud_names_file_region_and_field():
    raw = _raw()
    raw["regions"][1]["cloud"] = "gpc"
    msg = _error(raw)
    assert "bad.yaml" in msg and "region 'eu-west-1'" in msg and "cloud" in msg and "gpc" in msg


def test_duplicate_region():
    raw = _raw()
    raw["regions"][2]["name"] = "us-west-2"
    msg = _error(raw)
    assert "bad.yaml" in msg and "duplicate region 'us-west-2'" in msg


def test_missing_field():
    raw = _raw()
    del raw["regions"][2]["storage"]["bucket"]
    msg = _error(raw)
    assert "bad.yaml: region 'ap-south-1': storage.bucket: missing required field" in msg


@pytest.mark.parametrize(
    ("field", "value"),
    [("uri", "not a uri"), ("uri", "ftp://mlflow:5000"), ("artifact_root", "/local/path"), ("uri", "http://h:99999")],
)
def test_bad_uri(field, value):
    raw = _raw()
    raw["regions"][0]["registry"][field] = value
    msg = _error(raw)
    assert f"region 'us-west-2': registry.{field}" in msg
    assert "URI" in msg or "port" in msg


def test_store_must_match_cloud():
    raw = _raw()
    raw["regions"][0]["storage"]["kind"] = "gcs"
    msg = _error(raw)
    assert "region 'us-west-2'" in msg and "does not match cloud 'aws'" in msg


def test_unknown_field_is_rejected():
    raw = _raw()
    raw["regions"][0]["storage"]["buckt"] = "typo"
    assert "region 'us-west-2': storage.buckt: unknown field" in _error(raw)


def test_exactly_one_primary():
    raw = _raw()
    raw["regions"][1]["primary"] = True
    assert "exactly one region must be primary" in _error(raw)


def test_weight_out_of_range():
    raw = _raw()
    raw["regions"][0]["traffic"]["weight"] = 500
    assert "region 'us-west-2': traffic.weight" in _error(raw)


def test_missing_env_var_without_default():
    raw = _raw()
    raw["regions"][0]["registry"]["uri"] = "http://127.0.0.1:${NOPE_PORT}"
    assert "NOPE_PORT is not set" in _error(raw)


def test_several_problems_reported_together():
    raw = _raw()
    raw["regions"][0]["cloud"] = "ibm"
    del raw["regions"][1]["kubernetes"]
    msg = _error(raw)
    assert "region 'us-west-2': cloud" in msg and "region 'eu-west-1': kubernetes" in msg


def test_not_yaml_and_not_a_mapping(tmp_path: Path):
    bad = tmp_path / "t.yaml"
    bad.write_text("regions: [unclosed\n")
    with pytest.raises(TopologyError, match=r"t\.yaml: not valid YAML"):
        load_topology(bad)
    bad.write_text("- a list\n")
    with pytest.raises(TopologyError, match="expected a mapping"):
        load_topology(bad)
    with pytest.raises(TopologyError, match="cannot read topology file"):
        load_topology(tmp_path / "missing.yaml")


def test_unknown_region_lookup_lists_known():
    with pytest.raises(KeyError, match="known regions: us-west-2, eu-west-1, ap-south-1"):
        load_topology(LOCAL).region("mars-1")


def test_health_vantages_and_quorum():
    topology = parse_topology(LOCAL.read_text(), source="local", env={})
    assert [str(v.source_address) for v in topology.health.vantages] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert topology.health.quorum == 2
    raw = _raw()
    raw["health"]["quorum"] = 4
    assert "health.quorum 4 exceeds the 3 vantage point(s)" in _error(raw)
    raw["health"] = {"vantages": [{"name": "a", "source_address": "not-an-ip"}]}
    assert "source_address" in _error(raw)
    del raw["health"]
    assert parse_topology(yaml.safe_dump(raw), source="x", env={}).health.quorum == 1  # default: one place


def test_nearest_clients_name_known_regions_and_cloudflare_codes():
    raw = _raw()
    raw["regions"][0]["traffic"]["nearest"]["fallbacks"] = ["us-west-2", "mars-1"]
    assert "traffic.nearest.fallbacks ['us-west-2', 'mars-1'] must be other known regions" in _error(raw)
    raw = _raw()
    raw["regions"][0]["traffic"]["nearest"]["cloudflare_regions"] = ["SAM"]  # Cloudflare says NSAM / SSAM
    assert "cloudflare_regions" in _error(raw) and "SAM" in _error(raw)
    raw = _raw()
    raw["regions"][0]["traffic"]["nearest"]["client_subnets"] = ["127.1.0.0/33"]
    assert "client_subnets" in _error(raw)
