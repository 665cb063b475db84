"""Manifests, version ids, copy planning, batching and garbage-collection choices (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from multiregion.core.manifest import (
    ALL_PARTITION,
    Manifest,
    ManifestEntry,
    ManifestError,
    build_manifest,
    plan_copy,
    version_id,
    versions_to_collect,
)


def _e(path: str, fill: str, size: int = 10) -> ManifestEntry:
    return ManifestEntry(path, size, fill * 64, rows=5)


def _m(*entries: ManifestEntry, partition: str = ALL_PARTITION) -> Manifest:
    return build_manifest("ds", partition, "us-west-2", list(entries), "a: int64", [("a", "int64")])


def test_version_depends_on_content_not_order():
    a, b = _e("a.parquet", "1"), _e("b.parquet", "2")
    assert version_id([a, b]) == version_id([b, a])
    assert version_id([a, b]) != version_id([a, _e("b.parquet", "3")])
    assert version_id([a]) != version_id([_e("renamed.parquet", "1")])


def test_manifest_json_round_trip_and_tamper_detection():
    m = _m(_e("a.parquet", "1"), _e("b.parquet", "2"))
    assert Manifest.from_json(m.to_json()) == m
    assert m.rows == 10 and m.total_bytes == 20
    tampered = m.to_json().replace("1" * 64, "f" * 64)
    with pytest.raises(ManifestError, match="does not match its entries"):
        Manifest.from_json(tampered, where="s3://b/k")
    with pytest.raises(ManifestError, match="s3://b/k: not a valid manifest"):
        Manifest.from_json("{}", where="s3://b/k")


@pytest.mark.parametrize(
    ("path", "sha", "size", "message"),
    [("../x", "a" * 64, 1, "bad relative path"), ("x", "zz", 1, "not a sha256"), ("x", "a" * 64, -1, "negative")],
)
def test_bad_entries(path, sha, size, message):
    with pytest.raises(ManifestError, match=message):
        ManifestEntry(path, size, sha)


def test_bad_partition_and_empty_manifest():
    with pytest.raises(ManifestError, match="bad partition"):
        _m(_e("a.parquet", "1"), partition="2026-1-1")
    with pytest.raises(ManifestError, match="no objects"):
        _m()


def test_plan_copies_only_missing_unique_digests():
    m = _m(_e("a.parquet", "1"), _e("b.parquet", "2"), _e("c.parquet", "2"))  # b and c share bytes
    plan = plan_copy(m, "eu-west-1", None, set())
    assert [e.sha256[0] for e in plan.to_copy] == ["1", "2"] and plan.bytes_to_copy == 20
    resumed = plan_copy(m, "eu-west-1", "older", {"1" * 64})
    assert [e.sha256[0] for e in resumed.to_copy] == ["2"] and resumed.already_present == 1
    done = plan_copy(m, "eu-west-1", m.version, {"1" * 64, "2" * 64})
    assert done.up_to_date and not done.to_copy
    damaged = plan_copy(m, "eu-west-1", m.version, {"1" * 64})  # published, but one object failed its check
    assert not damaged.up_to_date and [e.sha256[0] for e in damaged.to_copy] == ["2"]


def test_gc_keeps_recent_and_newest_versions():
    now = datetime(2026, 11, 26, tzinfo=UTC)
    history = [(f"v{i}", now - timedelta(hours=30 * i)) for i in range(5)]  # newest first
    assert versions_to_collect(history, keep_last=2, now=now, min_age_hours=24) == ["v2", "v3", "v4"]
    assert versions_to_collect(history, keep_last=2, now=now, min_age_hours=100) == ["v4"]
    assert versions_to_collect(history[:1], keep_last=1, now=now, min_age_hours=0) == []
