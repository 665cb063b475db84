"""Unit tests of the shared store logic through an in-memory backend with injected faults (no servers)."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
from enum import StrEnum

import pytest

from multiregion.stores import (
    IntegrityError,
    ObjectChanged,
    ObjectNotFound,
    ObjectStoreError,
    StoreUnavailable,
    open_store,
)
from multiregion.stores.base import ObjectStore
from multiregion.stores.streams import run_bounded


class Flaky(Exception):
    """A transient fault (like a dropped connection)."""


class Gone(Exception):
    pass


class MemoryStore(ObjectStore):
    kind, scheme = "memory", "mem"

    def __init__(self, **options):
        super().__init__(conn_id="mem_default", bucket="mem-bucket", **options)
        self.objects: dict[str, tuple[bytes, dict, str, int]] = {}  # name -> data, metadata, type, version
        self.opens: list[int] = []
        self.read_faults: list[int] = []  # fail a read after this many bytes (one fault per entry)
        self.call_faults = 0  # the next N head calls fail transiently
        self.replace_on_fault = False
        self.corrupt_commit = False
        self.report_writes = False  # _put_small returns the stored object's info, as Azure/GCS do
        self.heads = 0

    def _call(self, fn, /, *args, **kwargs):
        def faulty(*a, **k):
            if self.call_faults:
                self.call_faults -= 1
                raise Flaky("connection reset")
            return fn(*a, **k)

        return super()._call(faulty, *args, **kwargs)

    def _raw_head(self, name):
        if name not in self.objects:
            raise Gone(name)
        return self.objects[name]

    def _head(self, name):
        self.heads += 1
        data, metadata, _content_type, version = self._call(self._raw_head, name)
        md5 = hashlib.md5(data).hexdigest()
        return self._info(
            name, metadata=metadata, size=len(data), etag=str(version), md5=md5, last_modified=None, content_type=None
        )

    def _list(self, name_prefix, *, recursive, with_metadata):
        for name in sorted(self.objects):
            if name.startswith(name_prefix):
                yield self._head(name)

    def _open_range(self, name, start, end, chunk_size, version):
        data, _, _, current = self._raw_head(name)
        if version is not None and str(current) != version:
            raise ObjectChanged(self, self._key(name))
        self.opens.append(start)
        return str(current), self._chunks(name, data[start:end], chunk_size)

    def _chunks(self, name, data, chunk_size):
        fault = self.read_faults.pop(0) if self.read_faults else None
        for offset in range(0, len(data), chunk_size):
            if fault is not None and offset >= fault:
                if self.replace_on_fault:
                    self._commit(name, b"replaced", {})
                raise Flaky("connection reset mid-stream")
            yield data[offset : offset + chunk_size]

    def _commit(self, name, data, metadata, content_type="x"):
        if self.corrupt_commit:
            data = data[:-1]
        version = self.objects.get(name, (b"", {}, "", 0))[3] + 1
        self.objects[name] = (data, dict(metadata), content_type, version)

    def _put_small(self, name, data, *, metadata, content_type, digests):
        self._commit(name, data, metadata, content_type)
        if self.report_writes:  # the service's own MD5 of what it stored, as in its response
            stored = self.objects[name][0]
            md5 = hashlib.md5(stored).hexdigest()
            return self._info(name, metadata=metadata, size=len(stored), etag="r", md5=md5, last_modified=None)
        return None

    def _put_large(self, name, parts, *, metadata, content_type, finish):
        received = run_bounded(parts, lambda number, part: part, concurrency=self.max_concurrency)
        _, final_metadata = finish()
        self._commit(name, b"".join(received), final_metadata, content_type)

    def _copy(self, src, dst):
        self.objects[dst] = self._raw_head(src)

    def _delete(self, name):
        self.objects.pop(name, None)

    def _classify(self, exc):
        return {Flaky: StoreUnavailable, Gone: ObjectNotFound}.get(type(exc))

    def _is_transient(self, exc):
        return isinstance(exc, Flaky)


@pytest.fixture
def store():
    return MemoryStore(part_size=10, max_concurrency=2, retry_attempts=3)


DATA = bytes(range(256)) * 4


def test_reads_resume_where_the_connection_dropped(store):
    store.write("k", DATA)
    store.read_faults = [300, 100]
    assert b"".join(store.iter_read("k", chunk_size=50)) == DATA
    assert store.opens == [0, 300, 400]  # each resume starts at the first byte not yet delivered


def test_reads_give_up_after_retry_attempts(store):
    store.write("k", DATA)
    store.read_faults = [100, 0, 0]
    with pytest.raises(StoreUnavailable, match="key 'k'"):
        b"".join(store.iter_read("k", chunk_size=50))


def test_resumed_read_of_a_replaced_object_fails(store):
    store.write("k", DATA)
    store.read_faults, store.replace_on_fault = [100], True
    with pytest.raises(ObjectChanged):
        b"".join(store.iter_read("k", chunk_size=50))


def test_verify_detects_corrupted_stored_data(store):
    store.write("k", DATA)
    data, metadata, content_type, version = store.objects["k"]
    store.objects["k"] = (b"X" + data[1:], metadata, content_type, version)
    with pytest.raises(IntegrityError, match="sha256"):
        b"".join(store.iter_read("k", verify=True))


def test_write_verifies_what_was_stored(store):
    store.corrupt_commit = True
    with pytest.raises(IntegrityError, match="size"):
        store.write("k", DATA)
    assert "k" not in store.objects  # the corrupt object was removed


def test_a_reported_write_is_verified_without_a_head(store):
    store.report_writes = True
    small = DATA[: store.part_size]  # one request: the response stands in for a HEAD
    info = store.write("k", small)
    assert store.heads == 0 and info.sha256 == hashlib.sha256(small).hexdigest()
    store.corrupt_commit = True
    with pytest.raises(IntegrityError, match="md5"):
        store.write("k2", small)
    assert "k2" not in store.objects  # the corrupt object was removed


def test_transient_errors_are_retried_then_translated(store):
    store.write("k", b"x")
    store.call_faults = 2
    assert store.head("k").size == 1  # two failures, third attempt succeeds
    store.call_faults = 3
    with pytest.raises(StoreUnavailable) as err:
        store.head("k")
    assert isinstance(err.value.__cause__, Flaky)


def test_callers_exceptions_pass_through_unchanged(store):
    def broken():
        yield b"x" * 25
        raise KeyError("caller's bug")

    with pytest.raises(KeyError):
        store.write("k", broken())
    assert store.objects == {}


def test_with_prefix_and_key_rules(store):
    child = store.with_prefix("a/b")
    assert child.prefix == "a/b/" and store.prefix == ""
    child.write("c.txt", b"1")
    assert [i.key for i in store.list()] == ["a/b/c.txt"] and [i.key for i in child.list()] == ["c.txt"]
    assert child.url == "mem://mem-bucket/a/b/" and "mem_default" in child.describe()
    for bad in ("", "/abs", "x" * 1100):
        with pytest.raises(ValueError):
            store.head(bad)


def test_errors_are_picklable_and_name_everything(store):
    with pytest.raises(ObjectNotFound) as err:
        store.head("dir/missing.bin")
    clone = pickle.loads(pickle.dumps(err.value))
    assert type(clone) is ObjectNotFound and str(clone) == str(err.value)
    assert "mem://mem-bucket/dir/missing.bin" in str(clone) and "memory bucket 'mem-bucket'" in str(clone)


def test_open_store_kinds_and_options():
    class Kind(StrEnum):
        GCS = "gcs"

    store = open_store(Kind.GCS, conn_id="no_such_conn", bucket="b", prefix="p", part_size=300_000)
    assert store.kind == "gcs" and store.prefix == "p/" and store.part_size == 512 * 1024  # 256 KiB multiple
    with pytest.raises(ValueError, match="s3, gcs, azure_blob"):
        open_store("ftp", conn_id="c", bucket="b")
    with pytest.raises(ValueError, match="part_size"):
        open_store("s3", conn_id="c", bucket="b", part_size=1 << 20)  # S3 parts are >= 5 MiB
    assert isinstance(ObjectStoreError("desc", None), Exception)


def test_importing_the_package_loads_no_provider_or_sdk():
    code = (
        "import sys, multiregion.stores as s; s.open_store('s3', conn_id='c', bucket='b');"
        # google.cloud itself is a namespace package that *.pth files load at startup: check storage.
        "heavy = ('airflow', 'boto3', 'botocore', 'google.cloud.storage', 'azure.storage', 'tenacity');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
