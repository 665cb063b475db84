"""Generate the sample datasets of the local world (Parquet, deterministic per seed).

Used by the demo and the tests: it writes to a dataset's source prefix exactly what a producer
(a feature pipeline) would, through the region's store connection.
"""

from __future__ import annotations

import io
import random

from multiregion.core.datasets import Dataset
from multiregion.core.manifest import ALL_PARTITION
from multiregion.stores.base import ObjectStore

PLANS = ["basic", "standard", "premium"]


def churn_table(rows: int, seed: int, bad: bool = False, first_id: int = 0):
    """Customer features; ``bad`` injects nulls and out-of-range tenure (for validation failures)."""
    import pyarrow as pa

    rng = random.Random(seed)
    ids = [first_id + i for i in range(rows)]
    rng.shuffle(ids)
    tenure = [rng.randint(0, 120) for _ in range(rows)]
    if bad:
        tenure[0] = 9999
    return pa.table(
        {
            "customer_id": pa.array([None if bad and i == 1 else v for i, v in enumerate(ids)], pa.int64()),
            "tenure_months": pa.array(tenure, pa.int32()),
            "monthly_spend": pa.array([round(rng.uniform(5, 250), 2) for _ in range(rows)], pa.float64()),
            "plan": pa.array([rng.choice(PLANS) for _ in range(rows)], pa.string()),
            "support_tickets": pa.array([rng.randint(0, 12) for _ in range(rows)], pa.int16()),
            "label": pa.array([int(rng.random() < 0.2) for _ in range(rows)], pa.int8()),
        }
    )


def parquet_bytes(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def write_partition(
    store: ObjectStore,
    dataset: Dataset,
    partition: str = ALL_PARTITION,
    files: int = 3,
    rows_per_file: int = 2000,
    seed: int = 0,
    bad: bool = False,
) -> list[str]:
    """Write ``files`` Parquet files into the dataset's source partition; returns their keys."""
    prefix = dataset.source_prefix(partition)
    keys = []
    for i in range(files):
        # Customer ids are unique across the partition's files (the catalog expects it).
        table = churn_table(
            rows_per_file, seed=seed * 1000 + i, bad=bad and i == 0, first_id=seed * 10_000_000 + i * rows_per_file
        )
        key = f"{prefix}part-{i:05d}.parquet"
        store.write(key, parquet_bytes(table))
        keys.append(key)
    return keys
