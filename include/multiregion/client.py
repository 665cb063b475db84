"""Client for training pipelines: replicate a registered model to every region and wait.

    python -m multiregion.client replicate-model --model churn-classifier --version 7 [--alias-to champion]
    python -m multiregion.client wait-registered --model churn-classifier --version 7 [--alias champion]

or from Python::

    from multiregion.client import replicate_model
    result = replicate_model("churn-classifier", version="7")

The run id is derived from (model, version or alias, promote alias), so a pipeline that retries
its call attaches to the same run instead of starting a second one. Configuration comes from
MR_AIRFLOW_URL, MR_AIRFLOW_USER (default admin) and MR_AIRFLOW_PASSWORD; in the local world
``eval "$(scripts/world.sh env)"`` exports them. It talks to Airflow through the official
``apache-airflow-client`` (``multiregion.airflow_api``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from multiregion.airflow_api import AirflowApiError, AirflowClient
from multiregion.core.naming import safe_name

DAG_ID = "replicate_model"


@dataclass(frozen=True)
class ReplicationResult:
    run_id: str
    state: str
    seconds: float
    promoted: dict[str, Any] | None
    failed_tasks: list[str]


def run_id_for(model: str, version: str | None, alias: str | None, promote_alias: str) -> str:
    ref = f"v{version}" if version else f"alias-{alias}"
    raw = f"replicate-model__{model}__{ref}__to-{promote_alias}"
    return safe_name(raw)


def replicate_model(
    model: str,
    version: str | None = None,
    alias: str | None = None,
    promote_alias: str = "champion",
    timeout: float = 1800,
    client: AirflowClient | None = None,
    run_id: str | None = None,
) -> ReplicationResult:
    """Trigger (or re-attach to) the replication of ``model`` and wait for its outcome."""
    client = client or AirflowClient.from_env()
    run_id = run_id or run_id_for(model, version, alias, promote_alias)
    conf = {"model": model, "version": version or "", "alias": alias or "", "promote_alias": promote_alias}
    started = time.monotonic()
    run_id = _attempt_run_id(client, run_id)
    client.trigger(DAG_ID, conf=conf, run_id=run_id)
    run = client.wait(DAG_ID, run_id, timeout=timeout)
    return _result(client, run_id, run, started)


def _result(client: AirflowClient, run_id: str, run: dict[str, Any], started: float) -> ReplicationResult:
    tis = client.task_instances(DAG_ID, run_id)
    promoted = client.xcom_value(DAG_ID, run_id, "promote") if run["state"] == "success" else None
    failed = [f"{t['task_id']}[{t['rendered_map_index'] or ''}]" for t in tis if t["state"] == "failed"]
    return ReplicationResult(run_id, run["state"], time.monotonic() - started, promoted, failed)


def _attempt_run_id(client: AirflowClient, base: str) -> str:
    """The run to attach to: the latest attempt unless it failed, then a new attempt (after a fix)."""
    attempt, run_id = 1, base
    while True:
        run = client.find_run(DAG_ID, run_id)
        if run is None or run["state"] != "failed":
            return run_id
        attempt += 1
        run_id = f"{base}__attempt-{attempt}"


def wait_for_registry_replication(
    model: str, version: str, alias: str | None = None, timeout: float = 1800, client: AirflowClient | None = None
) -> ReplicationResult:
    """Wait for the replication the primary registry's webhook started for ``model`` v``version``
    (staged), or for ``alias`` set on it (promoted): for pipelines that rely on the webhook."""
    from multiregion.core.registry_events import run_id_prefix

    client = client or AirflowClient.from_env()
    prefix, started = run_id_prefix(model, version, alias), time.monotonic()
    while True:
        runs = [r for r in client.runs(DAG_ID, limit=100) if r["dag_run_id"].startswith(prefix)]
        if runs:
            break
        if time.monotonic() - started > min(timeout, 300):
            raise AirflowApiError(f"no replicate_model run {prefix}* : is the registry webhook registered?")
        time.sleep(2)
    run_id = runs[0]["dag_run_id"]
    run = client.wait(DAG_ID, run_id, timeout=max(1.0, timeout - (time.monotonic() - started)))
    return _result(client, run_id, run, started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multiregion.client", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("replicate-model", help="replicate a model version to every region and promote it")
    rep.add_argument("--model", required=True)
    ref = rep.add_mutually_exclusive_group(required=True)
    ref.add_argument("--version")
    ref.add_argument("--alias", help="resolve this alias in the primary registry")
    rep.add_argument("--alias-to", default="champion", help="alias to move in every region (default: champion)")
    rep.add_argument("--run-id", help="idempotency key (default: derived from model, version/alias, alias-to)")
    rep.add_argument("--timeout", type=float, default=1800)
    hook = sub.add_parser("wait-registered", help="wait for the replication the registry's webhook started")
    hook.add_argument("--model", required=True)
    hook.add_argument("--version", required=True)
    hook.add_argument("--alias", help="the alias set on the version in the primary registry (default: staged)")
    hook.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    try:
        if args.command == "wait-registered":
            result = wait_for_registry_replication(args.model, args.version, args.alias, args.timeout)
        else:
            result = replicate_model(
                args.model, args.version, args.alias, args.alias_to, args.timeout, run_id=args.run_id
            )
    except AirflowApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.__dict__, indent=2, default=str))
    return 0 if result.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
