"""Dataset manifests and replication planning (pure: no I/O).

A *manifest* describes one version of a dataset partition: every object with its size and
sha256 (computed while streaming; store ETags are not comparable across clouds), the Arrow
schema, the row count, the version id and when the source published it. The version id is a
digest of the (path, sha256) pairs, so the same content always has the same version.

Replicas are content-addressed: an object is stored once per region under its sha256, so
"copy only what differs" is a set difference of digests, a resumed copy skips every object
already verified, and versions that share files share storage. A replica becomes visible only
when its manifest pointer is written, last.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

MANIFEST_FORMAT = 1
ALL_PARTITION = "_all"  # the single partition of a dataset that is not partitioned
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PARTITION = re.compile(r"^(_all|\d{4}-\d{2}-\d{2})$")


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the dataset partition's source prefix
    size: int
    sha256: str
    rows: int | None = None
    # The source listing's identity of the object (ETag + size), used to skip re-hashing
    # objects that have not changed since the last scan. Never compared across stores.
    source_etag: str | None = None

    def __post_init__(self) -> None:
        if not _SHA256.match(self.sha256):
            raise ManifestError(f"{self.path}: not a sha256 hex digest: {self.sha256!r}")
        if self.size < 0:
            raise ManifestError(f"{self.path}: negative size {self.size}")
        if not self.path or self.path.startswith("/") or ".." in self.path.split("/"):
            raise ManifestError(f"bad relative path {self.path!r}")


def version_id(entries: list[ManifestEntry]) -> str:
    """Content version: the same files with the same bytes always give the same id."""
    h = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path):
        h.update(f"{entry.path}\0{entry.sha256}\n".encode())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class Manifest:
    dataset: str
    partition: str
    version: str
    created_at: str  # ISO-8601 UTC: when the source version was published
    source_region: str
    entries: tuple[ManifestEntry, ...]
    schema: str  # Arrow schema, as text (pyarrow's Schema.to_string)
    schema_fields: tuple[tuple[str, str], ...] = ()  # (column, type) in order
    rows: int = 0
    format: int = MANIFEST_FORMAT
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def digests(self) -> set[str]:
        return {e.sha256 for e in self.entries}

    def to_json(self) -> str:
        data = asdict(self)
        data["entries"] = [asdict(e) for e in self.entries]
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "manifest") -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != MANIFEST_FORMAT:
                raise ManifestError(f"{where}: unsupported manifest format {data.get('format')!r}")
            entries = tuple(ManifestEntry(**e) for e in data.pop("entries"))
            data["schema_fields"] = tuple(tuple(f) for f in data.get("schema_fields", ()))
            manifest = cls(entries=entries, **data)
        except (ValueError, TypeError, KeyError) as exc:
            raise ManifestError(f"{where}: not a valid manifest: {exc}") from exc
        if version_id(list(manifest.entries)) != manifest.version:
            raise ManifestError(f"{where}: version {manifest.version} does not match its entries")
        return manifest


def build_manifest(
    dataset: str,
    partition: str,
    source_region: str,
    entries: list[ManifestEntry],
    schema: str,
    schema_fields: list[tuple[str, str]],
    created_at: datetime | None = None,
) -> Manifest:
    if not _PARTITION.match(partition):
        raise ManifestError(f"bad partition {partition!r}: expected YYYY-MM-DD or {ALL_PARTITION}")
    if not entries:
        raise ManifestError(f"dataset {dataset!r} partition {partition}: no objects to publish")
    paths = [e.path for e in entries]
    if len(set(paths)) != len(paths):
        raise ManifestError(f"dataset {dataset!r}: duplicate paths in manifest")
    return Manifest(
        dataset=dataset,
        partition=partition,
        version=version_id(entries),
        created_at=(created_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        source_region=source_region,
        entries=tuple(sorted(entries, key=lambda e: e.path)),
        schema=schema,
        schema_fields=tuple(schema_fields),
        rows=sum(e.rows or 0 for e in entries),
    )


@dataclass(frozen=True)
class CopyPlan:
    """What one destination region needs for a manifest version."""

    region: str
    version: str
    up_to_date: bool  # published at this version with every object sound: nothing to do
    to_copy: tuple[ManifestEntry, ...]  # unique digests missing at the destination
    already_present: int  # objects verified at the destination by an earlier (maybe killed) run

    @property
    def bytes_to_copy(self) -> int:
        return sum(e.size for e in self.to_copy)


def plan_copy(manifest: Manifest, region: str, published_version: str | None, present_digests: set[str]) -> CopyPlan:
    """Diff the source manifest against what the destination has published and holds (the
    digests whose objects are verified there): a published version with a damaged object is not
    up to date."""
    unique: dict[str, ManifestEntry] = {}
    for entry in manifest.entries:
        unique.setdefault(entry.sha256, entry)
    missing = tuple(e for d, e in sorted(unique.items()) if d not in present_digests)
    up_to_date = published_version == manifest.version and not missing  # published and every object sound
    return CopyPlan(region, manifest.version, up_to_date, missing, len(unique) - len(missing))


def batch_entries(entries: list[ManifestEntry], max_bytes: int, max_count: int) -> list[list[ManifestEntry]]:
    """Group copies into batches (mapped tasks) of bounded size; large objects go alone."""
    batches: list[list[ManifestEntry]] = []
    current: list[ManifestEntry] = []
    size = 0
    for entry in sorted(entries, key=lambda e: -e.size):
        if current and (size + entry.size > max_bytes or len(current) >= max_count):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        batches.append(current)
    return batches


def versions_to_collect(
    history: list[tuple[str, datetime]], keep_last: int, now: datetime, min_age_hours: float
) -> list[str]:
    """Superseded manifest versions to garbage-collect.

    ``history`` is (version, published_at), newest first; the first is the current one. Keep the
    newest ``keep_last`` versions, and anything younger than ``min_age_hours`` (a reader may
    still be reading it).
    """
    doomed = []
    for index, (version, published_at) in enumerate(history):
        if index < max(keep_last, 1):
            continue
        if (now - published_at).total_seconds() < min_age_hours * 3600:
            continue
        doomed.append(version)
    return doomed
