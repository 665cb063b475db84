"""Survivor capacity planning during a failover (pure core)."""

from __future__ import annotations

import pytest

from multiregion.core.capacity import ReplicaLimits, limits_for, plan_capacity
from multiregion.core.topology import load_topology

WIDE = ReplicaLimits(1, 100)
OLD = {"us": 50, "eu": 30, "ap": 20}
DRAIN_US = {"us": 0, "eu": 30, "ap": 20}


def test_survivors_keep_their_replicas_per_share():
    # eu: 30% -> 60% of traffic, ap: 20% -> 40%: both must double.
    plan = plan_capacity({"eu": 3, "ap": 2}, OLD, DRAIN_US, {"eu": WIDE, "ap": WIDE})
    assert plan.changes == {"eu": 6, "ap": 4}
    assert "30.0% -> 60.0%" in plan.step("eu").reason
    assert plan.capped == []


def test_ceil_never_leaves_a_survivor_short():
    # 3 * (0.6 / 0.5) = 3.6 -> 4
    plan = plan_capacity({"us": 3, "eu": 3}, {"us": 50, "eu": 50}, {"us": 40, "eu": 60}, {"us": WIDE, "eu": WIDE})
    assert plan.changes == {"eu": 4}


def test_no_change_needed_when_share_does_not_grow():
    plan = plan_capacity({"us": 5, "eu": 3, "ap": 2}, OLD, OLD, {"us": WIDE, "eu": WIDE, "ap": WIDE})
    assert plan.changes == {}
    assert "already enough" in plan.step("eu").reason


def test_clamped_to_max_and_flagged():
    plan = plan_capacity({"eu": 3, "ap": 2}, OLD, DRAIN_US, {"eu": ReplicaLimits(1, 5), "ap": WIDE})
    eu = plan.step("eu")
    assert (eu.needed, eu.target, eu.capped) == (6, 5, True)
    assert plan.capped == ["eu"] and "capped at max_replicas 5" in eu.reason


def test_raised_to_min_replicas():
    # 0 replicas * anything = 0, but the region takes traffic: at least min_replicas.
    plan = plan_capacity({"eu": 0, "ap": 2}, OLD, DRAIN_US, {"eu": ReplicaLimits(2, 10), "ap": WIDE})
    assert plan.changes["eu"] == 2 and "raised to min_replicas 2" in plan.step("eu").reason


def test_never_scales_down_during_failover():
    # ap's share shrinks (20% -> 10%) and it is above max: it keeps its replicas either way.
    limits = {"us": WIDE, "eu": WIDE, "ap": ReplicaLimits(1, 8)}
    plan = plan_capacity({"us": 5, "eu": 3, "ap": 12}, OLD, {"us": 70, "eu": 20, "ap": 10}, limits)
    ap = plan.step("ap")
    assert ap.target == 12 and not ap.changed and "never scaled down" in ap.reason


def test_region_going_from_zero_share_uses_fleet_density():
    # ap had no traffic; eu + us had 8 replicas for 100% of traffic, ap now takes 25%.
    old = {"us": 50, "eu": 50, "ap": 0}
    new = {"us": 0, "eu": 75, "ap": 25}
    plan = plan_capacity({"us": 4, "eu": 4, "ap": 1}, old, new, {"eu": WIDE, "ap": WIDE, "us": WIDE})
    assert plan.step("ap").target == 2  # ceil(8 * 0.25)
    assert plan.step("eu").target == 6  # ceil(4 * 0.75 / 0.5)
    assert not plan.step("us").changed  # drained: left as is


def test_zero_share_without_any_reference_goes_to_max():
    plan = plan_capacity({"ap": 1}, {"us": 100, "ap": 0}, {"us": 0, "ap": 100}, {"ap": ReplicaLimits(1, 7)})
    assert plan.step("ap").target == 7 and "sized to max_replicas" in plan.step("ap").reason


def test_drained_region_may_be_unknown_but_survivors_may_not():
    with pytest.raises(ValueError, match=r"missing for \['ap'\]"):
        plan_capacity({"eu": 3}, OLD, DRAIN_US, {"eu": WIDE})


@pytest.mark.parametrize("bad", [{"us": 0, "eu": 0, "ap": 0}, {"us": -1, "eu": 1, "ap": 1}])
def test_invalid_weights_rejected(bad):
    with pytest.raises(ValueError):
        plan_capacity({"eu": 3, "ap": 2}, OLD, bad, {"eu": WIDE, "ap": WIDE})


def test_limits_come_from_the_topology():
    topo = load_topology()
    limits = limits_for(topo)
    for region in topo.regions:
        assert limits[region.name] == (region.kubernetes.min_replicas, region.kubernetes.max_replicas)
