"""
### Region failover (event-driven)

Scheduled on the `region-health` Asset, whose **watcher** — a trigger running in the triggerer,
holding no worker — probes every region's serving endpoint every second and fires an event when
a region's health changes (3 failures in a row: unhealthy; 3 successes: healthy again).
Every run reconciles from the persisted health (several events can land in one run):

1. `drain` — for each unhealthy region that still has traffic: record the current weights, set
   the region's weight to 0. **Never drains the last healthy region**; if every region looks
   unhealthy nothing changes (fail open). One traffic change at a time, each audited.
2. `scale_survivors` — scale the regions that took the traffic up (Kubernetes) so their replicas
   per traffic share don't drop (right after the drain: pods take longer to start than a dead
   region should keep receiving users);
3. `verify_dns` — waits until the global DNS no longer answers with the drained regions;
4. `alert_ops` — `RegionDrained` to Alertmanager, refusals as the metric of the `FailoverRefused` rule;
5. `start_recovery` — one `region_recovery` run per drained region (conf overrides from the
   Variable `region_recovery_conf`, e.g. `{"hold_s": 60}`).

**Armed by unpausing this DAG** (paused on creation: the watcher only runs for an unpaused DAG).
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from multiregion.dagconfig import region_health_asset
from multiregion.notifiers.alertmanager import task_failed_notifier
from multiregion.operators.traffic import DrainUnhealthyRegionsOperator

DEFAULT_ARGS = {
    "owner": "ml-platform",
    "retries": 2,
    "retry_delay": pendulum.duration(seconds=2),
    "on_failure_callback": task_failed_notifier("FailoverTaskFailed"),
}


@dag(
    schedule=[region_health_asset()],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one failover at a time; events arriving meanwhile queue the next run
    is_paused_upon_creation=True,
    default_args=DEFAULT_ARGS,
    tags=["failover", "traffic", "multi-region"],
    doc_md=__doc__,
)
def region_failover():
    drain = DrainUnhealthyRegionsOperator(task_id="drain")

    @task
    def scale_survivors(result: dict) -> list[dict]:
        from multiregion.ops.failover import scale_survivors

        return scale_survivors(result)

    @task
    def verify_dns(result: dict) -> dict:
        """The drained regions are gone from what clients resolve."""
        from multiregion.ops.failover import verify_drained

        return verify_drained([e["region"] for e in result["drained"]])

    @task
    def alert_ops(result: dict, run_id=None) -> list[str]:
        from multiregion.ops.failover import alert_ops

        return alert_ops(result, run_id)

    @task
    def recovery_requests(result: dict, run_id=None) -> list[dict]:
        from airflow.sdk import Variable

        from multiregion.ops.failover import recovery_requests

        overrides = Variable.get("region_recovery_conf", default={}, deserialize_json=True)
        return [{**r, "conf": {**overrides, **r["conf"]}} for r in recovery_requests(result, run_id)]

    requests = recovery_requests(drain.output)
    scale_survivors(drain.output)  # a failure alerts (callback) but doesn't hold recovery back
    [verify_dns(drain.output), alert_ops(drain.output)] >> requests
    TriggerDagRunOperator.partial(task_id="start_recovery", trigger_dag_id="region_recovery").expand_kwargs(requests)


region_failover()
