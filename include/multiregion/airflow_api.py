"""Airflow's REST API v2 through the official client (``apache-airflow-client``), for pipelines,
scripts and tests: the client's API groups, logged in, plus the few waits every caller needs.

The official client has no helper for Airflow 3's token endpoint, so ``login`` asks ``/auth/token``
for a JWT and the client sends it as a Bearer token. Results are the client's models as plain
JSON dicts (``plain``: the API's own field names, nulls kept).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from airflow_client.client import (
    ApiClient,
    AssetApi,
    Configuration,
    DAGApi,
    DagRunApi,
    ImportErrorApi,
    TaskInstanceApi,
    VariableApi,
    XComApi,
)
from airflow_client.client.exceptions import ApiException, ConflictException, NotFoundException
from airflow_client.client.models import DAGPatchBody, TriggerDAGRunPostBody, VariableBody

TERMINAL_STATES = {"success", "failed"}
ENV_URL, ENV_USER, ENV_PASSWORD = "MR_AIRFLOW_URL", "MR_AIRFLOW_USER", "MR_AIRFLOW_PASSWORD"


class AirflowApiError(RuntimeError):
    pass


def login(base_url: str, username: str, password: str, timeout: float = 30.0) -> str:
    """A JWT from Airflow's token endpoint (SimpleAuthManager and FAB serve ``POST /auth/token``)."""
    try:
        resp = httpx.post(f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise AirflowApiError(f"cannot reach Airflow at {base_url}: {exc}") from exc
    if resp.status_code not in (200, 201):
        raise AirflowApiError(f"login to {base_url} as {username!r} failed: {resp.status_code} {resp.text[:200]}")
    return resp.json()["access_token"]


def describe(exc: ApiException) -> str:
    """``HTTP 400: <detail>`` from an API error (the server's JSON detail when it sent one)."""
    import json

    detail: Any = exc.body
    with contextlib.suppress(ValueError, AttributeError):
        detail = json.loads(exc.body or "").get("detail", exc.body)
    return f"HTTP {exc.status}: {str(detail)[:600]}"


def plain(model: Any) -> dict[str, Any]:
    """A response model as the API's JSON (field names, nulls and enum values as sent)."""
    return model.model_dump(mode="json", by_alias=True)


@dataclass
class AirflowClient:
    base_url: str
    username: str
    password: str
    timeout: float = 30.0
    _api: ApiClient | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls) -> AirflowClient:
        """From ``MR_AIRFLOW_URL``, ``MR_AIRFLOW_USER`` (default admin) and ``MR_AIRFLOW_PASSWORD``."""
        missing = [v for v in (ENV_URL, ENV_PASSWORD) if not os.environ.get(v)]
        if missing:
            raise AirflowApiError(
                f"set {' and '.join(missing)} to reach your Airflow (in the local world: "
                '`eval "$(scripts/world.sh env)"` exports them)'
            )
        return cls(os.environ[ENV_URL].rstrip("/"), os.environ.get(ENV_USER, "admin"), os.environ[ENV_PASSWORD])

    @property
    def api(self) -> ApiClient:
        if self._api is None:
            token = login(self.base_url, self.username, self.password, self.timeout)
            self._api = ApiClient(Configuration(host=self.base_url, access_token=token))
        return self._api

    # the official client's API groups
    @property
    def dags(self) -> DAGApi:
        return DAGApi(self.api)

    @property
    def dag_runs(self) -> DagRunApi:
        return DagRunApi(self.api)

    @property
    def task_instances_api(self) -> TaskInstanceApi:
        return TaskInstanceApi(self.api)

    @property
    def assets(self) -> AssetApi:
        return AssetApi(self.api)

    @property
    def xcom(self) -> XComApi:
        return XComApi(self.api)

    # --- the calls scripts and tests make, as plain dicts -------------------------------------
    def get_dag(self, dag_id: str) -> dict[str, Any]:
        return plain(self.dags.get_dag(dag_id))

    def pause(self, dag_id: str, paused: bool = True) -> None:
        self.dags.patch_dag(dag_id, DAGPatchBody(is_paused=paused))

    def unpause(self, dag_id: str) -> None:
        self.pause(dag_id, paused=False)

    def runs(self, dag_id: str, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        page = self.dag_runs.get_dag_runs(
            dag_id, order_by=["-run_after"], state=[state] if state else None, limit=limit
        )
        return [plain(r) for r in page.dag_runs]

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return plain(self.dag_runs.get_dag_run(dag_id, run_id))

    def find_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        try:
            return self.get_run(dag_id, run_id)
        except NotFoundException:
            return None

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        """Trigger a run; with ``run_id``, triggering again returns the existing run instead of a new one.
        A conf the DAG's params reject raises ``AirflowApiError`` (HTTP 400) and creates no run."""
        body = TriggerDAGRunPostBody(dag_run_id=run_id, logical_date=None, conf=conf or {})
        try:
            return plain(self.dag_runs.trigger_dag_run(dag_id, body))
        except ConflictException:
            if run_id:
                return self.get_run(dag_id, run_id)
            raise
        except ApiException as exc:
            raise AirflowApiError(f"trigger {dag_id}: {describe(exc)}") from exc

    def wait(self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 2.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(dag_id, run_id)
            if run["state"] in TERMINAL_STATES:
                return run
            if time.monotonic() > deadline:
                raise AirflowApiError(f"run {dag_id}/{run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        page = self.task_instances_api.get_task_instances(dag_id, run_id, limit=1000)
        return [plain(t) for t in page.task_instances]

    def xcom_value(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The XCom value, or None when the task pushed none."""
        try:
            return self.xcom.get_xcom_entry(dag_id, task_id, run_id, key).actual_instance.value
        except NotFoundException:
            return None

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """The task's log as text: one line per record, exceptions indented below. Read raw: the
        client's ``StructuredLogMessage`` model drops the records' other fields (level, error_detail)."""
        import json

        resp = self.task_instances_api.get_log_without_preload_content(
            dag_id, run_id, task_id, try_number, full_content=True, map_index=map_index, accept="application/json"
        )
        if resp.status >= 400:
            raise AirflowApiError(f"log of {dag_id}/{run_id}/{task_id}: HTTP {resp.status}: {resp.data[:300]!r}")
        lines = []
        for record in json.loads(resp.data).get("content") or []:
            if isinstance(record, str):
                lines.append(record)
                continue
            lines.append(" ".join(str(record[k]) for k in ("timestamp", "level", "event") if record.get(k)))
            for err in record.get("error_detail") or []:
                lines.append(f"    {err.get('exc_type')}: {err.get('exc_value')}")
        return "\n".join(lines)

    def set_variable(self, key: str, value: Any) -> None:
        import json

        body = VariableBody(key=key, value=json.dumps(value))
        try:
            VariableApi(self.api).patch_variable(key, body)
        except NotFoundException:
            VariableApi(self.api).post_variable(body)

    def import_errors(self) -> list[dict[str, Any]]:
        return [plain(e) for e in ImportErrorApi(self.api).get_import_errors().import_errors]

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id`` into the database."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get_dag(dag_id)
            except NotFoundException:
                if time.monotonic() > deadline:
                    raise AirflowApiError(
                        f"DAG {dag_id} not parsed after {timeout:.0f}s; import errors: {self.import_errors()}"
                    ) from None
            time.sleep(2)

    def asset_events(self, **filters: Any) -> list[dict[str, Any]]:
        return [plain(e) for e in self.assets.get_asset_events(limit=100, **filters).asset_events]
