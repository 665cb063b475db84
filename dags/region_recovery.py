"""
### Region recovery and staged traffic restoration

Started by `region_failover` for each region it drained (or by hand, from the UI, for one region):

1. `prepare` — validate the region; read its recorded original weight (the restoration target);
2. `restart` — a Kubernetes rollout restart of its serving deployment (in the local world the
   kube-api emulator restarts the serving process), skipped when it already answers healthy or
   when `restart` is false (an outage a restart can't fix: wait for it);
3. `wait_healthy` — deferrable: continuously healthy for `hold_s` (the hold period);
4. `resync` — replicate what it missed: the serving model's alias (`replicate_model`) and every
   dataset partition published at the source that it lacks (`replicate_dataset`), waited for;
5. `restore` — traffic back in stages (`steps`, % of the recorded weight), each held `step_hold_s`
   and gated on health and the Prometheus error rate; a regression rolls back to 0 and alerts
   (`RestoreRolledBack`); the end resolves `RegionDrained` and sends `RegionRestored`.

One recovery at a time (`max_active_runs=1`): traffic changes are serialized anyway.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from multiregion.dagconfig import HEALTH_POLICY, region_names
from multiregion.notifiers.alertmanager import task_failed_notifier
from multiregion.operators.traffic import StagedRestoreOperator
from multiregion.sensors.health import RegionHealthySensor

DEFAULT_ARGS = {
    "owner": "ml-platform",
    "retries": 1,
    "retry_delay": pendulum.duration(seconds=5),
    "on_failure_callback": task_failed_notifier("RecoveryTaskFailed"),
}


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # steps stay a list, numbers stay numbers
    default_args=DEFAULT_ARGS,
    tags=["failover", "recovery", "traffic", "multi-region"],
    doc_md=__doc__,
    params={
        "region": Param(region_names()[0], type="string", enum=region_names(), description="Region to recover"),
        "hold_s": Param(30, type="number", minimum=0, description="Healthy this long before traffic returns"),
        "step_hold_s": Param(30, type="number", minimum=0, description="Hold of each restoration step"),
        "steps": Param([10, 25, 50, 100], type="array", items={"type": "integer", "minimum": 1, "maximum": 100}),
        "max_error_rate": Param(0.05, type="number", minimum=0, maximum=1, description="Gate on errors"),
        "restart": Param(True, type="boolean", description="Restart its serving (else wait for it to return)"),
        "resync": Param(True, type="boolean", description="Replicate missed models and datasets first"),
        "timeout_s": Param(900, type="number", minimum=1, description="Give up waiting for health after"),
    },
)
def region_recovery():
    @task.short_circuit
    def prepare(params=None) -> dict:
        """Validate; read the restoration target. A region with traffic and no recorded drain
        needs nothing: the rest of the run is skipped."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.recovery import prepare

        with fail_fast_on_bad_input():
            info = prepare(params["region"])
        if not info["needed"]:
            why = "in maintenance" if info.get("maintenance") else "has traffic and no recorded drain"
            logging.getLogger(__name__).info("%s %s: nothing to recover", info["region"], why)
            return False
        return info

    @task
    def restart(info: dict, params=None) -> str:
        from multiregion.ops.recovery import restart_if_down

        if not params["restart"]:
            return "restart disabled: waiting for the region to come back by itself"
        return restart_if_down(info["region"], info["endpoint"])

    wait_healthy = RegionHealthySensor(
        task_id="wait_healthy",
        region="{{ params.region }}",
        endpoint="{{ ti.xcom_pull(task_ids='prepare')['endpoint'] }}",
        hold_s="{{ params.hold_s }}",
        timeout_s="{{ params.timeout_s }}",
        health_policy=HEALTH_POLICY,
    )

    @task
    def resync_plan(params=None, run_id=None) -> list[dict]:
        from multiregion.ops.recovery import resync_requests

        return resync_requests(params["region"], run_id) if params["resync"] else []

    plan = resync_plan()
    resync = TriggerDagRunOperator.partial(
        task_id="resync",
        wait_for_completion=True,
        deferrable=True,
        poke_interval=5,
        allowed_states=["success"],
        failed_states=["failed"],
        retries=0,
    ).expand_kwargs(plan)

    restore = StagedRestoreOperator(
        task_id="restore",
        region="{{ params.region }}",
        steps="{{ params.steps }}",
        step_hold_s="{{ params.step_hold_s }}",
        max_error_rate="{{ params.max_error_rate }}",
        health_policy=HEALTH_POLICY,
        retries=0,  # a rolled-back restoration is not retried blindly: ops decide
        trigger_rule="none_failed",  # an empty resync (nothing missed) is skipped, not failed
    )

    info = prepare()
    restart(info) >> wait_healthy >> plan
    resync >> restore


region_recovery()
