"""Integrity at rest: judge a stored replica object against what was recorded when it was written.

A copy records the object's size and the checksums the store reported (ETag, and the whole-object
MD5 where the store has one) once the object was verified by sha256. Later, a listing is enough
to catch most damage: a different size or MD5 is certainly bad; a different ETag means it was
rewritten, so it is read again. What a listing cannot see (bits rotting under an unchanged ETag)
the deep pass finds by reading a rotating share of the objects each night. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_DEEP_PERIOD_DAYS = 7


class Verdict(StrEnum):
    OK = "ok"  # matches its record
    MISSING = "missing"  # not in the store
    CHANGED = "changed"  # size or MD5 differs from the record: certainly not the verified bytes
    UNVERIFIED = "unverified"  # no record, or rewritten (new ETag): read it to know


@dataclass(frozen=True)
class Recorded:
    """An object as written and verified (one row of the state store's replica_objects)."""

    url: str
    sha256: str
    size: int
    etag: str | None
    md5: str | None
    verified_at: float  # epoch seconds of the last sha256 check
    owner: str = ""  # the dataset, or "<model>/v<version>"


@dataclass(frozen=True)
class Observed:
    """What the store reports for the object now (a listing or HEAD)."""

    size: int
    etag: str | None
    md5: str | None


def judge(expected_size: int, recorded: Recorded | None, observed: Observed | None) -> Verdict:
    if observed is None:
        return Verdict.MISSING
    if observed.size != expected_size:
        return Verdict.CHANGED
    if recorded is None:
        return Verdict.UNVERIFIED
    if recorded.md5 and observed.md5 and recorded.md5 != observed.md5:
        return Verdict.CHANGED
    if _etag(recorded.etag) != _etag(observed.etag):
        return Verdict.UNVERIFIED
    return Verdict.OK


def deep_share(verified_at: dict[str, float], period_days: float, runs_per_day: float = 1.0) -> list[str]:
    """The objects the deep pass reads this run: the least recently verified first, enough of them
    that every object is read within ``period_days`` at ``runs_per_day`` runs."""
    if period_days <= 0 or runs_per_day <= 0:
        raise ValueError(f"period_days and runs_per_day must be > 0 (got {period_days}, {runs_per_day})")
    if not verified_at:
        return []
    count = math.ceil(len(verified_at) / (period_days * runs_per_day))
    return sorted(verified_at, key=lambda url: (verified_at[url], url))[:count]


def _etag(value: str | None) -> str | None:
    """Stores quote ETags in some answers and not in others (Azure: upload vs listing)."""
    return value.strip('"') or None if value else None
