"""
### Replicate datasets across regions (S3 ⇄ GCS ⇄ Azure Blob)

For each requested (dataset, partition), `plan` scans the source partition into a manifest
(sha256 of every object, Arrow schema, row count) and publishes it in the source region. Then,
mapped over every (dataset, partition, destination region):

1. `replicate` copies only the objects the destination lacks — streamed, objects in parallel,
   large objects in parts, each verified by digest before it counts — from the region holding
   the version with the cheapest egress (config/egress_prices.yaml);
2. `validate` runs Great Expectations on the replica (schema and row count equal to the source
   manifest, plus the dataset's expectations from config/datasets.yaml); a failure alerts ops;
3. `publish` writes the manifest, then the pointer readers follow (atomic), emits an Asset event
   for the replica, and garbage-collects superseded versions.

`report` records bytes per cloud route (for the cost analyzer) and pushes metrics.

**Triggers**: nightly at 02:00 UTC (every dataset, the logical date's partition — so a backfill
replicates each date's partition); an Asset event on a dataset's source Asset
(`extra: {"partition": "YYYY-MM-DD"}`); or manually with params.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import (
    Asset,
    AssetAlias,
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    dag,
    task,
    task_group,
)

from multiregion.dagconfig import dataset_source_assets, date_list_param, region_list_param

REPLICA_ALIAS = AssetAlias("dataset-replicas")
DEFAULT_ARGS = {"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(seconds=15)}
SOURCES = dataset_source_assets()  # {dataset name: Asset of its source prefix}


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 2 * * *", timezone="UTC"), assets=AssetAny(*SOURCES.values())
    ),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["replication", "datasets", "multi-region"],
    doc_md=__doc__,
    params={
        "dataset": Param("", type="string", enum=["", *SOURCES], description="Dataset (empty: all, nightly)"),
        "partitions": date_list_param("Dates YYYY-MM-DD"),
        "regions": region_list_param("Targets (empty: all)"),
    },
)
def replicate_dataset():
    @task
    def plan(params=None, triggering_asset_events=None, dag_run=None) -> list[dict]:
        """Resolve what to replicate; scan each source partition into a manifest (fails fast on bad input)."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.replicate_dataset import plan

        events = []
        for asset, asset_events in (triggering_asset_events or {}).items():
            name = getattr(asset, "name", "").removeprefix("dataset-source/")
            events += [{"dataset": name, "partition": (e.extra or {}).get("partition")} for e in asset_events]
        with fail_fast_on_bad_input():
            return plan(dict(params), events, dag_run.logical_date)

    @task_group
    def replicate_region(item: dict):
        """One (dataset, partition, region): copy, validate, publish — independent of the others."""

        @task
        def replicate(item: dict) -> dict:
            """Copy the objects the destination lacks, verified by digest, from the cheapest holder."""
            from multiregion.ops.replicate_dataset import replicate

            return replicate(item)

        @task
        def validate(item: dict) -> dict:
            """Great Expectations on the replica; a failure alerts ops and stops publication."""
            from multiregion.ops.failfast import fail_fast_on_bad_input
            from multiregion.ops.replicate_dataset import validate

            with fail_fast_on_bad_input():
                return validate(item)

        @task(outlets=[REPLICA_ALIAS])
        def publish(item: dict, outlet_events=None) -> dict:
            """Manifest, then pointer (atomic); Asset event for the replica; garbage collection."""
            from multiregion.ops.failfast import fail_fast_on_bad_input
            from multiregion.ops.replicate_dataset import publish

            with fail_fast_on_bad_input():
                result = publish(item)
            outlet_events[REPLICA_ALIAS].add(
                Asset(name=f"dataset-replica/{item['dataset']}/{item['region']}", uri=result["replica_uri"]),
                extra={k: result[k] for k in ("dataset", "partition", "region", "version", "published_at")},
            )
            return result

        return publish(validate(replicate(item)))

    @task(trigger_rule="all_done")
    def report(items: list[dict], published: list[dict], run_id=None) -> dict:
        """Bytes per cloud route (for the cost analyzer) and metrics; fails the run if a replica wasn't published."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.replicate_dataset import report

        with fail_fast_on_bad_input():
            return report(None if items is None else list(items), [p for p in (published or []) if p], run_id)

    items = plan()
    report(items, replicate_region.expand(item=items))


replicate_dataset()
