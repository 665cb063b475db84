"""Fixtures for the object-store contract suite: the same tests run against every backend.

``store_targets`` says where each backend lives (env vars MR_TEST_<S3|GCS|AZURE>_<CONN|BUCKET>,
defaulting to the local world's connection ids and buckets, which the top-level conftest exports);
if a ``world`` fixture exists it is requested first, so the servers are up. ``object_store`` hands
each test a store rooted at a fresh prefix and deletes it afterwards. An unreachable store fails
the test with a clear message: these tests never skip.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

from multiregion.stores import KINDS, ObjectStore, open_store

MiB = 1 << 20

# Small parts and pages so the 64 MiB test spans many parts (and its memory bound means something)
# and listings of a handful of objects take several pages.
STORE_OPTIONS = {"part_size": 5 * MiB, "max_concurrency": 2, "page_size": 7}

_TARGET_ENV = {
    "s3": ("MR_TEST_S3", "s3_us_west_2", "mr-us-west-2"),
    "gcs": ("MR_TEST_GCS", "gcs_eu_west_1", "mr-eu-west-1"),
    "azure_blob": ("MR_TEST_AZURE", "wasb_ap_south_1", "mr-ap-south-1"),
}


@pytest.fixture(scope="session")
def store_targets(request) -> dict[str, tuple[str, str, str]]:
    """kind -> (kind, conn_id, bucket) for each backend under test, from MR_TEST_* env vars."""
    # This fixture shadows the top-level one, so start the local world the way it would have; run
    # on its own (--confcutdir=tests/stores) there is no such fixture and the servers must be up.
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("world")
    targets = {}
    for kind, (env, conn_id, bucket) in _TARGET_ENV.items():
        targets[kind] = (kind, os.environ.get(f"{env}_CONN", conn_id), os.environ.get(f"{env}_BUCKET", bucket))
    return targets


@pytest.fixture(scope="session")
def _root_stores() -> dict[str, tuple[ObjectStore, str | None]]:
    return {}  # kind -> (store at the bucket root, why it is unreachable or None); probed once


def _probe(store: ObjectStore) -> str | None:
    try:
        next(store.list("mr-tests/__probe__/"), None)
    except Exception as exc:  # noqa: BLE001 - any failure means the suite cannot run against it
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(params=KINDS)
def object_store(request, store_targets, _root_stores) -> Iterator[ObjectStore]:
    kind, conn_id, bucket = store_targets[request.param]
    if kind not in _root_stores:
        root = open_store(kind, conn_id=conn_id, bucket=bucket, **STORE_OPTIONS)
        _root_stores[kind] = (root, _probe(root))
    root, problem = _root_stores[kind]
    if problem:
        env = _TARGET_ENV[kind][0]
        pytest.fail(
            f"{kind} store unreachable ({root.describe()}): {problem}\n"
            f"Start the local world (it exports AIRFLOW_CONN_* and the MR_TEST_* variables) or set "
            f"{env}_CONN / {env}_BUCKET to a reachable connection and bucket.",
            pytrace=False,
        )
    prefix = f"mr-tests/{uuid.uuid4().hex[:12]}/"
    yield root.with_prefix(prefix)  # shares the root's client: one hook per backend per session
    root.delete_prefix(prefix)
