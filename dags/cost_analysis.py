"""
### Nightly multi-cloud cost analysis on the clouds' FOCUS exports

Nightly (`schedule` in config/cost.yaml) after the exports of the day before landed:

1. `plan` — the charge days: the trailing window (`window_days`) and the open billing period, or
   `start`..`end` for a backfill; the clouds (param `clouds`, default all).
2. `ingest` (one task per cloud) — that cloud's export where it delivers it (AWS Data Exports in S3,
   Azure FocusCost in Blob, Google's FOCUS view exported to GCS), complete deliveries only;
   normalized to FOCUS 1.2, staged per charge day. An unusable export alerts `CostExportMissing` /
   `CostExportInvalid`.
3. `publish` — every cloud's staged rows checked by a Great Expectations suite of the FOCUS column
   rules, then each day's new version in the central store (manifest, then pointer): an unchanged
   day writes nothing, a restated day becomes a new version, a failed cloud keeps its previous file.
4. `analyse` — cost by cloud, region, service, cost tags; egress and replication's share (route
   ledger); anomalies (`CostAnomaly`); spot; Cost Explorer cross-check; scale-down windows.
5. `report` — the HTML report (its URL in the log), `multiregion_cost_*` metrics; fails the run if
   an export was unusable (after everything else was done).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from multiregion.dagconfig import cost_config

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(minutes=1)}
DATE = r"^$|^\d{4}-\d{2}-\d{2}$"


@dag(
    schedule=cost_config().schedule,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one writer of the day pointers
    default_args=DEFAULT_ARGS,
    tags=["cost", "finops", "multi-region"],
    doc_md=__doc__,
    params={
        "start": Param("", type="string", pattern=DATE, description="Backfill from (YYYY-MM-DD; empty: nightly)"),
        "end": Param("", type="string", pattern=DATE, description="Backfill to (inclusive)"),
        "clouds": Param([], type="array", items={"type": "string", "enum": sorted(cost_config().clouds)},
                        description="Clouds (empty: all)"),
    },
)  # fmt: skip
def cost_analysis():
    @task
    def plan(params=None, dag_run=None) -> dict:
        from multiregion.ops.cost import plan
        from multiregion.ops.failfast import fail_fast_on_bad_input

        with fail_fast_on_bad_input():
            # the nightly run analyses the days before the one it runs on; a run of Airflow's own
            # backfill (`airflow backfill create`) the day before its logical date
            backfill_of = dag_run.logical_date.date().isoformat() if dag_run.run_type == "backfill" else ""
            today = dag_run.run_after.date().isoformat()
            return plan(today, params["start"], params["end"], params["clouds"], backfill_of)

    @task
    def clouds(planned: dict) -> list[str]:
        return planned["clouds"]

    @task(map_index_template="{{ cloud }}")
    def ingest(cloud: str, planned: dict) -> dict:
        from multiregion.ops.cost import ingest

        return ingest(cloud, planned)

    @task(trigger_rule="all_done")  # a cloud whose ingest failed keeps its previous files
    def publish(results: list, planned: dict) -> dict:
        from multiregion.ops.cost import publish

        return publish(list(results), planned)

    @task
    def analyse(planned: dict, published: dict) -> dict:
        from multiregion.ops.cost import analyse

        return analyse(planned, published)

    @task
    def report(result: dict, run_id=None) -> dict:
        from multiregion.ops.cost import report
        from multiregion.ops.failfast import fail_fast_on_bad_input

        with fail_fast_on_bad_input():
            return report(result, run_id)

    planned = plan()
    published = publish(ingest.partial(planned=planned).expand(cloud=clouds(planned)), planned)
    report(analyse(planned, published))


cost_analysis()
