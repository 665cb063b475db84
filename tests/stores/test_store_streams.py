"""Unit tests of the shared streaming helpers and metadata rules (no servers)."""

from __future__ import annotations

import hashlib
import io
import threading
import time

import pytest

from multiregion.stores.metadata import SHA256_METADATA_KEY, normalize_metadata
from multiregion.stores.streams import HashingTee, as_chunks, iter_parts, run_bounded, slices


@pytest.mark.parametrize("chunk_sizes", [[1] * 25, [7, 3, 10, 1, 4], [25], [30], [10, 10], [3, 17, 5]])
def test_iter_parts_cuts_exact_parts(chunk_sizes):
    data = bytes(range(sum(chunk_sizes)))
    chunks, offset = [], 0
    for n in chunk_sizes:
        chunks.append(data[offset : offset + n])
        offset += n
    parts = list(iter_parts(chunks, 10))
    assert b"".join(parts) == data
    assert all(len(p) == 10 for p in parts[:-1]) and 0 < len(parts[-1]) <= 10


def test_iter_parts_edge_cases():
    assert list(iter_parts([], 10)) == [b""]  # an empty object is one empty part
    assert list(iter_parts([b""], 10)) == [b""]
    chunk = b"x" * 10
    (part,) = iter_parts([chunk], 10)
    assert part is chunk  # whole-part chunks pass through without a copy
    with pytest.raises(ValueError):
        list(iter_parts([b"x"], 0))


def test_as_chunks_sources():
    assert list(as_chunks(b"abc")) == [b"abc"]  # bytes are not iterated byte by byte
    assert list(as_chunks(bytearray(b"abc"))) == [b"abc"]
    assert b"".join(as_chunks(io.BytesIO(b"x" * 2500), read_size=1000)) == b"x" * 2500
    assert list(as_chunks(iter([b"a", b"b"]))) == [b"a", b"b"]
    with pytest.raises(TypeError, match="bytes-like"):
        list(as_chunks(["text"]))


def test_hashing_tee():
    tee = HashingTee([b"hello ", b"world"])
    with pytest.raises(RuntimeError):
        tee.digests()
    assert b"".join(tee) == b"hello world"
    digests = tee.digests()
    assert digests.size == 11
    assert digests.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert digests.md5_hex == hashlib.md5(b"hello world").hexdigest()


def test_slices():
    assert list(slices(b"abcdefg", 3)) == [b"abc", b"def", b"g"]
    data = b"ab"
    assert next(slices(data, 3)) is data


def test_run_bounded_limits_parts_in_memory():
    concurrency, lock = 3, threading.Lock()
    state = {"pulled": 0, "done": 0, "running": 0, "max_running": 0, "max_outstanding": 0}

    def items():
        for i in range(20):
            with lock:
                state["pulled"] += 1
                state["max_outstanding"] = max(state["max_outstanding"], state["pulled"] - state["done"])
            yield i

    def work(number, item):
        with lock:
            state["running"] += 1
            state["max_running"] = max(state["max_running"], state["running"])
        time.sleep(0.005)
        with lock:
            state["running"] -= 1
            state["done"] += 1
        return number, item

    results = run_bounded(items(), work, concurrency=concurrency)
    assert results == [(i + 1, i) for i in range(20)]  # numbered from 1, in order
    assert state["max_running"] <= concurrency
    assert state["max_outstanding"] <= concurrency  # the next item is pulled only when a slot is free


def test_run_bounded_stops_pulling_after_a_failure():
    pulled = []

    def items():
        for i in range(100):
            pulled.append(i)
            yield i

    def work(number, item):
        if number == 2:
            raise OSError("part 2 failed")
        time.sleep(0.01)

    with pytest.raises(OSError, match="part 2 failed"):
        run_bounded(items(), work, concurrency=2)
    assert len(pulled) < 10


def test_run_bounded_propagates_source_errors_after_running_work_ends():
    finished = []

    def items():
        yield 1
        yield 2
        raise RuntimeError("source broke")

    def work(number, item):
        time.sleep(0.05)
        finished.append(number)

    with pytest.raises(RuntimeError, match="source broke"):
        run_bounded(items(), work, concurrency=4)
    assert sorted(finished) == [1, 2]  # in-flight work completed before the error surfaced (abort after)


def test_normalize_metadata():
    assert normalize_metadata({"Model": "m", "git_sha": "abc"}) == {"model": "m", "git_sha": "abc"}
    assert normalize_metadata(None) == {}
    for bad in ({"a-b": "x"}, {"_a": "x"}, {"A": "1", "a": "2"}, {SHA256_METADATA_KEY: "x"}, {"k": "\n"}):
        with pytest.raises(ValueError):
            normalize_metadata(bad)
    with pytest.raises(TypeError):
        normalize_metadata({"k": 3})
    with pytest.raises(ValueError, match="limit"):
        normalize_metadata({"k": "v" * 3000})
