"""
### Replicate on registration: the primary registry's MLflow webhooks

Scheduled on the `model-registry-events` Asset, on which the project's plugin endpoint
(`POST /multiregion/webhooks/mlflow`, HMAC-verified) records every delivery of the primary
registry. Several deliveries can land in one run; each becomes its own `replicate_model` run,
whose run id is derived from the delivery id (a redelivery starts nothing new):

- `model_version.created` → the version is copied, registered and verified in every region,
  **no alias moves** (staged, ready to serve);
- `model_version_alias.created` (e.g. `champion` on v7) → that alias moves to that version in
  every region, with the two-phase promotion (all regions or none).

The primary registry stays the source of truth for what serves; no pipeline code is needed.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from multiregion.dagconfig import registry_events_asset

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(seconds=5)}


@dag(
    schedule=[registry_events_asset()],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["replication", "models", "webhooks", "multi-region"],
    doc_md=__doc__,
)
def model_registry_events():
    @task
    def replication_requests(triggering_asset_events=None) -> list[dict]:
        """One replicate_model run per delivery, in the order they arrived."""
        from multiregion.ops.registry_events import replication_requests

        extras = [e.extra or {} for events in (triggering_asset_events or {}).values() for e in events]
        return replication_requests(extras)

    TriggerDagRunOperator.partial(
        task_id="replicate",
        trigger_dag_id="replicate_model",
        skip_when_already_exists=True,  # a redelivered event names the same run
    ).expand_kwargs(replication_requests())


model_registry_events()
