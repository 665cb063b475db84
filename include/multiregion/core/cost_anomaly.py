"""Daily cost anomaly detection (pure): robust, explainable, one verdict per series and day.

A series is one key of the caller's (e.g. ``(cloud, region, service)``) with a cost per day.
Each day is judged against its own weekday, so weekly seasonality (quiet weekends) is no anomaly:

    history   the same weekday in each of the last ``baseline_weeks`` weeks before the day
    expected  median(history)                                  (the baseline)
    scale     max(1.4826 * MAD(history), relative_floor * |expected|, min_scale)
    score     |actual - expected| / scale
    anomaly   score >= k  and  |actual - expected| >= impact_floor

MAD is the median absolute deviation from the median; times 1.4826 it estimates the standard
deviation of normal noise, but one outlier in the history (last week's spike) barely moves it, so
the score reads as "robust standard deviations away". The impact floor, an absolute amount in the
billing currency, keeps large relative jumps of tiny series (a $2/day bucket at $20) quiet:
detection and "worth a look" are separate, as in AWS Cost Anomaly Detection.

Flat histories: a perfectly flat history has MAD 0, and every wobble would be infinitely far.
The scale never drops below ``relative_floor`` of the baseline (5 %: with k = 3.5 a day within
17.5 % of its baseline is never flagged, because rounding, tiered prices and currency conversion
wobble more than a flat history shows), nor below ``min_scale`` (one cent), which only matters
when the baseline is 0: then the impact floor alone decides.

Missing days: a series exists from its first day with data. A day missing after that counts as
cost 0 (a service that stops entirely is a dip worth flagging; exports omit zero-cost days); days
before it are no history at all (a new service is not a spike against a past of zeros).

Which days are judged (``as_of`` is the run's date, its own day still in progress and ignored):
- the ``settle_days`` days before ``as_of`` are *settling* (billing data still arriving): reported,
  not judged, with the date from which they will be;
- the ``window_days`` days before those are judged, again on every run: exports restate earlier
  days (AWS up to ~2 weeks), so a corrected day gets a fresh verdict; days older than the window
  are not judged again (the caller keeps the verdicts it had);
- a day with fewer than ``min_history`` same-weekday points is not judged (not enough history).

Level shifts: a sustained step (a service that doubles, or stops) is flagged every day for the
first ceil(baseline_weeks / 2) weeks (21 days at the defaults) and then never again: once half
the same-weekday history is at the new level the median moves to it (with exactly half, for an
even baseline_weeks, it sits midway and MAD is half the step: score 0.67). A steady ramp is
never flagged (the median lags it by about 3.5 weeks of growth, but the spread of the ramp's own
history is 1.5 weeks of it: score ~1.6); trends are for budgets, not for this detector.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from multiregion.core.errors import BadInputError

MAD_TO_SIGMA = 1.4826  # MAD * this = the standard deviation, for normally distributed noise
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class AnomalySettings:
    """How days are judged; every field is validated on construction (ValueError naming it)."""

    baseline_weeks: int = 6  # same-weekday points taken, from the weeks just before the day
    min_history: int = 3  # fewer same-weekday points on record: the day is not judged
    k: float = 3.5  # score threshold (robust standard deviations)
    impact_floor: float = 50.0  # |actual - expected| must reach this too (billing currency)
    relative_floor: float = 0.05  # the scale is at least this fraction of |expected|
    min_scale: float = 0.01  # and at least this amount (only matters for a baseline of 0)
    settle_days: int = 2  # the days just before as_of: data still settling, not judged yet
    window_days: int = 14  # settled days judged (again) on every run: the restatement window

    def __post_init__(self) -> None:
        for name in ("baseline_weeks", "min_history", "settle_days", "window_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadInputError(f"AnomalySettings.{name} must be an integer, got {value!r}")
        for name in ("k", "impact_floor", "relative_floor", "min_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise BadInputError(f"AnomalySettings.{name} must be a finite number, got {value!r}")
        checks = [
            ("baseline_weeks", self.baseline_weeks >= 1, ">= 1"),
            ("min_history", self.min_history >= 1, ">= 1"),
            ("min_history", self.min_history <= self.baseline_weeks, f"<= baseline_weeks ({self.baseline_weeks})"),
            ("k", self.k > 0, "> 0"),
            ("impact_floor", self.impact_floor >= 0, ">= 0"),
            ("relative_floor", self.relative_floor >= 0, ">= 0"),
            ("min_scale", self.min_scale > 0, "> 0 (it is what keeps a flat zero history from dividing by 0)"),
            ("settle_days", self.settle_days >= 0, ">= 0"),
            ("window_days", self.window_days >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise BadInputError(f"AnomalySettings.{name} must be {rule}, got {getattr(self, name)!r}")


DEFAULTS = AnomalySettings()


class Status(StrEnum):
    ANOMALY = "anomaly"  # score >= k and impact >= the floor
    UNDER_IMPACT_FLOOR = "under_impact_floor"  # score >= k, but the amount is too small to matter
    NORMAL = "normal"  # judged, not anomalous
    INSUFFICIENT_HISTORY = "insufficient_history"  # fewer than min_history same-weekday points
    SETTLING = "settling"  # inside settle_days: not judged yet


class Direction(StrEnum):
    SPIKE = "spike"
    DIP = "dip"


def _label(key: Hashable) -> str:
    return "/".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


@dataclass(frozen=True)
class Anomaly:
    key: Hashable
    day: date
    actual: float
    expected: float  # the baseline: median of the same weekday over the history
    score: float
    impact: float  # actual - expected, signed
    direction: Direction
    history: int  # same-weekday points the baseline was taken from

    def describe(self) -> str:
        weekday = WEEKDAYS[self.day.weekday()]
        relative = f" ({self.impact / abs(self.expected):+.0%})" if self.expected else ""
        return (
            f"{_label(self.key)} on {weekday} {self.day.isoformat()}: {self.direction}, "
            f"{self.actual:.2f} against {self.expected:.2f} expected (median of the {self.history} previous "
            f"{weekday}s), {self.impact:+.2f}{relative}, {self.score:.1f} robust deviations out"
        )


@dataclass(frozen=True)
class Evaluation:
    """One key on one day: the verdict and what it was based on (None where not judged)."""

    key: Hashable
    day: date
    status: Status
    actual: float  # as known now (for a settling day, it may still change)
    expected: float | None
    scale: float | None
    score: float | None
    history: int  # same-weekday points on record, at most baseline_weeks
    reason: str

    @property
    def impact(self) -> float | None:
        return None if self.expected is None else self.actual - self.expected

    @property
    def anomaly(self) -> Anomaly | None:
        if self.status != Status.ANOMALY:
            return None
        assert self.expected is not None and self.score is not None  # set on every judged day
        impact = self.actual - self.expected
        direction = Direction.SPIKE if impact > 0 else Direction.DIP
        return Anomaly(self.key, self.day, self.actual, self.expected, self.score, impact, direction, self.history)

    def describe(self) -> str:
        if anomaly := self.anomaly:
            return anomaly.describe()
        return f"{_label(self.key)} on {WEEKDAYS[self.day.weekday()]} {self.day.isoformat()}: {self.reason}"


def _check_day(value: object, where: str) -> date:
    # A datetime is a date too, but mixing them breaks the day arithmetic: days only.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise BadInputError(f"{where}: expected a date (a day, not a datetime), got {value!r}")
    return value


def _known(key: Hashable, days: Mapping[date, float], as_of: date) -> dict[date, float]:
    """The series' days before ``as_of`` (later ones are incomplete or not yet), validated."""
    out = {}
    for day, cost in days.items():
        _check_day(day, f"series {_label(key)!r}")
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
            raise BadInputError(f"series {_label(key)!r} on {day}: cost must be a finite number, got {cost!r}")
        if day < as_of:
            out[day] = float(cost)
    return out


