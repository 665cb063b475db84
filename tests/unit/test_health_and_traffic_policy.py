"""Health evaluation (thresholds, hysteresis, flapping) and the traffic safety rules (pure)."""

from __future__ import annotations

import pytest

from multiregion.core.health import HealthPolicy, HealthState, Probe, RegionHealth, evaluate, healthy_for
from multiregion.core.traffic_policy import (
    Action,
    StepVerdict,
    decide_drain,
    judge_step,
    plan_failover,
    restoration_weights,
    validate_weights,
)

POLICY = HealthPolicy(failure_threshold=3, success_threshold=2, max_latency_s=0.5)
H, U = HealthState.HEALTHY, HealthState.UNHEALTHY


def _run(pattern: str, start: RegionHealth | None = None) -> list[HealthState]:
    """'g' good probe, 'b' failed probe; returns the state after each probe."""
    health = start or RegionHealth("r")
    states = []
    for i, c in enumerate(pattern):
        probe = Probe("r", float(i), 200 if c == "g" else None, 0.01, None if c == "g" else "refused")
        health = evaluate(health, probe, POLICY)
        states.append(health.state)
    return states


def test_thresholds_and_hysteresis():
    assert _run("gg")[-1] == H
    assert _run("ggbb")[-1] == H  # two failures < threshold 3
    assert _run("ggbbb")[-1] == U
    assert _run("ggbbbg")[-1] == U  # one success < threshold 2
    assert _run("ggbbbgg")[-1] == H


def test_flapping_faster_than_thresholds_never_changes_state():
    states = _run("gg" + "bbg" * 20)
    assert set(states[2:]) == {H}
    states = _run("bbb" + "gb" * 20)
    assert set(states[2:]) == {U}


@pytest.mark.parametrize(
    ("probe", "why"),
    [
        (Probe("r", 1, 503, 0.01), "HTTP 503"),
        (Probe("r", 1, 200, 0.9), "latency 0.900s > 0.5s"),
        (Probe("r", 1, None, None, "timeout"), "timeout"),
    ],
)
def test_probe_failure_reasons(probe, why):
    health = evaluate(RegionHealth("r"), probe, POLICY)
    assert health.consecutive_failures == 1 and health.last_reason == why


def test_error_rate_gate_and_out_of_order_probes():
    policy = HealthPolicy(max_error_rate=0.05)
    bad = evaluate(RegionHealth("r"), Probe("r", 5, 200, 0.01, error_rate=0.2), policy)
    assert bad.last_reason == "error rate 0.200 > 0.05"
    assert evaluate(bad, Probe("r", 4, 200, 0.01), policy) == bad  # older than the last probe: ignored


def test_healthy_for():
    health = RegionHealth("r")
    for t in (10.0, 11.0):
        health = evaluate(health, Probe("r", t, 200, 0.01), POLICY)
    assert health.changed_at == 11.0 and healthy_for(health, 41.0) == 30.0


W = {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}


def test_drain_moves_traffic_to_healthy_survivors():
    d = decide_drain("us-west-2", W, {"us-west-2": U, "eu-west-1": H, "ap-south-1": H})
    assert d.action == Action.DRAIN and d.new_weights == {**W, "us-west-2": 0}


