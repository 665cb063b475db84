"""Nearest-region shares per client location (pure)."""

from __future__ import annotations

from multiregion.core.nearest import SCALE, locations, preference, shares
from multiregion.core.topology import load_topology

BASE = {"us": 50, "eu": 30, "ap": 20}
ORDER = ["us", "eu", "ap"]


def test_every_client_goes_to_its_nearest_region_when_all_are_in_service():
    assert shares(ORDER, BASE, BASE) == {"us": SCALE}


def test_a_drained_region_sends_its_clients_to_the_next_nearest_and_restoration_shifts_them_back():
    assert shares(ORDER, {**BASE, "us": 0}, BASE) == {"eu": SCALE}
    assert shares(ORDER, {**BASE, "us": 0, "eu": 0}, BASE) == {"ap": SCALE}
    assert shares(ORDER, {**BASE, "us": 5}, BASE) == {"us": 100, "eu": 900}  # first step: 10 %
    assert shares(ORDER, {**BASE, "us": 25}, BASE) == {"us": 500, "eu": 500}
    assert shares(ORDER, {**BASE, "us": 5, "eu": 15}, BASE) == {"us": 100, "eu": 450, "ap": 450}


def test_shares_always_sum_to_the_scale():
    for w in ({"us": 1, "eu": 1, "ap": 1}, {"us": 7, "eu": 3, "ap": 0}, {"us": 0, "eu": 0, "ap": 9}):
        assert sum(shares(ORDER, w, BASE).values()) == SCALE, w


def test_the_world_topology_declares_a_location_per_region_with_fallbacks():
    topology = load_topology()
    assert preference(topology.region("ap-south-1"), topology) == ["ap-south-1", "eu-west-1", "us-west-2"]
    weights = {r.name: r.traffic.weight for r in topology.regions}
    assert {loc.region: loc.shares for loc in locations(topology, weights)} == {
        "us-west-2": {"us-west-2": SCALE},
        "eu-west-1": {"eu-west-1": SCALE},
        "ap-south-1": {"ap-south-1": SCALE},
    }
    drained = {loc.region: loc.shares for loc in locations(topology, {**weights, "eu-west-1": 0})}
    assert drained["eu-west-1"] == {"us-west-2": SCALE}  # Europe's clients: the next nearest, us-west-2


def test_one_client_address_per_location():
    from multiregion.core.nearest import client_addresses

    assert client_addresses(load_topology()) == ["127.1.0.1", "127.2.0.1", "127.3.0.1"]
