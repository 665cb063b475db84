"""Object-store smoke check: write, wait until visible, read back and verify, in each region's store.

The probe object's content is derived from (run id, region), so the writer and the verifier
agree on it without passing data around, and a retried task rewrites identical bytes.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from multiregion.core.naming import safe_name
from multiregion.core.topology import select_regions
from multiregion.stores.registry import region_store

SMOKE_PREFIX = "_smoke/"
CHUNK = 1 << 20
PROBE_SIZE = 3 * CHUNK + 12345  # several parts, and not a multiple of the part size


class SmokeCheckFailed(RuntimeError):
    pass


def _seed(run_id: str, region: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{run_id}/{region}".encode()).digest()[:8], "big")


def _chunks(size: int, seed: int):
    rng = random.Random(seed)
    for offset in range(0, size, CHUNK):
        yield rng.randbytes(min(CHUNK, size - offset))


def probe_targets(region_names: list[str] | None, run_id: str) -> list[dict[str, Any]]:
    """One probe per region: where it goes (for the writer and the deferrable visibility sensor)."""
    safe_run = safe_name(run_id)
    return [
        {
            "region": r.name,
            "kind": r.storage.kind.value,
            "conn_id": r.storage.conn_id,
            "bucket": r.storage.bucket,
            "key": f"{SMOKE_PREFIX}{safe_run}/{r.name}.bin",
            "expected_size": PROBE_SIZE,
        }
        for r in select_regions(region_names)
    ]


def write_probe(target: dict[str, Any], run_id: str) -> dict[str, Any]:
    (region,) = select_regions([target["region"]])
    started = time.monotonic()
    info = region_store(region).write(
        target["key"], _chunks(PROBE_SIZE, _seed(run_id, region.name)), metadata={"purpose": "smoke"}
    )
    return {"region": region.name, "key": info.key, "size": info.size, "write_seconds": time.monotonic() - started}


def verify_probe(target: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Read the probe back streamed and ranged, verify its sha256, delete it, push metrics."""
    (region,) = select_regions([target["region"]])
    store, key = region_store(region), target["key"]
    seed = _seed(run_id, region.name)
    expected = hashlib.sha256(b"".join(_chunks(PROBE_SIZE, seed))).hexdigest()
    started = time.monotonic()
    ok = False
    try:
        got, read_bytes = hashlib.sha256(), 0
        for part in store.iter_read(key):
            got.update(part)
            read_bytes += len(part)
        if read_bytes != PROBE_SIZE or got.hexdigest() != expected:
            raise SmokeCheckFailed(
                f"{region.name}: read back {read_bytes} bytes with sha256 {got.hexdigest()} from {key}; "
                f"expected {PROBE_SIZE} bytes with sha256 {expected}"
            )
        start = PROBE_SIZE // 2
        window = b"".join(_chunks(PROBE_SIZE, seed))[start : start + 100]
        if store.read_range(key, start, 100) != window:
            raise SmokeCheckFailed(f"{region.name}: ranged read of {key} returned different bytes")
        stored_sha = store.head(key).sha256
        if stored_sha and stored_sha != expected:
            raise SmokeCheckFailed(f"{region.name}: store records sha256 {stored_sha}, expected {expected}")
        ok = True
    finally:
        store.delete(key)
        _push(region.name, ok, PROBE_SIZE, time.monotonic() - started)
    return {
        "region": region.name,
        "store": f"{region.storage.kind.value}://{region.storage.bucket}",
        "bytes": PROBE_SIZE,
        "sha256": expected,
        "read_seconds": round(time.monotonic() - started, 3),
    }


def _push(region: str, ok: bool, size: int, seconds: float) -> None:
    from multiregion.core.topology import load_topology
    from multiregion.monitoring.pushgateway import push_gauges

    values = {"smoke_ok": int(ok), "smoke_bytes": size, "smoke_read_seconds": seconds}
    if ok:
        values["smoke_last_success_timestamp_seconds"] = time.time()
    push_gauges(load_topology().monitoring.pushgateway_url, "smoke_object_stores", values, {"region": region})


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"regions": sorted(r["region"] for r in results), "bytes_verified": sum(r["bytes"] for r in results)}
