"""The object-store contract: every test runs unchanged against S3, GCS and Azure Blob."""

from __future__ import annotations

import hashlib
import io
import random
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from multiregion.stores import (
    SHA256_METADATA_KEY,
    BucketNotFound,
    IntegrityError,
    InvalidRange,
    ObjectNotFound,
    open_store,
)

pytestmark = pytest.mark.world

MiB = 1 << 20


def generated(size: int, seed: int, chunk: int = MiB) -> Iterator[bytes]:
    """Deterministic pseudo-random bytes, produced chunk by chunk (never held whole)."""
    rng = random.Random(seed)
    for offset in range(0, size, chunk):
        yield rng.randbytes(min(chunk, size - offset))


def sha256_of(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class PeakMemory:
    """Peak Python heap (tracemalloc) above the starting point while the block runs."""

    def __enter__(self):
        tracemalloc.start()
        tracemalloc.reset_peak()
        self._base = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1] - self._base
        tracemalloc.stop()


# --------------------------------------------------------------------------- write / head / list
def test_write_returns_verified_head(object_store):
    data = b"hello multi-region world\n"
    info = object_store.write("a/hello.txt", data, metadata={"Run_ID": "r-42"}, content_type="text/x-mr-test")

    assert info.key == "a/hello.txt"
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.md5 == md5_hex(data)
    assert info.etag
    assert isinstance(info.last_modified, datetime) and info.last_modified.tzinfo is not None
    assert info.metadata == {"run_id": "r-42"}  # names are lower-cased everywhere (S3 does it anyway)
    assert info.content_type == "text/x-mr-test"
    head = object_store.head("a/hello.txt")
    assert (head.size, head.etag, head.md5, head.sha256, head.metadata) == (
        info.size,
        info.etag,
        info.md5,
        info.sha256,
        info.metadata,
    )


def test_write_accepts_file_objects_and_empty_data(object_store):
    data = random.Random(1).randbytes(object_store.part_size + 1000)  # more than one part, from a file object
    info = object_store.write("from-file.bin", io.BytesIO(data))
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert info.content_type == "application/octet-stream"

    empty = object_store.write("empty.bin", iter(()))
    assert (empty.size, empty.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert list(object_store.iter_read("empty.bin")) == []


def test_overwrite_replaces_data_and_metadata(object_store):
    object_store.write("k.bin", b"first", metadata={"version": "1"})
    info = object_store.write("k.bin", b"second!", metadata={"version": "2"})
    assert object_store.read_range("k.bin", 0, 100) == b"second!"
    assert object_store.metadata("k.bin") == {"version": "2"} == info.metadata


def test_metadata_round_trip(object_store):
    metadata = {"model": "churn", "Stage": "prod", "git_sha": "0123abc", "note": "a b/c=d"}
    object_store.write("meta.bin", b"x", metadata=metadata)
    expected = {k.lower(): v for k, v in metadata.items()}
    assert object_store.metadata("meta.bin") == expected
    assert SHA256_METADATA_KEY not in object_store.metadata("meta.bin")
    assert object_store.head("meta.bin").sha256 == hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    "metadata",
    [{"bad-name": "x"}, {"1st": "x"}, {SHA256_METADATA_KEY: "f" * 64}, {"k": "é"}, {"k": " padded"}, {"k": 1}],
)
def test_invalid_metadata_is_rejected_before_writing(object_store, metadata):
    with pytest.raises((ValueError, TypeError)):
        object_store.write("never.bin", b"x", metadata=metadata)
    assert not object_store.exists("never.bin")


