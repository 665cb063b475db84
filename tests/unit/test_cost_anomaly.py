"""Daily cost anomalies on hand-built series, with the exact days flagged: spike, dip, weekly
seasonality, level shift (and a stopped service), ramp, new service, settling days, the impact
floor, flat histories, the restatement window, ordering and bad settings."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from multiregion.core.cost_anomaly import (
    AnomalySettings,
    Direction,
    Status,
    detect,
    evaluate,
)

AS_OF = date(2026, 12, 10)  # a Thursday; settling: Dec 8-9; judged: Nov 24 (Tue) - Dec 7 (Mon)
FIRST_JUDGED, LAST_JUDGED = date(2026, 11, 24), date(2026, 12, 7)
EC2 = ("aws", "us-east-1", "AmazonEC2")
OFFSETS = (0.0, 10.0, -10.0, 5.0, -5.0, 0.0)  # per week: any 6 weeks in a row -> median 100, MAD 5


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def weekly_noise(first: date = date(2026, 9, 17), last: date = AS_OF) -> dict[date, float]:
    """100 +- 10, the same offset for a whole week: every judged day's baseline is 100, scale 7.413."""
    return {d: 100.0 + OFFSETS[(d - first).days // 7 % 6] for d in days(first, last)}


def flat(value: float, first: date = date(2026, 9, 1), last: date = AS_OF) -> dict[date, float]:
    return dict.fromkeys(days(first, last), value)


def flags(anomalies) -> list[tuple[object, date, str]]:
    return [(a.key, a.day, str(a.direction)) for a in anomalies]


def by_day(evaluations) -> dict[date, object]:
    return {e.day: e for e in evaluations}


def test_a_spike_on_one_day_is_flagged_with_its_baseline_and_impact():
    series = weekly_noise()
    series[date(2026, 11, 25)] = 400.0
    [anomaly] = detect({EC2: series}, AS_OF)
    assert (anomaly.key, anomaly.day, anomaly.direction) == (EC2, date(2026, 11, 25), Direction.SPIKE)
    assert (anomaly.actual, anomaly.expected, anomaly.impact, anomaly.history) == (400.0, 100.0, 300.0, 6)
    assert anomaly.score == pytest.approx(300 / (1.4826 * 5))
    assert anomaly.describe() == (
        "aws/us-east-1/AmazonEC2 on Wednesday 2026-11-25: spike, 400.00 against 100.00 expected "
        "(median of the 6 previous Wednesdays), +300.00 (+300%), 40.5 robust deviations out"
    )


def test_a_dip_is_flagged_as_a_dip():
    series = weekly_noise()
    series[date(2026, 12, 3)] = 20.0
    [anomaly] = detect({EC2: series}, AS_OF)
    assert (anomaly.day, anomaly.direction, anomaly.expected, anomaly.impact) == (
        date(2026, 12, 3),
        Direction.DIP,
        100.0,
        -80.0,
    )
    assert anomaly.direction == "dip"


def test_ordinary_noise_is_judged_normal_every_day():
    evaluations = evaluate({EC2: weekly_noise()}, AS_OF)
    judged = [e for e in evaluations if e.status != Status.SETTLING]
    assert [e.day for e in judged] == days(FIRST_JUDGED, LAST_JUDGED)
    assert {e.status for e in judged} == {Status.NORMAL}
    assert all(e.expected == 100.0 and e.scale == pytest.approx(7.413) for e in judged)


def seasonal(first: date = date(2026, 8, 1), last: date = AS_OF) -> dict[date, float]:
    """Weekdays ~1000 (+-10), weekends at 30 % of that (~300 +-6): a deterministic wobble."""
    out = {}
    for d in days(first, last):
        wobble = (d.toordinal() * 7 % 11 - 5) * 2.0
        out[d] = 1000.0 + wobble if d.weekday() < 5 else 300.0 + 0.6 * wobble
    return out


def test_weekly_seasonality_is_not_an_anomaly_but_a_weekday_at_weekend_level_is():
    series = seasonal()
    judged = [e for e in evaluate({EC2: series}, AS_OF) if e.status != Status.SETTLING]
    assert {e.status for e in judged} == {Status.NORMAL}
    weekend = [e for e in judged if e.day.weekday() >= 5]
    assert len(weekend) == 4 and all(290 <= e.expected <= 310 for e in weekend)

    series[date(2026, 12, 2)] = 300.0  # a Wednesday at weekend level
    series[date(2026, 11, 28)] = 1000.0  # and a Saturday at weekday level
    assert flags(detect({EC2: series}, AS_OF)) == [
        (EC2, date(2026, 11, 28), "spike"),
        (EC2, date(2026, 12, 2), "dip"),
    ]


def test_a_level_shift_is_flagged_for_its_first_three_weeks_then_becomes_the_baseline():
    shift = date(2026, 9, 1)
    series = flat(100.0, date(2026, 6, 1), shift - timedelta(days=1)) | flat(300.0, shift, shift + timedelta(days=70))
    as_of = shift + timedelta(days=60)
    settings = AnomalySettings(window_days=80)  # judged: Aug 10 - Oct 28
    evaluations = by_day(evaluate({EC2: series}, as_of, settings))
    anomalies = detect({EC2: series}, as_of, settings)
    # Flagged while fewer than half of the 6 same-weekday points are at the new level: 21 days.
    assert [a.day for a in anomalies] == days(shift, shift + timedelta(days=20))
    assert {(a.direction, a.expected, a.impact) for a in anomalies} == {(Direction.SPIKE, 100.0, 200.0)}
    # Day 21: 3 of 6 points are new, the median sits midway and MAD is half the step.
    halfway = evaluations[shift + timedelta(days=21)]
    assert (halfway.status, halfway.expected, halfway.scale) == (Status.NORMAL, 200.0, pytest.approx(148.26))
    assert halfway.score == pytest.approx(100 / 148.26)
    assert evaluations[shift + timedelta(days=28)].expected == 300.0


def test_a_service_that_stops_is_a_dip_for_three_weeks_missing_days_counting_as_zero():
    last = date(2026, 10, 31)  # no rows after this day: the service stopped
    series = {EC2: flat(100.0, date(2026, 6, 1), last)}
    settings = AnomalySettings(window_days=40)  # judged: Oct 29 - Dec 7
    anomalies = detect(series, AS_OF, settings)
    assert [a.day for a in anomalies] == days(date(2026, 11, 1), date(2026, 11, 21))
    assert {(a.actual, a.expected, a.direction) for a in anomalies} == {(0.0, 100.0, Direction.DIP)}
    evaluations = by_day(evaluate(series, AS_OF, settings))
    assert evaluations[date(2026, 11, 22)].expected == 50.0  # 3 of 6 points at 0
    assert (evaluations[date(2026, 12, 1)].status, evaluations[date(2026, 12, 1)].expected) == (Status.NORMAL, 0.0)


def test_days_without_rows_inside_a_series_cost_zero_and_a_zero_weekend_is_normal():
    # Exports omit zero-cost days: a weekday-only service has no weekend rows at all.
    series = {d: 80.0 for d in days(date(2026, 9, 1), AS_OF) if d.weekday() < 5}
    judged = [e for e in evaluate({EC2: series}, AS_OF) if e.status != Status.SETTLING]
    weekend = [(e.day, e.actual, e.expected, e.status) for e in judged if e.day.weekday() >= 5]
    assert weekend == [
        (date(2026, 11, 28), 0.0, 0.0, Status.NORMAL),
        (date(2026, 11, 29), 0.0, 0.0, Status.NORMAL),
        (date(2026, 12, 5), 0.0, 0.0, Status.NORMAL),
        (date(2026, 12, 6), 0.0, 0.0, Status.NORMAL),
    ]
    assert detect({EC2: series}, AS_OF) == []


def test_a_steady_ramp_is_never_flagged():
    series = {d: 100.0 + 20.0 * i for i, d in enumerate(days(date(2026, 6, 1), AS_OF))}
    judged = [e for e in evaluate({EC2: series}, AS_OF) if e.status != Status.SETTLING]
    # The median lags 3.5 weeks of growth (490), the history's own spread is 1.5 weeks (MAD 210).
    assert {(e.status, e.impact) for e in judged} == {(Status.NORMAL, 490.0)}
    assert {round(e.score, 3) for e in judged} == {round(490 / (1.4826 * 210), 3)}


def test_a_new_service_is_not_judged_until_it_has_three_same_weekday_points():
    started = AS_OF - timedelta(days=20)  # Nov 20
    series = {("gcp", "europe-west4", "Vertex AI"): flat(500.0, started, AS_OF + timedelta(days=10))}
    series[("gcp", "europe-west4", "Vertex AI")][date(2026, 12, 4)] = 5000.0
    evaluations = [e for e in evaluate(series, AS_OF) if e.status != Status.SETTLING]
    assert [e.day for e in evaluations] == days(FIRST_JUDGED, LAST_JUDGED)  # from Nov 24: no earlier rows
    assert {e.status for e in evaluations} == {Status.INSUFFICIENT_HISTORY}
    assert [e.history for e in evaluations] == [0] * 3 + [1] * 7 + [2] * 4
    assert evaluations[-1].describe() == (
        "gcp/europe-west4/Vertex AI on Monday 2026-12-07: not judged: 2 of the last 6 Mondays on record, 3 needed"
    )
    assert detect(series, AS_OF) == []
    # Four days on, Friday Dec 11 has its third Friday (Nov 20, Nov 27, Dec 4 at 5000): judged, normal.
    later = by_day(evaluate(series, AS_OF + timedelta(days=4)))
    assert (later[date(2026, 12, 11)].status, later[date(2026, 12, 11)].history) == (Status.NORMAL, 3)
    assert later[date(2026, 12, 10)].status == Status.INSUFFICIENT_HISTORY


def test_a_spike_in_the_settling_days_is_judged_only_once_it_settled():
    series = weekly_noise(last=AS_OF + timedelta(days=5))
    series[date(2026, 12, 9)] = 400.0
    series[AS_OF] = 9999.0  # the run's own day: incomplete, never looked at
    evaluations = by_day(evaluate({EC2: series}, AS_OF))
    assert max(evaluations) == date(2026, 12, 9) and AS_OF not in evaluations
    settling = evaluations[date(2026, 12, 9)]
    assert (settling.status, settling.expected, settling.score, settling.impact) == (Status.SETTLING, None, None, None)
    assert settling.reason == "not judged yet: billing data still settling (judged from as_of 2026-12-12)"
    assert evaluations[date(2026, 12, 8)].status == Status.SETTLING
    assert detect({EC2: series}, AS_OF) == []
    assert detect({EC2: series}, AS_OF + timedelta(days=1)) == []  # still settling
    assert flags(detect({EC2: series}, AS_OF + timedelta(days=2))) == [(EC2, date(2026, 12, 9), "spike")]


def test_a_tenfold_jump_of_a_two_dollar_series_is_under_the_impact_floor():
    series = flat(2.0)
    series[date(2026, 12, 1)] = 20.0
    evaluations = by_day(evaluate({EC2: series}, AS_OF))
    small = evaluations[date(2026, 12, 1)]
    assert (small.status, small.impact, small.score) == (Status.UNDER_IMPACT_FLOOR, 18.0, pytest.approx(180.0))
    assert detect({EC2: series}, AS_OF) == []
    assert flags(detect({EC2: series}, AS_OF, AnomalySettings(impact_floor=10.0))) == [
        (EC2, date(2026, 12, 1), "spike")
    ]


def test_a_flat_history_has_mad_zero_and_the_relative_floor_sets_the_scale():
    series = flat(10_000.0)
    series[date(2026, 11, 26)] = 10_500.0  # +5 %: one floor-scale out, though $500
    series[date(2026, 12, 3)] = 12_000.0  # +20 %: four out
    evaluations = by_day(evaluate({EC2: series}, AS_OF))
    wobble = evaluations[date(2026, 11, 26)]
    assert (wobble.status, wobble.scale, wobble.score) == (Status.NORMAL, 500.0, 1.0)
    assert evaluations[date(2026, 11, 25)].score == 0.0
    [jump] = detect({EC2: series}, AS_OF)
    assert (jump.day, jump.expected, jump.score, jump.impact) == (date(2026, 12, 3), 10_000.0, 4.0, 2000.0)


def test_a_flat_zero_history_does_not_divide_by_zero_and_the_impact_floor_decides():
    series = {"azure/westeurope/Storage": flat(0.0), "azure/westeurope/Bandwidth": flat(0.0)}
    series["azure/westeurope/Storage"][date(2026, 12, 1)] = 60.0
    series["azure/westeurope/Bandwidth"][date(2026, 12, 1)] = 30.0
    [jump] = detect(series, AS_OF)
    assert (jump.key, jump.expected, jump.impact, jump.score) == (
        "azure/westeurope/Storage",
        0.0,
        60.0,
        pytest.approx(6000.0),
    )
    assert "+60.00, 6000.0 robust" in jump.describe() and "%" not in jump.describe()
    bandwidth = by_day(e for e in evaluate(series, AS_OF) if e.key == "azure/westeurope/Bandwidth")
    assert (bandwidth[date(2026, 12, 1)].status, bandwidth[date(2026, 12, 1)].scale) == (
        Status.UNDER_IMPACT_FLOOR,
        0.01,
    )


def test_days_older_than_the_restatement_window_are_not_judged_again():
    series = weekly_noise()
    series[date(2026, 11, 23)] = 400.0  # one day before the window
    evaluations = evaluate({EC2: series}, AS_OF)
    assert [e.day for e in evaluations] == days(FIRST_JUDGED, date(2026, 12, 9))  # 14 judged + 2 settling
    assert detect({EC2: series}, AS_OF) == []
    assert flags(detect({EC2: series}, AS_OF - timedelta(days=1))) == [(EC2, date(2026, 11, 23), "spike")]


def test_a_restated_day_inside_the_window_gets_a_fresh_verdict():
    series = weekly_noise()
    series[date(2026, 11, 30)] = 400.0
    assert flags(detect({EC2: series}, AS_OF)) == [(EC2, date(2026, 11, 30), "spike")]
    series[date(2026, 11, 30)] = 105.0  # the export corrected it before the next day's run
    assert detect({EC2: series}, AS_OF + timedelta(days=1)) == []


def test_results_are_ordered_by_key_then_day_whatever_the_input_order():
    keys = [("gcp", "us-central1", "Compute"), ("aws", "eu-west-1", "S3"), ("aws", "eu-west-1", "EC2")]
    series = {}
    for key in keys:
        values = weekly_noise()
        values[date(2026, 12, 4)] = 500.0
        values[date(2026, 11, 27)] = 600.0
        series[key] = dict(reversed(values.items()))
    assert [(a.key, a.day) for a in detect(series, AS_OF)] == [
        (key, day) for key in sorted(keys) for day in (date(2026, 11, 27), date(2026, 12, 4))
    ]
    assert evaluate(series, AS_OF) == evaluate(dict(reversed(series.items())), AS_OF)


def test_the_defaults_are_the_documented_ones():
    assert AnomalySettings() == AnomalySettings(
        baseline_weeks=6,
        min_history=3,
        k=3.5,
        impact_floor=50.0,
        relative_floor=0.05,
        min_scale=0.01,
        settle_days=2,
        window_days=14,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("k", 0),
        ("k", -1.0),
        ("k", float("nan")),
        ("baseline_weeks", 0),
        ("baseline_weeks", 2.5),
        ("min_history", 0),
        ("min_history", 7),  # more than baseline_weeks: no day could ever be judged
        ("impact_floor", -1.0),
        ("impact_floor", float("inf")),
        ("relative_floor", -0.05),
        ("min_scale", 0.0),
        ("settle_days", -1),
        ("window_days", 0),
        ("window_days", True),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"AnomalySettings\.{field} must be"):
        AnomalySettings(**{field: value})


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="as_of"):
        evaluate({EC2: weekly_noise()}, datetime(2026, 12, 10, 6, 0))
    with pytest.raises(ValueError, match=r"AmazonEC2.*2026-11-30.*finite"):
        evaluate({EC2: weekly_noise() | {date(2026, 11, 30): float("nan")}}, AS_OF)
