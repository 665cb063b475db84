"""Object-store smoke check: write, read back and verify an object in a region's store."""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from typing import Any

from multiregion.ops.regions import region_store, select_regions

SMOKE_PREFIX = "_smoke/"
CHUNK = 1 << 20


class SmokeCheckFailed(RuntimeError):
    pass


def _chunks(size: int, seed: int):
    rng = random.Random(seed)
    for offset in range(0, size, CHUNK):
        yield rng.randbytes(min(CHUNK, size - offset))


def check_region_store(region_name: str, size: int = 3 * CHUNK + 12345) -> dict[str, Any]:
    """Write ``size`` bytes streamed, read them back streamed and ranged, verify sha256, delete."""
    (region,) = select_regions([region_name])
    store = region_store(region)
    key = f"{SMOKE_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.bin"
    seed = random.SystemRandom().getrandbits(64)
    expected = hashlib.sha256(b"".join(_chunks(size, seed))).hexdigest()
    started = time.monotonic()
    ok = False
    try:
        info = store.write(key, _chunks(size, seed), metadata={"purpose": "smoke"})
        written = time.monotonic()
        got, read_bytes = hashlib.sha256(), 0
        for part in store.iter_read(key):
            got.update(part)
            read_bytes += len(part)
        if read_bytes != size or got.hexdigest() != expected:
            raise SmokeCheckFailed(
                f"{region.name}: read back {read_bytes} bytes with sha256 {got.hexdigest()}; "
                f"wrote {size} bytes with sha256 {expected}"
            )
        start = size // 2
        window = b"".join(_chunks(size, seed))[start : start + 100]
        if store.read_range(key, start, 100) != window:
            raise SmokeCheckFailed(f"{region.name}: ranged read of {key} returned different bytes")
        if info.sha256 and info.sha256 != expected:
            raise SmokeCheckFailed(f"{region.name}: store reports sha256 {info.sha256}, expected {expected}")
        ok = True
    finally:
        store.delete(key)
        _push(region.name, ok, size, time.monotonic() - started)
    return {
        "region": region.name,
        "cloud": region.cloud.value,
        "store": f"{region.storage.kind.value}://{region.storage.bucket}/{key}",
        "bytes": size,
        "sha256": expected,
        "write_seconds": round(written - started, 3),
        "total_seconds": round(time.monotonic() - started, 3),
    }


def _push(region: str, ok: bool, size: int, seconds: float) -> None:
    from multiregion.core.topology import load_topology
    from multiregion.monitoring.pushgateway import push_gauges

    values = {"smoke_ok": int(ok), "smoke_bytes": size, "smoke_seconds": seconds}
    if ok:
        values["smoke_last_success_timestamp_seconds"] = time.time()
    push_gauges(load_topology().monitoring.pushgateway_url, "smoke_object_stores", values, {"region": region})


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "regions": sorted(r["region"] for r in results),
        "bytes_verified": sum(r["bytes"] for r in results),
        "slowest_region": max(results, key=lambda r: r["total_seconds"])["region"] if results else None,
    }
