"""Scale-down windows from request rates per hour of week (core.scaledown)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from multiregion.core.scaledown import Window, hour_of_week_means, low_windows, monthly_saving

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


def _weeks(rate_at, weeks: int = 2):
    return [(MONDAY + timedelta(hours=h), rate_at(h % 168)) for h in range(weeks * 168)]


def test_quiet_nights_on_weekdays_become_one_pasteable_window():
    def rate(how: int) -> float:
        day, hour = divmod(how, 24)
        if day >= 5:
            return 50.0  # busy weekends
        return 2.0 if 1 <= hour < 6 else 40.0

    windows = low_windows(hour_of_week_means(_weeks(rate)), 0.25, 3)
    assert [w.spec for w in windows] == ["Mon-Fri 01:00-06:00 UTC"]
    assert windows[0].hours_per_week == 25
    assert monthly_saving(windows, 2, 0.10) == round(25 * 2 * 0.10 * 4.35, 2)


def test_short_dips_unknown_hours_and_flat_or_idle_traffic_give_nothing():
    assert low_windows(hour_of_week_means(_weeks(lambda h: 1.0 if h % 24 in (3, 4) else 30.0)), 0.25, 3) == []
    assert low_windows(hour_of_week_means(_weeks(lambda h: 10.0)), 0.25, 3) == []
    assert low_windows(hour_of_week_means(_weeks(lambda h: 0.0)), 0.25, 3) == []
    assert low_windows({}, 0.25, 3) == []
    partial = {h: (1.0 if h % 24 < 8 else 30.0) for h in range(0, 168) if h // 24 != 2}  # no samples on Wednesday
    assert [w.spec for w in low_windows(partial, 0.25, 3)] == ["Mon-Tue 00:00-08:00 UTC", "Thu-Sun 00:00-08:00 UTC"]


def test_a_window_to_midnight_ends_at_24_00_and_a_single_day_has_no_range():
    assert Window((6,), 20, 24).spec == "Sun 20:00-24:00 UTC"


def test_a_recommended_window_is_a_valid_scaling_spec_covering_exactly_its_hours():
    from multiregion.core.schedules import parse_spec

    window = Window((0, 1, 2, 3, 4), 1, 6)
    spec = parse_spec(window.spec, "recommendation")
    inside, outside = datetime(2026, 11, 6, 1, 30, tzinfo=UTC), datetime(2026, 11, 6, 6, 0, tzinfo=UTC)  # a Friday
    assert spec.contains(inside) and not spec.contains(outside)
    assert not spec.contains(datetime(2026, 11, 7, 2, 0, tzinfo=UTC))  # Saturday
