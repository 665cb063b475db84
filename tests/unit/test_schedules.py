"""Scaling schedules: window matching (DST in two zones, midnight, weekday wrap, absolute ranges),
bad specs, and the scaling decision's precedence and failover headroom, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from multiregion.core.health import HealthState
from multiregion.core.scaling import Deployment, Fleet, ScaleAction, Schedule, decide
from multiregion.core.schedules import ScheduleError, parse_spec


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


BERLIN_SPRING, BERLIN_FALL = "2026-03-29", "2026-10-25"  # Sundays: 02:00 -> 03:00, 03:00 -> 02:00
NY_SPRING, NY_FALL = "2026-03-08", "2026-11-01"  # Sundays: 02:00 -> 03:00, 02:00 -> 01:00

WINDOW_CASES = [
    # --- DST, Europe/Berlin, spring: the hour 02:00-03:00 doesn't exist
    ("Sun 02:30-05:00 Europe/Berlin", f"{BERLIN_SPRING}T00:59", False),  # 01:59 CET
    ("Sun 02:30-05:00 Europe/Berlin", f"{BERLIN_SPRING}T01:00", True),  # 03:00 CEST: starts at the jump
    ("Sun 02:30-05:00 Europe/Berlin", f"{BERLIN_SPRING}T02:59", True),  # 04:59 CEST
    ("Sun 02:30-05:00 Europe/Berlin", f"{BERLIN_SPRING}T03:00", False),  # 05:00 CEST
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_SPRING}T00:00", True),  # 01:00 CET
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_SPRING}T01:59", True),  # 03:59 CEST: 2 real hours
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_SPRING}T02:00", False),  # 04:00 CEST
    # --- DST, Europe/Berlin, autumn: 02:00-03:00 happens twice
    ("Sun 01:00-04:00 Europe/Berlin", "2026-10-24T23:00", True),  # 01:00 CEST
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_FALL}T00:30", True),  # 02:30 CEST, first pass
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_FALL}T01:30", True),  # 02:30 CET, second pass
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_FALL}T02:59", True),  # 03:59 CET: 4 real hours
    ("Sun 01:00-04:00 Europe/Berlin", f"{BERLIN_FALL}T03:00", False),  # 04:00 CET
    ("Sun 02:00-02:30 Europe/Berlin", f"{BERLIN_FALL}T00:15", True),  # 02:15 CEST
    ("Sun 02:00-02:30 Europe/Berlin", f"{BERLIN_FALL}T00:45", False),  # 02:45 CEST
    ("Sun 02:00-02:30 Europe/Berlin", f"{BERLIN_FALL}T01:15", True),  # 02:15 CET: both passes
    # --- DST, America/New_York
    ("Sun 01:30-04:00 America/New_York", f"{NY_SPRING}T06:59", True),  # 01:59 EST
    ("Sun 01:30-04:00 America/New_York", f"{NY_SPRING}T07:00", True),  # 03:00 EDT
    ("Sun 01:30-04:00 America/New_York", f"{NY_SPRING}T08:00", False),  # 04:00 EDT
    ("Sun 01:00-02:00 America/New_York", f"{NY_FALL}T05:30", True),  # 01:30 EDT
    ("Sun 01:00-02:00 America/New_York", f"{NY_FALL}T06:30", True),  # 01:30 EST, the repeat
    ("Sun 01:00-02:00 America/New_York", f"{NY_FALL}T07:00", False),  # 02:00 EST
    # --- weekdays are the zone's, not UTC's
    ("Mon 00:00-01:00 Asia/Kolkata", "2026-12-06T19:00", True),  # Sunday in UTC, Monday 00:30 IST
    ("Mon-Fri 07:30-20:30 Asia/Kolkata", "2026-12-06T23:00", False),  # Monday 04:30 IST
    ("Mon-Fri 07:30-20:30 Asia/Kolkata", "2026-12-07T02:00", True),  # Monday 07:30 IST
    ("Fri 23:00-24:00 America/Los_Angeles", "2026-12-05T07:30", True),  # Saturday UTC, Friday 23:30 PST
    # --- across midnight
    ("Mon-Fri 22:00-06:00 UTC", "2026-11-30T23:00", True),  # Monday night
    ("Mon-Fri 22:00-06:00 UTC", "2026-12-01T05:59", True),  # Tuesday early: Monday's window
    ("Mon-Fri 22:00-06:00 UTC", "2026-12-01T06:00", False),
    ("Mon-Fri 22:00-06:00 UTC", "2026-12-05T03:00", True),  # Saturday early: Friday's window
    ("Mon-Fri 22:00-06:00 UTC", "2026-12-06T03:00", False),  # Sunday early: Saturday has none
    ("Mon-Fri 22:00-06:00 UTC", "2026-11-30T03:00", False),  # Monday early: Sunday has none
    ("Mon-Fri 22:00-06:00 UTC", "2026-11-30T21:59", False),
    # --- weekday ranges that wrap, single days, lists, 24:00
    ("Fri-Mon 00:00-24:00 UTC", "2026-12-04T12:00", True),  # Friday
    ("Fri-Mon 00:00-24:00 UTC", "2026-12-06T12:00", True),  # Sunday
    ("Fri-Mon 00:00-24:00 UTC", "2026-12-07T23:59", True),  # Monday
    ("Fri-Mon 00:00-24:00 UTC", "2026-12-08T00:00", False),  # Tuesday
    ("Sat 10:00-12:00 UTC, Sun 10:00-12:00 UTC", "2026-12-06T11:00", True),
    ("Sat 10:00-12:00 UTC, Sun 10:00-12:00 UTC", "2026-12-07T11:00", False),
    ("Mon-Fri 18:00-24:00 UTC", "2026-11-30T23:59", True),
    ("Mon-Fri 18:00-24:00 UTC", "2026-12-01T00:00", False),
    # --- absolute ranges (end exclusive), any offset
    ("2026-12-24T00:00:00+00:00-2026-12-27T00:00:00+00:00", "2026-12-24T00:00", True),
    ("2026-12-24T00:00:00+00:00-2026-12-27T00:00:00+00:00", "2026-12-26T23:59", True),
    ("2026-12-24T00:00:00+00:00-2026-12-27T00:00:00+00:00", "2026-12-27T00:00", False),
    ("2026-12-24T00:00:00+00:00-2026-12-27T00:00:00+00:00", "2026-12-23T23:59", False),
    ("2026-12-24T00:00+01:00-2026-12-24T12:00+01:00", "2026-12-23T23:30", True),
    ("always", "2026-12-01T12:00", True),
    ("never", "2026-12-01T12:00", False),
]


@pytest.mark.parametrize(("spec", "at", "inside"), WINDOW_CASES)
def test_windows(spec, at, inside):
    assert bool(parse_spec(spec).contains(utc(at))) is inside


def test_a_window_inside_the_skipped_hour_never_occurs_that_day():
    spec = parse_spec("Sun 02:15-02:45 Europe/Berlin")
    start = utc(f"{BERLIN_SPRING}T00:00")
    assert not any(spec.contains(start + timedelta(minutes=m)) for m in range(240))
    assert spec.contains(utc("2026-04-05T00:30"))  # a week later it does (02:30 CEST)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Mon-Fry 07:00-08:00 UTC", "unknown day 'Fry'"),
        ("Mon-Fri 25:00-08:00 UTC", "bad time '25:00'"),
        ("Mon-Fri 07:00-08:00 CET", "'CET' is not an IANA name"),
        ("Mon-Fri 07:00-08:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("always, Mon-Fri 07:00-08:00 UTC", "can't be combined"),
        ("Mon-Fri 07:00-07:00 UTC", "empty window"),
        ("Mon-Fri 07:00-08:00 UTC,", "stray comma"),
        ("2026-12-27T00:00+00:00-2026-12-24T00:00+00:00", "ends before it starts"),
        ("weekdays 9-5", "cannot read 'weekdays 9-5'"),
        ("2026-12-24T00:00-2026-12-27T00:00", "cannot read"),  # no offset: ambiguous
    ],
)
def test_bad_specs_name_where_and_the_token(spec, message):
    with pytest.raises(ScheduleError, match=message) as err:
        parse_spec(spec, where="config/scaling.yaml: us-west-2/model-server: downtime")
    assert str(err.value).startswith("config/scaling.yaml: us-west-2/model-server: downtime: ")


# --- the decision -----------------------------------------------------------------------------
NIGHT = utc("2026-12-01T23:00")  # Tuesday night
DAY = utc("2026-12-01T12:00")
H = HealthState.HEALTHY
WEIGHTS = {"us-west-2": 50, "eu-west-1": 30, "ap-south-1": 20}
NIGHTLY = Schedule(downtime=parse_spec("Mon-Fri 22:00-06:00 UTC"), downtime_replicas=1, min_replicas=1)


def fleet(rates=None, health=None, weights=None, restoring=(), per_replica=10.0) -> Fleet:
    rates = {"us-west-2": 5.0, "eu-west-1": 5.0, "ap-south-1": 5.0} if rates is None else rates
    return Fleet(
        health or dict.fromkeys(WEIGHTS, H),
        weights or WEIGHTS,
        frozenset(restoring),
        rates if rates != "unknown" else None,
        per_replica,
    )


def dep(replicas=4, original=None, region="eu-west-1", created_at=None) -> Deployment:
    return Deployment(region, "model-server", replicas, created_at or utc("2026-01-01T00:00"), original)


DECISION_CASES = [
    # (name, schedule, deployment, fleet, now, action, desired, record)
    ("downtime scales down, records the original", NIGHTLY, dep(4), fleet(), NIGHT, ScaleAction.SCALE_DOWN, 1, 4),
    ("already down: nothing, record kept", NIGHTLY, dep(1, original=4), fleet(), NIGHT, ScaleAction.NONE, 1, 4),
    ("uptime restores the original", NIGHTLY, dep(1, original=4), fleet(), DAY, ScaleAction.RESTORE, 4, None),
    ("uptime keeps what a failover added", NIGHTLY, dep(6, original=4), fleet(), DAY, ScaleAction.RESTORE, 6, None),
    ("uptime, nothing recorded: nothing", NIGHTLY, dep(4), fleet(), DAY, ScaleAction.NONE, 4, None),
    (
        "headroom keeps 3 of 4: own 5 + 60% of us-west-2's 40 req/s = 29 req/s",
        NIGHTLY,
        dep(4),
        fleet({"us-west-2": 40.0, "eu-west-1": 5.0, "ap-south-1": 5.0}),
        NIGHT,
        ScaleAction.SCALE_DOWN,
        3,
        4,
    ),
    (
        "headroom above current (41 req/s needs 5): no downscale",
        NIGHTLY,
        dep(3),
        fleet({"us-west-2": 60.0, "eu-west-1": 5.0, "ap-south-1": 5.0}),
        NIGHT,
        ScaleAction.NONE,
        3,
        None,
    ),
    (
        "rising traffic in downtime: up again, to at most the original",
        NIGHTLY,
        dep(1, original=4),
        fleet({"us-west-2": 60.0, "eu-west-1": 5.0, "ap-south-1": 5.0}),
        NIGHT,
        ScaleAction.SCALE_UP,
        4,
        4,
    ),
    ("rates unknown: headroom unproven", NIGHTLY, dep(4), fleet("unknown"), NIGHT, ScaleAction.NONE, 4, None),
    (
        "a degraded region blocks a downscale elsewhere",
        NIGHTLY,
        dep(4),
        fleet(health={"us-west-2": HealthState.UNHEALTHY, "eu-west-1": H, "ap-south-1": H}),
        NIGHT,
        ScaleAction.NONE,
        4,
        None,
    ),
    (
        "a drained region suspends it",
        NIGHTLY,
        dep(4),
        fleet(weights={"us-west-2": 0, "eu-west-1": 30, "ap-south-1": 20}),
        NIGHT,
        ScaleAction.NONE,
        4,
        None,
    ),
    (
        "during a restoration the failover's replicas stay",
        NIGHTLY,
        dep(6, original=4),
        fleet(restoring={"us-west-2"}),
        NIGHT,
        ScaleAction.NONE,
        6,
        4,
    ),
    (
        "suspension doesn't restore either (the failover sized it)",
        NIGHTLY,
        dep(1, original=4),
        fleet(restoring={"us-west-2"}),
        NIGHT,
        ScaleAction.NONE,
        1,
        4,
    ),
    (
        "excluded: restored and left alone",
        Schedule(downtime=NIGHTLY.downtime, exclude=True),
        dep(1, original=4),
        fleet(),
        NIGHT,
        ScaleAction.RESTORE,
        4,
        None,
    ),
    (
        "excluded until a later date",
        Schedule(downtime=NIGHTLY.downtime, exclude_until=utc("2026-12-10T00:00")),
        dep(4),
        fleet(),
        NIGHT,
        ScaleAction.NONE,
        4,
        None,
    ),
    (
        "an exclusion that ended",
        Schedule(downtime=NIGHTLY.downtime, exclude_until=utc("2026-11-01T00:00")),
        dep(4),
        fleet(),
        NIGHT,
        ScaleAction.SCALE_DOWN,
        1,
        4,
    ),
    (
        "grace period of a new deployment",
        NIGHTLY,
        dep(4, created_at=NIGHT - timedelta(minutes=5)),
        fleet(),
        NIGHT,
        ScaleAction.NONE,
        4,
        None,
    ),
    (
        "uptime only: outside it is downtime",
        Schedule(uptime=parse_spec("Mon-Fri 08:00-20:00 UTC")),
        dep(4),
        fleet(),
        NIGHT,
        ScaleAction.SCALE_DOWN,
        1,  # headroom: 5 + 60% of 5 req/s = 8 req/s -> 1 replica
        4,
    ),
    (
        "downtime wins over uptime on overlap",
        Schedule(uptime=parse_spec("always"), downtime=parse_spec("Tue 22:00-23:30 UTC"), downtime_replicas=2),
        dep(4),
        fleet(),
        NIGHT,
        ScaleAction.SCALE_DOWN,
        2,
        4,
    ),
    (
        "min_replicas over downtime_replicas",
        Schedule(downtime=NIGHTLY.downtime, downtime_replicas=0, min_replicas=3),
        dep(4),
        fleet(),
        NIGHT,
        ScaleAction.SCALE_DOWN,
        3,
        4,
    ),
    (
        "not a serving deployment: no headroom",
        Schedule(downtime=NIGHTLY.downtime, serving=False),
        dep(4),
        fleet({"us-west-2": 600.0, "eu-west-1": 5.0, "ap-south-1": 5.0}),
        NIGHT,
        ScaleAction.SCALE_DOWN,
        0,
        4,
    ),
]


@pytest.mark.parametrize(
    ("schedule", "deployment", "fleet_", "now", "action", "desired", "record"),
    [c[1:] for c in DECISION_CASES],
    ids=[c[0] for c in DECISION_CASES],
)
def test_decisions(schedule, deployment, fleet_, now, action, desired, record):
    decision = decide(schedule, deployment, fleet_, now)
    assert (decision.action, decision.desired, decision.record) == (action, desired, record), decision.reason


def test_preview_walks_the_week_carrying_the_record_like_the_dag():
    from multiregion.core.scaling import preview

    schedule = Schedule(uptime=parse_spec("Mon-Fri 08:00-20:00 UTC"), downtime_replicas=1, min_replicas=1)
    points = preview(schedule, dep(4), fleet(), utc("2026-11-30T00:00"), days=7)  # Monday
    changes = [(at.strftime("%a %H:%M"), n) for at, n, _ in points]
    assert changes[:3] == [("Mon 00:00", 1), ("Mon 08:00", 4), ("Mon 20:00", 1)]
    assert changes[-2:] == [("Fri 08:00", 4), ("Fri 20:00", 1)]  # and down over the weekend
    assert len(changes) == 11
