"""A small client for Airflow 3's public REST API (JWT auth), for pipelines, scripts and tests.

Training pipelines use it to trigger a DAG with an idempotent run id and wait for the result.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

TERMINAL_STATES = {"success", "failed"}


class AirflowApiError(RuntimeError):
    pass


@dataclass
class AirflowClient:
    base_url: str
    username: str
    password: str
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            resp = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=self.timeout,
            )
            if resp.status_code not in (200, 201):
                raise AirflowApiError(
                    f"login to {self.base_url} as {self.username!r} failed: {resp.status_code} {resp.text[:200]}"
                )
            self._token = resp.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        url = f"{self.base_url}/api/v2{path}"
        resp = httpx.request(
            method, url, headers={**self._headers(), **(headers or {})}, timeout=self.timeout, **kwargs
        )
        if resp.status_code == 401:  # token expired: log in again once
            self._token = None
            resp = httpx.request(
                method, url, headers={**self._headers(), **(headers or {})}, timeout=self.timeout, **kwargs
            )
        return resp

    def _json(self, resp: httpx.Response, what: str) -> Any:
        if resp.status_code >= 400:
            raise AirflowApiError(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    def get_dag(self, dag_id: str) -> dict[str, Any]:
        return self._json(self.request("GET", f"/dags/{dag_id}"), f"get DAG {dag_id}")

    def unpause(self, dag_id: str) -> None:
        self._json(self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False}), f"unpause {dag_id}")

    def pause(self, dag_id: str) -> None:
        self._json(self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": True}), f"pause {dag_id}")

    def runs(self, dag_id: str, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"order_by": "-run_after", "limit": limit}
        if state:
            params["state"] = state
        return self._json(self.request("GET", f"/dags/{dag_id}/dagRuns", params=params), f"runs of {dag_id}")[
            "dag_runs"
        ]

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        resp = self.request("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": state})
        self._json(resp, f"set {dag_id}/{run_id} {state}")

    def set_variable(self, key: str, value: Any) -> None:
        body = {"key": key, "value": json.dumps(value)}
        resp = self.request("PATCH", f"/variables/{key}", json=body)
        if resp.status_code == 404:
            resp = self.request("POST", "/variables", json=body)
        self._json(resp, f"set variable {key}")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        """Trigger a run; with ``run_id``, triggering again returns the existing run instead of a new one."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        resp = self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)
        if resp.status_code == 409 and run_id:
            return self.get_run(dag_id, run_id)
        return self._json(resp, f"trigger {dag_id}")

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json(self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}"), f"get run {dag_id}/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self._json(
            self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}),
            f"task instances of {dag_id}/{run_id}",
        )
        return data["task_instances"]

    def wait(self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 2.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(dag_id, run_id)
            if run["state"] in TERMINAL_STATES:
                return run
            if time.monotonic() > deadline:
                raise AirflowApiError(f"run {dag_id}/{run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(poll)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        resp = self.request("GET", path, params={"map_index": map_index}, headers={"Accept": "application/x-ndjson"})
        if resp.status_code >= 400:
            raise AirflowApiError(f"log of {dag_id}/{run_id}/{task_id}: HTTP {resp.status_code}: {resp.text[:300]}")
        lines = []
        for raw in resp.text.splitlines():
            try:
                record = json.loads(raw)
            except ValueError:
                lines.append(raw)
                continue
            lines.append(" ".join(str(record[k]) for k in ("timestamp", "level", "event") if record.get(k)))
            for err in record.get("error_detail") or []:
                lines.append(f"    {err.get('exc_type')}: {err.get('exc_value')}")
        return "\n".join(lines)

    def import_errors(self) -> list[dict[str, Any]]:
        return self._json(self.request("GET", "/importErrors"), "list import errors")["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id`` into the database."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.request("GET", f"/dags/{dag_id}")
            if resp.status_code == 200:
                return resp.json()
            if time.monotonic() > deadline:
                errors = self.import_errors()
                raise AirflowApiError(f"DAG {dag_id} not parsed after {timeout:.0f}s; import errors: {errors}")
            time.sleep(2)
