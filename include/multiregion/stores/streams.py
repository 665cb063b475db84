"""Streaming helpers shared by every backend: input adaptation, part chunking, hashing, bounded uploads.

Nothing here knows about a cloud: the backends feed parts produced here to their own
part/block/chunk upload calls.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MiB = 1 << 20
READ_SIZE = MiB  # how much to read at a time from a file-like source

Source = Iterable[bytes] | BinaryIO | bytes | bytearray | memoryview


def as_chunks(data: Source, read_size: int = READ_SIZE) -> Iterator[bytes]:
    """Turn bytes, a binary file object or an iterable of byte chunks into an iterator of chunks."""
    if isinstance(data, bytes | bytearray | memoryview):
        # bytes is itself an Iterable[int]: never iterate it byte by byte.
        return iter((bytes(data),))
    read = getattr(data, "read", None)
    if callable(read):
        return iter(partial(read, read_size), b"")
    return _checked(data)


def _checked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"object data chunks must be bytes-like, got {type(chunk).__name__}")
        yield chunk


@dataclass(frozen=True)
class Digests:
    """What was streamed: byte count and whole-object digests."""

    size: int
    sha256: str
    md5: bytes

    @property
    def md5_hex(self) -> str:
        return self.md5.hex()


class HashingTee:
    """Pass chunks through unchanged while computing sha256, md5 and the byte count."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = chunks
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.exhausted = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._sha256.update(chunk)
            self._md5.update(chunk)
            self.size += len(chunk)
            yield chunk
        self.exhausted = True

    def digests(self) -> Digests:
        if not self.exhausted:
            # A digest of a partially consumed stream would silently describe the wrong bytes.
            raise RuntimeError("digests requested before the stream was fully consumed")
        return Digests(self.size, self._sha256.hexdigest(), self._md5.digest())


def iter_parts(chunks: Iterable[bytes], part_size: int) -> Iterator[bytes]:
    """Re-cut a chunk stream into parts of exactly ``part_size`` bytes (the last may be shorter).

    An empty stream yields one empty part, so "write an empty object" needs no special case.
    Each byte is copied at most once: a chunk that is a whole part passes through as it is, a part
    made of several chunks (or pieces of them) is joined once. Memory: the chunks of the part being
    assembled (< part_size) + one input chunk, plus the part being yielded.
    """
    if part_size <= 0:
        raise ValueError(f"part_size must be positive, got {part_size}")
    pending: list[bytes | memoryview] = []
    size = 0
    emitted = False
    for chunk in chunks:
        if type(chunk) is not bytes:  # a mutable buffer may be refilled by its producer: copy it now
            chunk = bytes(chunk)
        length, offset = len(chunk), 0
        while offset < length:
            take = min(part_size - size, length - offset)
            pending.append(chunk if take == length else memoryview(chunk)[offset : offset + take])
            size, offset = size + take, offset + take
            if size == part_size:
                emitted = True
                yield b"".join(pending)  # a single bytes chunk is returned as is, without a copy
                pending, size = [], 0
    if pending or not emitted:
        yield b"".join(pending)


def slices(data: bytes, size: int) -> Iterator[bytes]:
    """Cut a downloaded window into chunks of at most ``size`` bytes (no copy when it already fits)."""
    if len(data) <= size:
        yield data
        return
    with memoryview(data) as view:
        for offset in range(0, len(data), size):
            yield bytes(view[offset : offset + size])


def run_bounded(items: Iterable[T], work: Callable[[int, T], R], *, concurrency: int) -> list[R]:
    """Run ``work(number, item)`` for items numbered from 1, at most ``concurrency`` at a time.

    A slot is taken *before* the next item is pulled from ``items``, so when items are parts
    produced lazily from a stream, at most ``concurrency`` parts are held by running uploads
    (plus the one being assembled), whatever the stream's length. The first failure, or an
    exception raised by the item iterator itself (e.g. the caller's generator), stops pulling
    new items, cancels queued work, waits for running work and is re-raised. Results are
    returned in item order.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    slots = threading.BoundedSemaphore(concurrency)
    failed = threading.Event()
    futures: list[Future[R]] = []

    def run(number: int, item: T) -> R:
        try:
            return work(number, item)
        except BaseException:
            failed.set()
            raise
        finally:
            slots.release()

    source = iter(items)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mr-part") as pool:
        try:
            number = 0
            while True:
                slots.acquire()
                if failed.is_set():
                    break
                try:
                    item = next(source)
                except StopIteration:
                    break
                number += 1
                futures.append(pool.submit(run, number, item))
                del item  # the pool holds it until uploaded; don't keep a second reference
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        if failed.is_set():
            pool.shutdown(wait=True, cancel_futures=True)
    return [f.result() for f in futures]
