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


def test_route53_weighted_records_on_moto(world):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    client = AwsBaseHook(aws_conn_id="aws_moto", client_type="route53").get_conn()
    zone = client.create_hosted_zone(Name="ml.example.test.", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    from multiregion.core.topology import Route53Backend

    route53 = Route53Backend(kind="route53", conn_id="aws_moto", hosted_zone_id=zone.split("/")[-1])
    traffic = world.topology.traffic.model_copy(update={"backend": route53, "record": "api.ml.example.test."})
    topology = world.topology.model_copy(update={"traffic": traffic})
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
