"""Failover drills: when one may start, which region it takes, and its figures (pure)."""

from __future__ import annotations

from dataclasses import replace

from multiregion.core.drills import Conditions, Timeline, figures, next_region, refusal

W = {"a": 50, "b": 30, "c": 20}
FIT = Conditions(
    health=dict.fromkeys(W, "healthy"), weights=dict(W), originals={}, maintenance=set(), downtime=set(),
    watcher_age_s=2.0,
)  # fmt: skip


def test_a_fit_platform_may_be_drilled_and_every_unfit_one_says_why():
    assert refusal(FIT, "b") is None
    cases = {
        "failover is not armed": replace(FIT, watcher_age_s=None),
        "not every region is healthy (c)": replace(FIT, health={**FIT.health, "c": "unhealthy"}),
        "maintenance in progress in a": replace(FIT, maintenance={"a"}),
        "scaling downtime window active in b": replace(FIT, downtime={"b"}),
        "c not at its original weight": replace(FIT, weights={**W, "c": 0}),
        "b not at its original weight": replace(FIT, originals={"b": 30}),  # a restoration not finished
        "unknown region 'z'": FIT,
    }
    for why, conditions in cases.items():
        assert why in (refusal(conditions, "z" if "unknown" in why else "a") or ""), why
    assert "failover is not armed" in refusal(replace(FIT, watcher_age_s=120.0), "a")  # a stale heartbeat


def test_regions_are_drilled_in_turn():
    regions = ["a", "b", "c"]
    assert [next_region(regions, last) for last in (None, "a", "b", "c", "gone")] == ["a", "b", "c", "a", "a"]


def test_figures_from_the_outage_and_the_restoration():
    t = Timeline(started_at=100.0, detected_at=103.5, drained_at=105.0, dns_gone_at=105.5, handed_back_at=120.0,
                 restored_at=170.0, requests=400, errors=22, last_error_at=111.0)  # fmt: skip
    out = figures(t, rto_objective_s=30)
    assert (out["detection_s"], out["drain_s"], out["dns_s"], out["rto_s"]) == (3.5, 5.0, 5.5, 11.0)
    assert (out["restoration_s"], out["error_rate"], out["rto_met"]) == (50.0, 0.055, True)
    no_errors = figures(replace(t, errors=0, last_error_at=None), rto_objective_s=5)
    assert no_errors["rto_s"] == 5.5 and no_errors["rto_met"] is False  # DNS time, over a 5 s objective
    assert figures(Timeline(started_at=1.0), 60)["rto_met"] is False  # never drained: not met
