"""
### Object-store smoke check

For every region's store (S3, GCS, Azure Blob), through the project's object-store layer:

1. `write_probe` streams a 3 MiB probe object (several parts) into the store, while
2. `wait_visible`, a deferrable sensor, waits in the **triggerer** until the object is visible;
3. `verify_probe` reads it back streamed and ranged, verifies its sha256, deletes it, and pushes
   `multiregion_smoke_*` metrics to the Pushgateway.

Tasks are mapped per region. Params: `regions` limits the check to these region names (default: all).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from multiregion.dagconfig import region_list_param
from multiregion.sensors.stores import ObjectVisibleSensor

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(seconds=10)}


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smoke", "storage", "multi-region"],
    doc_md=__doc__,
    params={"regions": region_list_param("Regions (empty: all)")},
)
def smoke_object_stores():
    @task
    def probe_targets(params=None, run_id=None) -> list[dict]:
        """Resolve the `regions` param against the topology (bad input fails at once, no retries)."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.smoke import probe_targets

        with fail_fast_on_bad_input():
            return probe_targets(params["regions"], run_id)

    @task(map_index_template="{{ target.region }}")
    def write_probe(target: dict, run_id=None) -> dict:
        """Stream the probe object into the region's store."""
        from multiregion.ops.smoke import write_probe

        return write_probe(target, run_id)

    @task(map_index_template="{{ target.region }}")
    def verify_probe(target: dict, run_id=None) -> dict:
        """Read back streamed and ranged, verify sha256, delete, push metrics."""
        from multiregion.ops.smoke import verify_probe

        return verify_probe(target, run_id)

    @task
    def summarize(results: list[dict]) -> dict:
        """Which regions were verified and how many bytes."""
        from multiregion.ops.smoke import summarize

        return summarize(list(results))

    targets = probe_targets()
    written = write_probe.expand(target=targets)
    visible = ObjectVisibleSensor.partial(
        task_id="wait_visible", poll_interval=1.0, timeout=300, map_index_template="{{ task.key }}"
    ).expand_kwargs(targets.map(lambda t: {k: t[k] for k in ("kind", "conn_id", "bucket", "key", "expected_size")}))
    verified = verify_probe.expand(target=targets)
    [written, visible] >> verified
    summarize(verified)


smoke_object_stores()
