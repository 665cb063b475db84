"""The plugin's FastAPI app: the MLflow registry webhook, and (behind an Airflow login) what it
received and the Regions page's API (``webapp.regions``).

Airflow does not authenticate plugin apps: every route except the webhook depends on an Airflow
login (``requires_authenticated``: the UI's cookie or a Bearer JWT). The webhook authenticates
each delivery by its HMAC signature instead, and answers in milliseconds: it records an Asset
event and returns; ``model_registry_events`` does the work.
"""

from __future__ import annotations

import functools
import logging
import time

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from multiregion.core.errors import BadInputError
from multiregion.core.registry_events import OPT_OUT_TAG, SignatureError, parse_event, verify

log = logging.getLogger(__name__)
WEBHOOK_CONN_ID = "mlflow_webhook"  # its password is the webhook secret
WEBHOOK_SECRET_VARIABLE = "mlflow_webhook_secret"  # the alternative, where connections are managed elsewhere


SECRET_TTL_S = 60.0  # a rotated secret is in effect within a minute; a lookup costs ~0.1 s
_secret_cache: dict[str, tuple[float, str]] = {}


def webhook_secret() -> str:
    """The shared secret, cached for ``SECRET_TTL_S``."""
    cached = _secret_cache.get("secret")
    if cached is None or time.monotonic() - cached[0] > SECRET_TTL_S:
        cached = _secret_cache["secret"] = (time.monotonic(), _lookup_secret())
    return cached[1]


def _lookup_secret() -> str:
    """Connection ``mlflow_webhook``'s password, else Variable ``mlflow_webhook_secret``."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable

    try:
        return Connection.get_connection_from_secrets(WEBHOOK_CONN_ID).password or ""
    except AirflowNotFoundException:
        return Variable.get(WEBHOOK_SECRET_VARIABLE, default_var="") or ""


@functools.cache
def _primary_registry() -> tuple[str, httpx.Client]:
    """The primary registry's URL and one pooled client for it (a new client per call costs ~60 ms)."""
    from multiregion.core.topology import load_topology

    return load_topology().primary.registry.uri.rstrip("/"), httpx.Client(timeout=5.0)


def model_policy(model: str) -> str:
    """``unknown`` (not in the primary registry, the source of truth), ``opted_out`` (its tag
    ``mr.replicate_on_registration`` is ``false``) or ``replicate``."""
    uri, client = _primary_registry()
    resp = client.get(f"{uri}/api/2.0/mlflow/registered-models/get", params={"name": model})
    if resp.status_code == 404 or (resp.status_code == 400 and "RESOURCE_DOES_NOT_EXIST" in resp.text):
        return "unknown"
    resp.raise_for_status()
    tags = {t["key"]: t.get("value") for t in resp.json().get("registered_model", {}).get("tags", [])}
    return "opted_out" if str(tags.get(OPT_OUT_TAG, "")).lower() == "false" else "replicate"


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app() -> FastAPI:
    from airflow.api_fastapi.core_api.security import requires_authenticated

    from multiregion.webapp import regions, registry_events

    app = FastAPI(title="multiregion", description="Multi-region ML platform: registry webhooks, the Regions page")
    public = APIRouter()
    private = APIRouter(dependencies=[Depends(requires_authenticated())])

    @public.post("/webhooks/mlflow", status_code=202)
    async def mlflow_webhook(request: Request):
        """An MLflow registry delivery: verified, turned into an Asset event, answered at once."""
        body = await request.body()
        try:
            secret = await run_in_threadpool(webhook_secret)
            delivery_id = verify(secret, dict(request.headers), body, time.time())
            event = parse_event(body, delivery_id)
        except SignatureError as exc:
            log.warning("refused a registry webhook delivery: %s", exc)
            return _error(401, str(exc))
        except BadInputError as exc:
            return _error(400, f"malformed delivery: {exc}")
        if event is None:
            return {"status": "ignored", "detail": "event not acted on"}
        try:
            policy = await run_in_threadpool(model_policy, event.model)
            if policy == "unknown":
                return _error(404, f"unknown model {event.model!r}: not registered in the primary registry")
            if policy == "opted_out":
                return {"status": "ignored", "detail": f"{event.model} is opted out ({OPT_OUT_TAG}=false)"}
            created, event_id = await run_in_threadpool(registry_events.record, event)
        except httpx.HTTPError as exc:  # MLflow retries a 503
            return _error(503, f"primary registry unreachable: {exc}")
        except registry_events.AssetNotReady as exc:
            return _error(503, str(exc))
        status = "accepted" if created else "duplicate"
        log.info("registry webhook %s: %s %s v%s (%s)", delivery_id, event.event, event.model, event.version, status)
        return {"status": status, "asset_event_id": event_id, "run_id": event.run_id()}

    @private.get("/webhooks/mlflow/deliveries")
    async def deliveries(limit: int = 50):
        """The latest deliveries recorded (login required)."""
        return await run_in_threadpool(registry_events.recent, min(max(limit, 1), 500))

    app.include_router(public)
    app.include_router(private)
    for router in regions.routers():
        app.include_router(router)
    return app
