"""The Regions page's API (login required) and its React bundle.

``GET /api/regions`` is the page's data; ``POST`` / ``DELETE /api/regions/{region}/maintenance``
drain a region for maintenance and bring it back: admin only, with the region's name typed as the
confirmation and a reason, through the traffic controller (so the audit records who and why, and
the last healthy region is never drained). ``/ui/regions.js`` is the bundle Airflow's UI imports.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Annotated

from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

BUNDLE = Path(__file__).parent / "static" / "regions.js"


class MaintenanceStart(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=500)]
    confirm: str  # the region's name, typed by the operator


class MaintenanceEnd(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@cache
def bundle() -> tuple[bytes, str]:
    data = BUNDLE.read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def bundle_url(prefix: str) -> str:
    return f"{prefix}/ui/regions.js?v={bundle()[1]}"


def is_admin(user) -> bool:
    """Admin only: the Simple auth manager's ADMIN role; with another auth manager, whoever may
    change Airflow's configuration (its closest admin-level permission)."""
    role = getattr(user, "role", None)
    if role is not None:
        return str(role).upper() == "ADMIN"
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().is_authorized_configuration(method="PUT", user=user)


def _admin(user) -> str:
    if not is_admin(user):
        raise HTTPException(403, f"maintenance actions need the Admin role ({user.get_name()} is not an admin)")
    return user.get_name()


def routers() -> tuple[APIRouter, APIRouter]:
    """(public: the bundle; private: the API, behind an Airflow login)."""
    from multiregion.ops import regions

    public = APIRouter()
    private = APIRouter(dependencies=[Depends(requires_authenticated())])

    @public.get("/ui/regions.js", include_in_schema=False)
    def regions_bundle() -> Response:
        data, _ = bundle()
        return Response(data, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    @private.get("/api/regions")
    async def overview(user: GetUserDep):
        """Every region's health, traffic, models, replication, cost, replicas and recent events."""
        return {**await run_in_threadpool(regions.gather), "can_act": is_admin(user)}

    def _refused(call, region: str, *args):
        try:
            return call(region, *args)
        except regions.ActionRefused as exc:
            raise HTTPException(409, str(exc)) from None
        except KeyError as exc:  # unknown region
            raise HTTPException(404, exc.args[0]) from None

    @private.post("/api/regions/{region}/maintenance")
    async def start_maintenance(region: str, body: MaintenanceStart, user: GetUserDep):
        """Drain ``region`` for maintenance (Admin; type the region's name to confirm)."""
        who = _admin(user)
        if body.confirm != region:
            raise HTTPException(400, f"confirmation {body.confirm!r} does not match the region name {region!r}")
        return await run_in_threadpool(_refused, regions.start_maintenance, region, body.reason, who)

    @private.delete("/api/regions/{region}/maintenance")
    async def end_maintenance(region: str, body: MaintenanceEnd, user: GetUserDep):
        """Bring ``region`` back from maintenance to its recorded weight (Admin)."""
        who = _admin(user)
        return await run_in_threadpool(_refused, regions.end_maintenance, region, body.reason, who)

    return public, private
