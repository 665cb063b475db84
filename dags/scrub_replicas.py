"""
### Scrub replicas: integrity at rest, and self-repair

Every night, in every region: each object of every published dataset replica and every recorded
model artifact (regional copies and the primary's originals) is checked against what was recorded
when it was written and verified.

1. **Cheap pass** (all objects, from listings): a missing object, or a size/MD5 other than the
   record's, is bad; a new ETag (rewritten) is read back to know.
2. **Deep pass** (a rotating share): the least recently verified objects are read and hashed, enough
   of them that every object is read within `deep_period_days` (default 7). `deep_all` reads all.
3. **Repair**: a bad object is rewritten from another region's copy with the same sha256 (or the
   dataset's source), verified before commit; the published pointer is untouched and nothing is
   deleted. `ReplicaRepaired` alerts; `ReplicaCorrupt` (critical) when no verified copy exists, and
   the run fails.

Figures per region go to the Pushgateway as `multiregion_scrub_*` (README "Integrity at rest").
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from multiregion.dagconfig import region_names

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": pendulum.duration(minutes=1)}


@dag(
    schedule="20 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["replication", "integrity", "multi-region"],
    doc_md=__doc__,
    params={
        "deep_period_days": Param(7, type="number", exclusiveMinimum=0, description="Read every object within"),
        "deep_all": Param(False, type="boolean", description="Read and hash every object this run"),
    },
)
def scrub_replicas():
    @task(map_index_template="{{ region }}")
    def scrub(region: str, params=None) -> dict:
        """Check one region's replicas (cheap + deep pass) and repair what is bad."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.scrub import scrub_region

        with fail_fast_on_bad_input():
            return scrub_region(region, dict(params))

    @task
    def report(results: list[dict]) -> dict:
        """Push the figures; fail if anything could not be repaired."""
        from multiregion.ops.scrub import summarize

        return summarize(list(results))

    report(scrub.expand(region=region_names()))


scrub_replicas()
