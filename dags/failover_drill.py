"""
### Failover drill: take a region out on purpose, measure, hand it back

Paused until armed (unpause it to run on its off-peak schedule, Tuesdays 04:00 UTC); runnable by
hand with params. It **refuses** unless every region is healthy, at its original weight, out of
maintenance and of scaling downtime, and failover is armed (the health watcher reporting); a
scheduled run over an hour late (the slot Airflow catches up on when the DAG is unpaused) too.

1. `preflight`: the region (param, else the next in turn) and the conditions above.
2. `take_out`: its serving Deployment scaled to 0 through Kubernetes (default), or a maintenance drain.
3. `observe`: a probe client follows DNS like a user; the drill waits until the region is detected,
   drained and out of DNS.
4. `hand_back` (always, even when a task before it failed): replicas back, or maintenance ended;
   recovery restores the traffic in stages, and the drill waits for it.
5. `record`: detection, drain, DNS, client outage (RTO) and restoration times and the clients' error
   rate go to the state store (`drill_results`) and the Pushgateway (`multiregion_drill_*`);
   `DrillRTOMissed` fires when the RTO is over `rto_objective_s`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from multiregion.dagconfig import region_names

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": pendulum.duration(seconds=20)}


@dag(
    schedule="0 4 * * 2",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
    default_args=DEFAULT_ARGS,
    tags=["failover", "drill", "multi-region"],
    doc_md=__doc__,
    params={
        "region": Param("", type="string", enum=["", *region_names()], description="Region (empty: next in turn)"),
        "method": Param("scale_to_zero", type="string", enum=["scale_to_zero", "maintenance"]),
        "rto_objective_s": Param(120, type="number", exclusiveMinimum=0, description="RTO objective (s)"),
    },
)
def failover_drill():
    @task(retries=0)
    def preflight(params=None, run_id=None, dag_run=None) -> dict:
        """Refuse unless the platform is fit for a drill (and a scheduled run is in its slot); pick the region."""
        from multiregion.ops.drill import preflight
        from multiregion.ops.failfast import fail_fast_on_bad_input

        scheduled = str(getattr(dag_run.run_type, "value", dag_run.run_type)) == "scheduled"
        slot = dag_run.run_after.timestamp() if scheduled else None
        with fail_fast_on_bad_input():
            return preflight({**params, "run_id": run_id, "scheduled_for": slot})

    @task(retries=0)
    def take_out(plan: dict, run_id=None) -> dict:
        """The outage, the way production would have it."""
        from multiregion.ops.drill import take_out

        return take_out(plan, run_id)

    @task(retries=0, execution_timeout=pendulum.duration(minutes=15))
    def observe(taken: dict) -> dict:
        """Detected, drained, out of DNS; the probe client's view."""
        from multiregion.ops.drill import observe
        from multiregion.ops.failfast import fail_fast_on_bad_input

        with fail_fast_on_bad_input():
            return observe(taken)

    @task(trigger_rule="all_done", execution_timeout=pendulum.duration(minutes=45))
    def hand_back(plan: dict | None, taken: dict | None, observed: dict | None, run_id=None) -> dict | None:
        """Always: the region back to recovery, and its restoration timed."""
        from multiregion.ops.drill import hand_back

        return hand_back(plan, taken, observed, run_id)

    @task(trigger_rule="all_done")
    def record(plan: dict | None, result: dict | None, run_id=None) -> dict:
        """Figures to the state store and the Pushgateway; fail if the drill did not complete."""
        from multiregion.ops.drill import record
        from multiregion.ops.failfast import fail_fast_on_bad_input

        with fail_fast_on_bad_input():
            return record(plan, result, run_id)

    plan = preflight()
    taken = take_out(plan)
    observed = observe(taken)
    record(plan, hand_back(plan, taken, observed))


failover_drill()
