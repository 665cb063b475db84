"""Scaling schedules (pure): when may a deployment run at fewer replicas?

Spec syntax, kube-downscaler's, plus windows that cross midnight:

    always | never
    <days> <HH:MM>-<HH:MM> <IANA zone>        Mon-Fri 07:30-20:30 Europe/Berlin
    <ISO start>-<ISO end>                      2026-12-24T00:00:00+00:00-2026-12-27T00:00:00+00:00

``<days>`` is a day (``Sat``) or a range (``Mon-Fri``; ``Fri-Mon`` wraps over the weekend). Several
specs are joined with commas; an instant matches if any of them does. A window whose end is not
after its start crosses midnight (``Mon-Fri 22:00-06:00``: from 22:00 on each of those days to
06:00 the next morning); ``24:00`` ends a window at midnight.

Time zones: an instant is in a window when its **local wall-clock time** in the window's zone is
(weekdays taken in that zone, never in UTC). On a DST change that is what people mean: a window
inside the hour that is skipped in spring does not occur that day; a window running through the
hour repeated in autumn holds for both passes of it (it lasts one real hour longer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from multiregion.core.errors import BadInputError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_RECURRING = re.compile(
    r"^(?P<d1>[A-Za-z]{3})(?:-(?P<d2>[A-Za-z]{3}))?\s+(?P<t1>\d{2}:\d{2})-(?P<t2>\d{2}:\d{2})\s+(?P<tz>\S+)$"
)
_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})"
_ABSOLUTE = re.compile(rf"^(?P<start>{_ISO})-(?P<end>{_ISO})$")


class ScheduleError(BadInputError):
    """A spec that can't be used; the message names where it came from and the bad token. The
    scaling run fails at once, before anything is scaled."""


@dataclass(frozen=True)
class Recurring:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time | None  # None: 24:00 (midnight at the end of the day)
    zone: ZoneInfo
    text: str

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        wall = local.time().replace(tzinfo=None, fold=0)
        day = local.weekday()
        if self.end is not None and self.end <= self.start:  # crosses midnight
            return (day in self.days and wall >= self.start) or ((day - 1) % 7 in self.days and wall < self.end)
        return day in self.days and wall >= self.start and (self.end is None or wall < self.end)


@dataclass(frozen=True)
class Absolute:
    start: datetime
    end: datetime
    text: str

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end


Window = Recurring | Absolute


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``always``, ``never`` or a list of windows."""

    windows: tuple[Window, ...] = ()
    always: bool = False
    text: str = "never"

    def contains(self, now: datetime) -> Window | bool | None:
        """The window ``now`` is in (True for ``always``), or None."""
        if self.always:
            return True
        return next((w for w in self.windows if w.contains(now)), None)

    @property
    def never(self) -> bool:
        return not self.always and not self.windows


ALWAYS, NEVER = Spec(always=True, text="always"), Spec()


def _time(token: str, where: str, end: bool = False) -> time | None:
    hour, minute = (int(x) for x in token.split(":"))
    if end and (hour, minute) == (24, 0):
        return None
    if hour > 23 or minute > 59:
        raise ScheduleError(f"{where}: bad time {token!r} (00:00-23:59{', or 24:00 as an end' if end else ''})")
    return time(hour, minute)


def _day(token: str, where: str) -> int:
    name = token.capitalize()
    if name not in DAYS:
        raise ScheduleError(f"{where}: unknown day {token!r} (one of {', '.join(DAYS)})")
    return DAYS.index(name)


def _zone(token: str, where: str) -> ZoneInfo:
    # Abbreviations (CET, PST) are ambiguous and ignore DST: only IANA names (and UTC) are taken.
    if "/" not in token and token != "UTC":
        raise ScheduleError(f"{where}: time zone {token!r} is not an IANA name (e.g. Europe/Berlin, UTC)")
    try:
        return ZoneInfo(token)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{where}: unknown time zone {token!r}") from None


def _window(token: str, where: str) -> Window:
    if m := _RECURRING.match(token):
        first = _day(m["d1"], where)
        last = _day(m["d2"], where) if m["d2"] else first
        days = frozenset((first + i) % 7 for i in range((last - first) % 7 + 1))
        start, end = _time(m["t1"], where), _time(m["t2"], where, end=True)
        if start == end:
            raise ScheduleError(f"{where}: empty window {token!r} (start equals end)")
        return Recurring(days, start, end, _zone(m["tz"], where), token)
    if m := _ABSOLUTE.match(token):
        start, end = (datetime.fromisoformat(m[k].replace("Z", "+00:00")) for k in ("start", "end"))
        if end <= start:
            raise ScheduleError(f"{where}: absolute window {token!r} ends before it starts")
        return Absolute(start, end, token)
    raise ScheduleError(
        f"{where}: cannot read {token!r} (expected always, never, 'Mon-Fri 07:30-20:30 Europe/Berlin' "
        "or 'START-END' in ISO 8601 with an offset)"
    )


def parse_spec(text: str, where: str = "spec") -> Spec:
    """Parse a spec; ``where`` (file, deployment, field) prefixes every error."""
    stripped = " ".join(str(text).split())
    if stripped.lower() == "always":
        return ALWAYS
    if stripped.lower() in ("never", ""):
        return NEVER
    tokens = [t.strip() for t in stripped.split(",")]
    if any(t.lower() in ("always", "never") for t in tokens):
        raise ScheduleError(f"{where}: always/never can't be combined with windows in {text!r}")
    if not all(tokens):
        raise ScheduleError(f"{where}: empty window in {text!r} (a stray comma?)")
    return Spec(tuple(_window(t, where) for t in tokens), text=stripped)


def parse_duration(text: str | int, where: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d`` or a number of seconds."""
    if isinstance(text, int) and text >= 0:
        return timedelta(seconds=text)
    m = re.fullmatch(r"(\d+)\s*([smhd]?)", str(text).strip())
    if not m:
        raise ScheduleError(f"{where}: bad duration {text!r} (e.g. 90s, 15m, 2h, 1d)")
    return timedelta(seconds=int(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]])


def parse_until(text: str, where: str) -> datetime:
    """An ``exclude-until`` date or datetime (a date means midnight UTC at its start)."""
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleError(
            f"{where}: bad date {text!r} (ISO 8601, e.g. 2026-12-31 or 2026-12-31T18:00+01:00)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