def test_list_paginates_with_sizes_and_checksums(object_store):
    page_size = object_store.page_size
    assert page_size < 10, "the fixture should use a small page size"
    payloads = {f"many/{i:02d}.bin": f"object {i}".encode() * (i + 1) for i in range(2 * page_size + 3)}
    payloads["many/sub/deep.bin"] = b"deep"
    for key, data in payloads.items():
        object_store.write(key, data)
    object_store.write("many-not/other.bin", b"other")

    listed = list(object_store.list("many/", with_metadata=True))
    assert len(listed) > 2 * page_size  # needed three pages
    assert [i.key for i in listed] == sorted(payloads)
    for info in listed:
        data = payloads[info.key]
        assert info.size == len(data)
        assert info.md5 == md5_hex(data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert info.etag

    plain = {i.key: i for i in object_store.list("many/")}
    assert {k: i.size for k, i in plain.items()} == {k: len(v) for k, v in payloads.items()}
    # listed times are zone-aware and the same instant as a HEAD's (S3 parses them its own way)
    head = object_store.head("many/00.bin")
    assert plain["many/00.bin"].last_modified.tzinfo is not None
    assert abs((plain["many/00.bin"].last_modified - head.last_modified).total_seconds()) < 1

    shallow = [i.key for i in object_store.list("many/", recursive=False)]
    assert shallow == sorted(k for k in payloads if "/sub/" not in k)
    assert list(object_store.list("nothing-here/")) == []


# --------------------------------------------------------------------------- reads
def test_streamed_and_ranged_reads(object_store):
    data = random.Random(7).randbytes(3 * MiB + 123)
    object_store.write("r.bin", data)
    size = len(data)

    chunks = list(object_store.iter_read("r.bin", chunk_size=256 * 1024))
    assert b"".join(chunks) == data
    assert len(chunks) > 1 and max(map(len, chunks)) <= 256 * 1024

    assert object_store.read_range("r.bin", 0, 1) == data[:1]  # first byte
    assert object_store.read_range("r.bin", size // 2, 1000) == data[size // 2 : size // 2 + 1000]
    assert object_store.read_range("r.bin", size - 1, 1) == data[-1:]  # last byte
    assert object_store.read_range("r.bin", size - 10, 100) == data[-10:]  # clamped at the end
    assert b"".join(object_store.iter_read("r.bin", start=MiB - 5, end=2 * MiB + 5)) == data[MiB - 5 : 2 * MiB + 5]
    assert b"".join(object_store.iter_read("r.bin", start=size - 3)) == data[-3:]
    assert object_store.read_range("r.bin", 10, 0) == b""
    assert object_store.read_range("r.bin", size, 10) == b""  # empty range at the very end

    assert b"".join(object_store.iter_read("r.bin", verify=True)) == data  # checked against stored sha256
    with pytest.raises(ValueError):
        object_store.iter_read("r.bin", start=1, verify=True)

    with pytest.raises(InvalidRange) as err:
        object_store.read_range("r.bin", size + 1, 10)
    assert "r.bin" in str(err.value) and str(size) in str(err.value)
    with pytest.raises(ValueError):
        object_store.iter_read("r.bin", start=10, end=5)


# --------------------------------------------------------------------------- copy / delete
def test_copy_is_server_side_and_keeps_metadata(object_store):
    data = random.Random(3).randbytes(object_store.part_size + 77)  # a multipart source
    source = object_store.write("src/model.bin", data, metadata={"model": "m1"})
    copy = object_store.copy("src/model.bin", "dst/model.bin")
    assert (copy.key, copy.size, copy.sha256, copy.metadata) == (
        "dst/model.bin",
        len(data),
        source.sha256,
        source.metadata,
    )
    assert sha256_of(object_store.iter_read("dst/model.bin")) == source.sha256
    assert object_store.exists("src/model.bin")

    with pytest.raises(ObjectNotFound) as err:
        object_store.copy("src/missing.bin", "dst/other.bin")
    assert err.value.key == "src/missing.bin"


def test_delete_is_idempotent(object_store):
    object_store.write("d.bin", b"bye")
    assert object_store.exists("d.bin")
    object_store.delete("d.bin")
    assert not object_store.exists("d.bin")
    object_store.delete("d.bin")
    object_store.delete("never-existed.bin")


def test_delete_prefix(object_store):
    count = object_store.page_size + 2
    for i in range(count):
        object_store.write(f"tmp/{i}.bin", b"t")
    object_store.write("tmpfile-not-under.bin", b"k")
    object_store.write("keep/1.bin", b"k")
    assert object_store.delete_prefix("tmp/") == count
    assert [i.key for i in object_store.list()] == ["keep/1.bin", "tmpfile-not-under.bin"]
    assert object_store.delete_prefix("tmp/") == 0
    with pytest.raises(ValueError):
        object_store.delete_prefix("")


# --------------------------------------------------------------------------- errors
def test_not_found_errors_name_store_and_key(object_store):
    calls = {
        "head": lambda k: object_store.head(k),
        "metadata": lambda k: object_store.metadata(k),
        "iter_read": lambda k: list(object_store.iter_read(k)),
        "read_range": lambda k: object_store.read_range(k, 5, 10),
    }
    for name, call in calls.items():
        with pytest.raises(ObjectNotFound) as err:
            call("missing/thing.bin")
        message = str(err.value)
        assert err.value.key == "missing/thing.bin", name
        assert "missing/thing.bin" in message and object_store.bucket in message and object_store.kind in message
    assert not object_store.exists("missing/thing.bin")


def test_missing_bucket_is_reported_as_such(object_store):
    bucket = f"mr-missing-{uuid.uuid4().hex[:10]}"
    missing = open_store(object_store.kind, conn_id=object_store.conn_id, bucket=bucket)
    with pytest.raises(BucketNotFound) as err:
        missing.head("x.bin")
    assert missing.bucket in str(err.value)
    with pytest.raises(BucketNotFound):
        list(missing.list())


# --------------------------------------------------------------------------- large objects / failures
def test_64_mib_streamed_round_trip_in_bounded_memory(object_store, record_property):
    size, seed = 64 * MiB, 64
    # "At most N parts in memory": parts in flight plus the one being assembled, with slack for
    # the SDKs' request buffers; well under the object's size, so materializing it would fail.
    limit = 3 * object_store.part_size * object_store.max_concurrency
    assert limit < size / 2
    expected = sha256_of(generated(size, seed))

    started = time.monotonic()
    with PeakMemory() as write_memory:
        info = object_store.write("big/64mib.bin", generated(size, seed), metadata={"kind": "large"})
    write_seconds = time.monotonic() - started
    assert (info.size, info.sha256) == (size, expected)
    assert object_store.head("big/64mib.bin").sha256 == expected

    started = time.monotonic()
    with PeakMemory() as read_memory:
        read_sha = sha256_of(object_store.iter_read("big/64mib.bin"))
    read_seconds = time.monotonic() - started
    assert read_sha == expected

    record_property("write_peak_mib", round(write_memory.peak / MiB, 1))
    record_property("read_peak_mib", round(read_memory.peak / MiB, 1))
    print(
        f"\n[{object_store.kind}] 64 MiB: write {write_seconds:.2f}s peak {write_memory.peak / MiB:.1f} MiB, "
        f"read {read_seconds:.2f}s peak {read_memory.peak / MiB:.1f} MiB (limit {limit / MiB:.0f} MiB)"
    )
    assert write_memory.peak < limit
    assert read_memory.peak < limit


def _failing(after: int):
    yield from generated(after, 5)
    raise RuntimeError("source broke midway")


@pytest.mark.parametrize("parts", [3, 0], ids=["multipart", "single-part"])
def test_failed_upload_leaves_no_visible_object(object_store, parts):
    after = parts * object_store.part_size + 1000
    with pytest.raises(RuntimeError, match="source broke midway"):
        object_store.write("fail/new.bin", _failing(after))
    assert not object_store.exists("fail/new.bin")
    assert list(object_store.list("fail/")) == []

    # Over an existing object: the previous version stays intact.
    previous = object_store.write("fail/existing.bin", b"previous version")
    with pytest.raises(RuntimeError):
        object_store.write("fail/existing.bin", _failing(after))
    assert object_store.head("fail/existing.bin").sha256 == previous.sha256
    assert object_store.read_range("fail/existing.bin", 0, 100) == b"previous version"


@pytest.mark.parametrize("parts", [3, 0], ids=["multipart", "single-part"])
def test_expected_sha256_is_checked_before_commit(object_store, parts):
    size = parts * object_store.part_size + 1000
    right = sha256_of(generated(size, 9))
    with pytest.raises(IntegrityError) as err:
        object_store.write("x/checked.bin", generated(size, 9), expected_sha256="0" * 64)
    assert "x/checked.bin" in str(err.value)
    assert not object_store.exists("x/checked.bin")

    info = object_store.write("x/checked.bin", generated(size, 9), expected_sha256=right)
    assert info.sha256 == right


def test_url_and_describe(object_store):
    assert object_store.bucket in object_store.url and object_store.prefix in object_store.url
    text = object_store.describe()
    assert object_store.kind in text and object_store.bucket in text and object_store.conn_id in text