def test_never_drain_the_last_healthy_region():
    d = decide_drain("eu-west-1", {**W, "us-west-2": 0}, {"us-west-2": U, "eu-west-1": U, "ap-south-1": U})
    assert d.action == Action.REFUSE_ALL_UNHEALTHY and d.new_weights == {**W, "us-west-2": 0}
    d = decide_drain(
        "ap-south-1",
        {"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 20},
        {"us-west-2": U, "eu-west-1": H, "ap-south-1": U},
    )
    assert d.action == Action.REFUSE_LAST_HEALTHY  # eu-west-1 is healthy but has no weight
    assert decide_drain("us-west-2", {**W, "us-west-2": 0}, {}).action == Action.NO_CHANGE


def test_plan_failover_two_regions_down_keeps_the_last_healthy_one():
    health = {"us-west-2": U, "eu-west-1": U, "ap-south-1": H}
    plan = plan_failover(W, health)
    assert [(d.region, d.action) for d in plan] == [("eu-west-1", Action.DRAIN), ("us-west-2", Action.DRAIN)]
    assert plan[-1].new_weights == {"us-west-2": 0, "eu-west-1": 0, "ap-south-1": 20}
    # one after the other: the second failure sees the first drain
    first = plan_failover(W, {**health, "eu-west-1": H})
    second = plan_failover(first[-1].new_weights, health)
    assert second[-1].new_weights == plan[-1].new_weights
    # then the last one fails too: nothing changes (fail open)
    last = plan_failover(plan[-1].new_weights, dict.fromkeys(health, U))
    assert [(d.region, d.action) for d in last] == [("ap-south-1", Action.REFUSE_ALL_UNHEALTHY)]
    assert last[0].new_weights == plan[-1].new_weights


def test_plan_failover_ignores_drained_and_healthy_regions():
    assert plan_failover({**W, "us-west-2": 0}, {"us-west-2": U, "eu-west-1": H, "ap-south-1": H}) == []
    assert plan_failover(W, dict.fromkeys(W, H)) == []
    all_down = plan_failover(W, dict.fromkeys(W, U))
    assert {d.action for d in all_down} == {Action.REFUSE_ALL_UNHEALTHY}
    assert all(d.new_weights == W for d in all_down)


def test_weights_are_validated():
    with pytest.raises(ValueError, match=r"0\.\.255"):
        validate_weights({"a": 500})
    with pytest.raises(ValueError, match="positive weight"):
        validate_weights({"a": 0, "b": 0})


def test_restoration_steps():
    assert restoration_weights(50) == [5, 12, 25, 50]
    assert restoration_weights(3) == [1, 2, 3]
    assert restoration_weights(0) == []
    with pytest.raises(ValueError):
        restoration_weights(50, (50, 25, 100))


@pytest.mark.parametrize(
    ("index", "held", "state", "rate", "verdict"),
    [
        (0, 5, H, 0.0, StepVerdict.HOLD),
        (0, 30, H, 0.0, StepVerdict.ADVANCE),
        (3, 30, H, 0.0, StepVerdict.DONE),
        (1, 5, U, 0.0, StepVerdict.ROLLBACK),
        (1, 30, H, 0.5, StepVerdict.ROLLBACK),
    ],
)
def test_judge_step(index, held, state, rate, verdict):
    assert judge_step(index, [5, 12, 25, 50], held, 30, state, rate, 0.05) == verdict


def _vantage_probes(**kinds: str) -> dict[str, Probe]:
    """vantage=g (good, 0.1 s), s (slow: 0.9 s) or b (refused)."""
    latency = {"g": 0.1, "s": 0.9, "b": None}
    return {v: Probe("r", 5.0, 200 if k != "b" else None, latency[k], None if k != "b" else "refused")
            for v, k in kinds.items()}  # fmt: skip


def test_vantage_points_fail_a_round_only_by_quorum():
    from multiregion.core.health import combine_vantages

    one_path_broken, failed = combine_vantages(_vantage_probes(a="g", b="g", c="b"), 2, POLICY)
    assert one_path_broken.status_code == 200 and one_path_broken.latency_s == 0.1 and list(failed) == ["c"]
    down, failed = combine_vantages(_vantage_probes(a="b", b="g", c="b"), 2, POLICY)
    assert down.status_code is None and down.error == "2/3 vantage points failed (a: refused; c: refused)"
    slow, _ = combine_vantages(_vantage_probes(a="s", b="s", c="g"), 2, POLICY)  # slow from two places
    assert slow.error.startswith("2/3") and "latency 0.900s > 0.5s" in slow.error
    alone, _ = combine_vantages(_vantage_probes(a="b"), 1, POLICY)  # one vantage point: its probe as it is
    assert alone.error == "refused"
    with pytest.raises(ValueError, match="quorum 3"):
        combine_vantages(_vantage_probes(a="g", b="g"), 3, POLICY)
