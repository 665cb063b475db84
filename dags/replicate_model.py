"""
### Replicate a registered model to every region, then promote it everywhere

Training pipelines call this over the REST API once they register a model version in the
primary registry (see `multiregion.client`). Per region (mapped):

1. copy the version's artifacts store-to-store into the region's artifact store (streamed,
   sha256 verified before commit; a killed copy resumes);
2. register it in the regional MLflow registry with the source's description and tags, plus a
   lineage tag (source registry, model, version, artifact digest) that is the idempotency key —
   a re-run creates no duplicate version;
3. load it from the regional registry and predict on its input example (smoke test).

`promote` moves the alias (default `champion`) in **all** regions only when **every** region
verified; otherwise no alias moves anywhere and the run says which region failed and why. Each
region's serving endpoint follows the alias.

Params: `model`, and exactly one of `version` or `alias`; `promote_alias`; `promote` (false:
register and verify everywhere, move no alias: staged). What a JSON schema can judge (a version is
digits, names and aliases are well-formed) is refused by the REST API with 400 before a run exists.

**Triggers**: REST/UI with params (training pipelines, `multiregion.client`), and the primary
registry's MLflow webhooks, through `model_registry_events`: a new version is staged in every
region, an alias set on the primary moves that alias everywhere.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from multiregion.core.model_lineage import ALIAS_PATTERN, MODEL_NAME_PATTERN, VERSION_PATTERN

DEFAULT_ARGS = {"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(seconds=15)}


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one promotion at a time: aliases never race
    default_args=DEFAULT_ARGS,
    tags=["replication", "models", "multi-region"],
    doc_md=__doc__,
    params={
        "model": Param("churn-classifier", type="string", pattern=MODEL_NAME_PATTERN, description="Registered model"),
        "version": Param("", type="string", pattern=f"^$|{VERSION_PATTERN}", description="Version (or an alias)"),
        "alias": Param("", type="string", pattern=f"^$|{ALIAS_PATTERN}", description="Source alias (or a version)"),
        "promote_alias": Param("champion", type="string", pattern=ALIAS_PATTERN, description="Alias to move"),
        "promote": Param(True, type="boolean", description="Move the alias (false: register everywhere, staged)"),
    },
)
def replicate_model():
    @task
    def resolve(params=None) -> dict:
        """Validate params; resolve the version in the primary registry; digest its artifacts."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.replicate_model import resolve

        with fail_fast_on_bad_input():
            return resolve(dict(params))

    @task
    def regions(spec: dict) -> list[str]:
        """Every region of the topology (the source region verifies and promotes too)."""
        return spec["regions"]

    @task(map_index_template="{{ region }}")
    def replicate_to(spec: dict, region: str, ti=None) -> dict:
        """Copy, register with lineage, smoke-test in one region."""
        from multiregion.ops.replicate_model import replicate_to

        try:
            return replicate_to(spec, region, ti.run_id)
        except Exception as exc:
            # promote (all_done) reads this to say which region failed and why
            ti.xcom_push(key="failure", value={"region": region, "error": f"{type(exc).__name__}: {exc}"[:500]})
            raise

    @task(trigger_rule="all_done")
    def promote(spec: dict, results: list[dict], ti=None) -> dict:
        """Two-phase promotion: the alias moves in every region, or in none."""
        from multiregion.ops.failfast import fail_fast_on_bad_input
        from multiregion.ops.replicate_model import promote

        if spec is None:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException("resolve failed (see its log): nothing replicated, no alias moved")
        pulled = ti.xcom_pull(task_ids="replicate_to", key="failure", map_indexes=range(len(spec["regions"])))
        failures = [f for f in ([pulled] if isinstance(pulled, dict) else pulled or []) if f]
        with fail_fast_on_bad_input():
            return promote(spec, [r for r in (results or []) if r], failures)

    spec = resolve()
    promote(spec, replicate_to.partial(spec=spec).expand(region=regions(spec)))


replicate_model()
