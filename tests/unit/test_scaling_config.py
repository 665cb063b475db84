"""config/scaling.yaml and the per-Deployment annotations: what they give, and bad input named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from multiregion import PROJECT_ROOT
from multiregion.core.scaling_config import ORIGINAL_REPLICAS, PREFIX, load_scaling, original_replicas, parse_scaling
from multiregion.core.schedules import ScheduleError
from multiregion.core.topology import load_topology

TOPOLOGY = load_topology(PROJECT_ROOT / "config" / "topology.local.yaml")
GOOD = """
interval: 10m
requests_per_replica: 25
defaults: {grace_period: 5m}
regions:
  us-west-2:
    model-server: {downtime: "Mon-Fri 23:00-06:00 America/Los_Angeles", downtime_replicas: 1}
    batch: {uptime: "Mon-Fri 08:00-18:00 UTC"}
"""


def test_the_shipped_config_loads():
    config = load_scaling(TOPOLOGY)
    assert set(config.schedules) == {(r, "model-server") for r in TOPOLOGY.region_names}


def test_fields_defaults_and_the_serving_deployment():
    config = parse_scaling(GOOD, TOPOLOGY, "s.yaml")
    serving, batch = config.schedules[("us-west-2", "model-server")], config.schedules[("us-west-2", "batch")]
    assert (config.interval, config.requests_per_replica, config.dry_run) == (timedelta(minutes=10), 25.0, False)
    assert serving.serving and serving.min_replicas == 2  # the topology's min_replicas for its serving deployment
    assert serving.grace_period == timedelta(minutes=5) and serving.downtime_replicas == 1
    assert not batch.serving and batch.min_replicas == 0 and batch.downtime.never


def test_annotations_override_the_file_for_one_deployment():
    config = parse_scaling(GOOD, TOPOLOGY, "s.yaml")
    annotated = config.schedule_for(
        "us-west-2",
        "model-server",
        {PREFIX + "downtime": "never", PREFIX + "exclude-until": "2027-01-01", PREFIX + "min-replicas": "3"},
    )
    assert annotated.downtime.never and annotated.min_replicas == 3 and annotated.exclude_until.year == 2027
    assert config.schedule_for("eu-west-1", "model-server", {}) is None  # unscheduled
    only_annotations = config.schedule_for("eu-west-1", "other", {PREFIX + "downtime": "always"})
    assert only_annotations.downtime.always and not only_annotations.serving
    assert original_replicas("r", "d", {ORIGINAL_REPLICAS: "4"}) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions: {mars-1: {x: {downtime: never}}}", "s.yaml: unknown region 'mars-1'"),
        (
            "regions: {us-west-2: {model-server: {downtime: 'Mon-Fri 23:00-06:00 PST'}}}",
            "s.yaml: us-west-2/model-server: downtime: time zone 'PST' is not an IANA name",
        ),
        (
            "regions: {us-west-2: {model-server: {downtime_replicas: -1}}}",
            "us-west-2/model-server: downtime_replicas: -1 is not a whole number",
        ),
        ("regions: {us-west-2: {model-server: {downtim: never}}}", "unknown field(s) ['downtim']"),
        ("regions: {us-west-2: {model-server: {grace_period: soon}}}", "grace_period: bad duration 'soon'"),
        ("regions: {us-west-2: {model-server: {exclude: maybe}}}", "exclude: 'maybe' is not true or false"),
        ("requests_per_replica: 0", "requests_per_replica: 0 must be a positive number"),
        ("interval: [", "not valid YAML"),
    ],
)
def test_bad_config_names_file_deployment_and_token(text, message):
    with pytest.raises(ScheduleError) as err:
        parse_scaling(text, TOPOLOGY, "s.yaml")
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({PREFIX + "downtime": "Mon-Fri 25:00-06:00 UTC"}, f"deployment us-west-2/batch: annotation {PREFIX}downtime"),
        ({PREFIX + "downtime-replicas": "two"}, "annotation scaling.multiregion.io/downtime-replicas: 'two'"),
        ({PREFIX + "exclude-until": "next week"}, "exclude-until: bad date 'next week'"),
    ],
)
def test_bad_annotations_name_the_deployment_and_the_annotation(annotations, message):
    config = parse_scaling(GOOD, TOPOLOGY, "s.yaml")
    with pytest.raises(ScheduleError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config.schedule_for("us-west-2", "batch", annotations)


def test_the_preview_cli_prints_the_changes_and_writes_a_png(tmp_path, capsys):
    from multiregion.scaling_preview import main

    out = tmp_path / "preview.png"
    assert main(["--offline", "--replicas", "4", "--start", "2026-12-21T00:00:00+00:00", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "eu-west-1/model-server" in printed and "Thu 2026-12-24 18:00 UTC    2  in downtime" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
