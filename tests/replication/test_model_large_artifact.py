"""A model with a large (120 MiB) artifact replicates with bounded memory.

Peak RSS of the region task's body (copy + register + smoke test, in a fresh process) is
compared with the same body replicating a tiny model: the difference must stay far below the
artifact's size, i.e. the artifact is streamed, never held in memory.
"""

from __future__ import annotations

import multiprocessing
import resource
import uuid

import pytest

from multiregion.ops import replicate_model as ops

pytestmark = pytest.mark.world
ARTIFACT_MIB = 120


def _replicate_child(spec: dict, region: str, out) -> None:
    result = ops.replicate_to(spec, region)
    out.send((result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _peak_rss_mib(spec: dict, region: str) -> tuple[dict, float]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_replicate_child, args=(spec, region, child))
    proc.start()
    result = parent.recv()
    proc.join()
    assert proc.exitcode == 0
    return result


def test_large_artifact_replicates_with_bounded_memory(world, train):
    primary = world.topology.primary.registry.uri
    small, large = f"test-small-{uuid.uuid4().hex[:6]}", f"test-large-{uuid.uuid4().hex[:6]}"
    small_spec = ops.resolve({"model": small, "version": train(small, primary, 0)})
    large_spec = ops.resolve({"model": large, "version": train(large, primary, ARTIFACT_MIB)})
    assert sum(f["size"] for f in large_spec["files"]) > ARTIFACT_MIB << 20

    small_result, small_peak = _peak_rss_mib(small_spec, "eu-west-1")
    large_result, large_peak = _peak_rss_mib(large_spec, "eu-west-1")
    assert large_result["verified"] and large_result["bytes_copied"] > ARTIFACT_MIB << 20
    assert small_result["verified"]
    print(f"peak RSS: tiny model {small_peak:.0f} MiB, {ARTIFACT_MIB} MiB artifact {large_peak:.0f} MiB")
    assert large_peak - small_peak < ARTIFACT_MIB / 2, (small_peak, large_peak)
