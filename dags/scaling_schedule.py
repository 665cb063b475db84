"""
### Scaling schedules for regional serving (that never starve a failover)

Every few minutes (`interval` in config/scaling.yaml), for each Deployment with a schedule
(config/scaling.yaml, overridden per Deployment by `scaling.multiregion.io/*` annotations):

1. `decide` — reads every region's health, traffic weights, restorations in progress and request
   rates (Prometheus), and decides each Deployment's replicas (`core.scaling`: excluded → grace →
   uptime restores → suspended while any region is unhealthy, drained or being restored →
   downtime down to max(downtime replicas, min replicas, failover headroom));
2. `apply` — records the original replicas on the Deployment before scaling it down, restores from
   that record, through the Kubernetes scale subresource; one audit row (`scaling_audit`) and one
   metric per change; a failed call alerts `ScalingFailed`.

Params: `dry_run` (report only; default from the config), `now` (an ISO instant to decide at,
e.g. to preview a night: never waits), `regions`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from multiregion.dagconfig import region_list_param, scaling_interval

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 1, "retry_delay": pendulum.duration(seconds=30)}


@dag(
    schedule=scaling_interval(),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one scaling pass at a time
    default_args=DEFAULT_ARGS,
    tags=["scaling", "cost", "kubernetes", "multi-region"],
    doc_md=__doc__,
    params={
        "dry_run": Param(None, type=["null", "boolean"], description="Report only (empty: the config's dry_run)"),
        "now": Param("", type="string", pattern=r"^$|^\d{4}-\d{2}-\d{2}T", description="Decide at (ISO, offset)"),
        "regions": region_list_param("Regions (empty: all)"),
    },
)
def scaling_schedule():
    @task
    def decide(params=None) -> dict:
        """Each scheduled Deployment's desired replicas, with the reason."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.scaling import plan

        with fail_fast_on_bad_input():
            return plan(params["now"] or None, params["regions"])

    @task
    def apply(planned: dict, params=None, run_id=None) -> dict:
        """Scale what changes (or only report, in a dry run); audit and push a metric per change."""
        from multiregion.ops.scaling import apply

        dry_run = planned["dry_run_default"] if params["dry_run"] is None else params["dry_run"]
        return apply(planned, dry_run, run_id)

    apply(decide())


scaling_schedule()
