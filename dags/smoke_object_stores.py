"""
### Object-store smoke check

Writes an object to every region's store (S3, GCS, Azure Blob) through the project's
object-store layer, reads it back streamed and ranged, verifies its sha256, and deletes it.
One mapped task per region; results go to the Pushgateway (`multiregion_smoke_*`).

Params: `regions` — limit the check to these region names (default: all in the topology).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(seconds=10)}


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smoke", "storage", "multi-region"],
    doc_md=__doc__,
    params={"regions": Param([], type="array", items={"type": "string"}, description="Regions to check (empty: all)")},
)
def smoke_object_stores():
    @task
    def regions_to_check(params=None) -> list[str]:
        """Resolve the `regions` param against the topology (fails fast on an unknown region)."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.regions import select_regions

        with fail_fast_on_bad_input():
            return [r.name for r in select_regions(params["regions"])]

    @task(map_index_template="{{ region_name }}")
    def check_store(region: str) -> dict:
        """Write, read back (streamed and ranged) and verify an object in the region's store."""
        from airflow.sdk import get_current_context

        from multiregion.ops.smoke import check_region_store

        get_current_context()["region_name"] = region  # names the mapped task in the UI

        return check_region_store(region)

    @task
    def summarize(results: list[dict]) -> dict:
        """One line per run: which regions were verified and how many bytes."""
        from multiregion.ops.smoke import summarize

        return summarize(list(results))

    summarize(check_store.expand(region=regions_to_check()))


smoke_object_stores()
