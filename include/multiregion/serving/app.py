"""The serving endpoint's HTTP API (FastAPI): /health, /predict, /metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field

from multiregion.core.topology import Region
from multiregion.serving.model_source import AliasFollower


class PredictRequest(BaseModel):
    # Rows as records: [{"feature": value, ...}, ...] (MLflow's "dataframe_records").
    instances: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


def create_app(region: Region, follower: AliasFollower) -> FastAPI:
    app = FastAPI(title=f"model serving ({region.name})")
    registry = CollectorRegistry()
    labels = {"region": region.name, "model": region.serving.model}
    requests = Counter("multiregion_serving_requests", "Prediction requests", ["region", "status"], registry=registry)
    latency = Histogram("multiregion_serving_latency_seconds", "Prediction latency", ["region"], registry=registry)
    loaded = Gauge("multiregion_serving_model_loaded", "1 if a model is loaded", ["region", "model"], registry=registry)
    version_g = Gauge("multiregion_serving_model_version", "Version served", ["region", "model"], registry=registry)
    for status in ("ok", "bad_input", "no_model"):  # every series exists from the start: rate() is 0, not absent
        requests.labels(region.name, status)
    latency.labels(region.name)

    @app.on_event("startup")
    def _start() -> None:
        follower.start()

    @app.on_event("shutdown")
    def _stop() -> None:
        follower.stop()

    @app.get("/health")
    def health() -> dict[str, Any]:
        current = follower.current
        return {
            "status": "ok",
            "region": region.name,
            "cloud": region.cloud.value,
            "model": region.serving.model,
            "alias": region.serving.alias,
            "version": current.version if current else None,
            "loaded_at": current.loaded_at if current else None,
            "registry_error": follower.last_error,
        }

    @app.post("/predict")
    def predict(body: PredictRequest) -> dict[str, Any]:
        current = follower.current
        if current is None:
            requests.labels(region.name, "no_model").inc()
            raise HTTPException(503, f"region {region.name} has no {region.serving.model}@{region.serving.alias} yet")
        import pandas as pd

        started = time.perf_counter()
        try:
            result = current.model.predict(pd.DataFrame.from_records(body.instances))
        except Exception as exc:
            requests.labels(region.name, "bad_input").inc()
            raise HTTPException(422, f"prediction failed: {exc}") from exc
        latency.labels(region.name).observe(time.perf_counter() - started)
        requests.labels(region.name, "ok").inc()
        values = result.tolist() if hasattr(result, "tolist") else list(result)
        return {"region": region.name, "model": current.name, "version": current.version, "predictions": values}

    @app.get("/metrics")
    def metrics() -> Response:
        current = follower.current
        loaded.labels(**labels).set(1 if current else 0)
        version_g.labels(**labels).set(float(current.version) if current else 0)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
