"""Judging a replica object from a listing, and the deep pass's rotation (pure)."""

from __future__ import annotations

import pytest

from multiregion.core.integrity import Observed, Recorded, Verdict, deep_share, judge

REC = Recorded("s3://b/k", "a" * 64, 100, '"e1"', "m1", 1000.0)


@pytest.mark.parametrize(
    ("recorded", "observed", "verdict"),
    [
        (REC, Observed(100, '"e1"', "m1"), Verdict.OK),
        (REC, Observed(100, "e1", "m1"), Verdict.OK),  # the same ETag, unquoted (Azure's listing)
        (REC, None, Verdict.MISSING),
        (REC, Observed(99, '"e1"', "m1"), Verdict.CHANGED),  # truncated
        (REC, Observed(100, '"e2"', "m2"), Verdict.CHANGED),  # overwritten: another MD5
        (REC, Observed(100, '"e2"', None), Verdict.UNVERIFIED),  # rewritten, no MD5 to compare: read it
        (REC, Observed(100, '"e2"', "m1"), Verdict.UNVERIFIED),  # same MD5, new ETag (a metadata rewrite)
        (None, Observed(100, '"e1"', "m1"), Verdict.UNVERIFIED),  # never recorded: never trusted by name
        (None, Observed(7, '"e1"', "m1"), Verdict.CHANGED),  # the manifest's size settles it
    ],
)
def test_judge(recorded, observed, verdict):
    assert judge(100, recorded, observed) is verdict


def test_deep_share_reads_the_least_recently_verified_and_covers_all_within_the_period():
    verified = {f"k{i}": float(i) for i in range(10)}
    assert deep_share(verified, 7) == ["k0", "k1"]  # ceil(10 / 7)
    assert deep_share(verified, 0.5) == sorted(verified, key=verified.get)  # more than one pass a run
    assert deep_share({}, 7) == []

    # a week of nightly runs, each re-verifying what it read, reads every object at least once
    seen: set[str] = set()
    for night in range(7):
        share = deep_share(verified, 7)
        seen |= set(share)
        verified.update({k: 100.0 + night for k in share})
    assert seen == set(verified)


def test_deep_share_rejects_a_bad_period():
    with pytest.raises(ValueError, match="period_days"):
        deep_share({"k": 0.0}, 0)
