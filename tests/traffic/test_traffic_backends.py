"""Traffic backends behind one interface: PowerDNS (the local world's DNS) and Route53 (on moto)."""

from __future__ import annotations

import uuid

import pytest

from multiregion.traffic.controller import backend_for

pytestmark = pytest.mark.world


@pytest.fixture
def powerdns(world):
    backend = backend_for(world.topology)
    original = backend.get_weights()
    yield backend
    backend.set_weights(original)


def test_powerdns_weights_become_dns_answers(world, powerdns):
    assert powerdns.get_weights() == {r.name: r.traffic.weight for r in world.topology.regions}
    assert powerdns.set_weights({"us-west-2": 0, "eu-west-1": 30, "ap-south-1": 20}) is True
    assert powerdns.get_weights()["us-west-2"] == 0
    assert powerdns.resolve() == {"eu-west-1", "ap-south-1"}  # DNS no longer returns the drained region
    assert powerdns.set_weights({"us-west-2": 0, "eu-west-1": 30, "ap-south-1": 20}) is False  # idempotent


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"us-west-2": 500}, r"0\.\.255"),
        ({"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 0}, "positive"),
        ({"mars": 1}, "unknown"),
    ],
)
def test_bad_weights_are_refused_before_any_change(powerdns, weights, message):
    before = powerdns.get_weights()
    with pytest.raises(ValueError, match=message):
        powerdns.set_weights(weights)
    assert powerdns.get_weights() == before


def _route53(world, nearest: bool):
    """A fresh moto hosted zone and the world's topology pointed at it (with or without the
    regions' nearest clients)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from multiregion.core.topology import Route53Backend

    client = AwsBaseHook(aws_conn_id="aws_moto", client_type="route53").get_conn()
    zone = client.create_hosted_zone(Name="ml.example.test.", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    route53 = Route53Backend(kind="route53", conn_id="aws_moto", hosted_zone_id=zone.split("/")[-1])
    traffic = world.topology.traffic.model_copy(update={"backend": route53, "record": "api.ml.example.test."})
    regions = world.topology.regions
    if not nearest:
        regions = [r.model_copy(update={"traffic": r.traffic.model_copy(update={"nearest": None})}) for r in regions]
    return client, zone, world.topology.model_copy(update={"traffic": traffic, "regions": regions})


def test_route53_weighted_records_on_moto(world):
    client, zone, topology = _route53(world, nearest=False)
    backend = backend_for(topology)
    assert backend.get_weights() == {"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 0}
    assert backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}) is True
    assert backend.get_weights() == {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}
    assert backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}) is False
    backend.set_weights({"us-west-2": 0, "eu-west-1": 30, "ap-south-1": 20})
    records = client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    weighted = {r["SetIdentifier"]: r["Weight"] for r in records if "SetIdentifier" in r}
    assert weighted == {"us-west-2": 0, "eu-west-1": 30, "ap-south-1": 20}
    with pytest.raises(ValueError, match=r"0\.\.255"):  # moto would accept 500; we don't
        backend.set_weights({"us-west-2": 500})


def test_route53_geolocation_sends_each_location_to_its_nearest_region_on_moto(world):
    client, zone, topology = _route53(world, nearest=True)
    backend = backend_for(topology)
    assert backend.set_weights({"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}) is True
    assert backend.get_weights() == {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}

    def records() -> list[dict]:
        return client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]

    def near(set_id: str) -> dict[str, int]:
        name = f"near-{set_id}.api.ml.example.test."
        return {r["SetIdentifier"]: r["Weight"] for r in records() if r["Name"] == name and r["Type"] == "A"}

    geo = {r["SetIdentifier"]: (r["GeoLocation"], r["AliasTarget"]["DNSName"]) for r in records()
           if r["Name"] == "api.ml.example.test." and "GeoLocation" in r}  # fmt: skip
    assert geo == {
        "near-us-west-2": ({"ContinentCode": "NA"}, "near-us-west-2.api.ml.example.test."),
        "near-eu-west-1": ({"ContinentCode": "EU"}, "near-eu-west-1.api.ml.example.test."),
        "near-ap-south-1": ({"ContinentCode": "AS"}, "near-ap-south-1.api.ml.example.test."),
        "any": ({"CountryCode": "*"}, "any.api.ml.example.test."),
    }
    assert near("eu-west-1") == {"us-west-2": 0, "eu-west-1": 255, "ap-south-1": 0}

    # failover drains eu-west-1: Europe goes to its next nearest (us-west-2); a first restoration
    # step (10 % of its weight) brings a tenth of Europe's answers back
    backend.set_weights({"us-west-2": 50, "eu-west-1": 0, "ap-south-1": 20})
    assert near("eu-west-1") == {"us-west-2": 255, "eu-west-1": 0, "ap-south-1": 0}
    assert near("us-west-2") == {"us-west-2": 255, "eu-west-1": 0, "ap-south-1": 0}
    backend.set_weights({"us-west-2": 50, "eu-west-1": 3, "ap-south-1": 20})
    assert near("eu-west-1") == {"us-west-2": 230, "eu-west-1": 26, "ap-south-1": 0}
    assert backend.get_weights() == {"us-west-2": 50, "eu-west-1": 3, "ap-south-1": 20}
    plain = [r for r in records() if r["Name"] == "api.ml.example.test." and "Weight" in r]
    assert plain == []  # one routing policy per name: geolocation only
