"""Scale-down recommendations from serving request rates (pure).

Input: a region's request rate samples (UTC instants, requests/s) over recent weeks. Each hour of
the week gets the mean of its samples; an hour is *low* when that mean is under ``low_fraction`` of
the busiest hour's. Runs of low hours on the same weekday, at least ``min_hours`` long, become
windows, merged across weekdays that share the same hours, and are written in the scaling
schedules' spec syntax (``Mon-Fri 01:00-06:00 UTC``) so a user can paste them into
``config/scaling.yaml`` as a downtime. An hour with no sample is unknown, never low.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Window:
    days: tuple[int, ...]  # weekdays, Monday = 0, consecutive
    start_hour: int
    end_hour: int  # exclusive; 24 = midnight

    @property
    def spec(self) -> str:
        days = DAYS[self.days[0]] if len(self.days) == 1 else f"{DAYS[self.days[0]]}-{DAYS[self.days[-1]]}"
        return f"{days} {self.start_hour:02d}:00-{self.end_hour:02d}:00 UTC"

    @property
    def hours_per_week(self) -> int:
        return len(self.days) * (self.end_hour - self.start_hour)


def hour_of_week_means(samples: Iterable[tuple[datetime, float]]) -> dict[int, float]:
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for at, rate in samples:
        how = at.weekday() * 24 + at.hour
        sums[how] = sums.get(how, 0.0) + rate
        counts[how] = counts.get(how, 0) + 1
    return {h: sums[h] / counts[h] for h in sums}


def low_windows(means: dict[int, float], low_fraction: float, min_hours: int) -> list[Window]:
    """Windows of low traffic, same hours on consecutive weekdays merged (``Mon-Fri 01:00-05:00``)."""
    if not means:
        return []
    peak = max(means.values())
    if peak <= 0:
        return []
    low = {h for h, v in means.items() if v < low_fraction * peak}
    runs: list[tuple[int, int, int]] = []  # (day, start, end) within one day, so windows never cross midnight
    for day in range(7):
        start = None
        for hour in range(25):
            is_low = hour < 24 and day * 24 + hour in low
            if is_low and start is None:
                start = hour
            elif not is_low and start is not None:
                if hour - start >= min_hours:
                    runs.append((day, start, hour))
                start = None
    merged: list[Window] = []
    for day, start, end in runs:
        last = merged[-1] if merged else None
        if last and (last.start_hour, last.end_hour) == (start, end) and last.days[-1] == day - 1:
            merged[-1] = Window((*last.days, day), start, end)
        else:
            merged.append(Window((day,), start, end))
    return merged


def monthly_saving(windows: list[Window], replicas_saved: int, replica_hour_cost: float) -> float:
    """What scaling ``replicas_saved`` replicas down in ``windows`` saves a month (4.35 weeks)."""
    return round(sum(w.hours_per_week for w in windows) * replicas_saved * replica_hour_cost * 4.35, 2)