def _judge(key: Hashable, day: date, actual: float, history: list[float], s: AnomalySettings) -> Evaluation:
    weekday = WEEKDAYS[day.weekday()]
    if len(history) < s.min_history:
        reason = (
            f"not judged: {len(history)} of the last {s.baseline_weeks} {weekday}s on record, {s.min_history} needed"
        )
        return Evaluation(key, day, Status.INSUFFICIENT_HISTORY, actual, None, None, None, len(history), reason)
    expected = statistics.median(history)
    mad = statistics.median(abs(x - expected) for x in history)
    scale = max(MAD_TO_SIGMA * mad, s.relative_floor * abs(expected), s.min_scale)
    impact = actual - expected
    score = abs(impact) / scale
    if score < s.k:
        status, reason = Status.NORMAL, f"normal: {actual:.2f} against {expected:.2f} expected, score {score:.1f}"
    elif abs(impact) < s.impact_floor:
        status = Status.UNDER_IMPACT_FLOOR
        reason = (
            f"unusual but small: {actual:.2f} against {expected:.2f} expected, score {score:.1f}, "
            f"but {impact:+.2f} is under the impact floor of {s.impact_floor:g}"
        )
    else:
        status, reason = Status.ANOMALY, f"anomaly: score {score:.1f}, impact {impact:+.2f}"
    return Evaluation(key, day, status, actual, expected, scale, score, len(history), reason)


def evaluate(
    series: Mapping[Hashable, Mapping[date, float]], as_of: date, settings: AnomalySettings = DEFAULTS
) -> list[Evaluation]:
    """Every key on every day of the restatement window and the settling days (from the day the
    series starts), ordered by key, then day. Keys must be mutually orderable (tuples of str)."""
    _check_day(as_of, "as_of")
    s = settings
    first_settling = as_of - timedelta(days=s.settle_days)
    first_judged = first_settling - timedelta(days=s.window_days)
    out = []
    for key in sorted(series):
        known = _known(key, series[key], as_of)
        if not known:
            continue
        start = min(known)
        day = max(start, first_judged)
        while day < as_of:
            actual = known.get(day, 0.0)  # after its start a missing day cost nothing
            back = (day - timedelta(weeks=w) for w in range(1, s.baseline_weeks + 1))
            history = [known.get(d, 0.0) for d in back if d >= start]
            if day >= first_settling:
                ready = day + timedelta(days=s.settle_days + 1)
                reason = f"not judged yet: billing data still settling (judged from as_of {ready.isoformat()})"
                out.append(Evaluation(key, day, Status.SETTLING, actual, None, None, None, len(history), reason))
            else:
                out.append(_judge(key, day, actual, history, s))
            day += timedelta(days=1)
    return out


def detect(
    series: Mapping[Hashable, Mapping[date, float]], as_of: date, settings: AnomalySettings = DEFAULTS
) -> list[Anomaly]:
    """The anomalies among ``evaluate``'s verdicts, in the same order (key, then day)."""
    return [a for e in evaluate(series, as_of, settings) if (a := e.anomaly) is not None]
