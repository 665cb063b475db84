"""Registry webhook deliveries become Asset events, in the API server's own metadata session.

Deduplicated by delivery id: the asset's row is locked while looking for an event with the same
id, so a delivery sent twice (or two API-server replicas receiving it) records one event.
"""

from __future__ import annotations

from typing import Any

from multiregion.core.registry_events import RegistryEvent


class AssetNotReady(RuntimeError):
    """The Asset doesn't exist yet (the dag-processor hasn't parsed the consuming DAG)."""


def record(event: RegistryEvent) -> tuple[bool, int]:
    """(created, asset event id): False with the earlier event's id for a redelivery."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from multiregion.dagconfig import REGISTRY_EVENTS_ASSET

    with create_session() as session:
        asset = session.scalar(
            select(AssetModel).where(AssetModel.name == REGISTRY_EVENTS_ASSET).with_for_update().limit(1)
        )
        if asset is None:
            raise AssetNotReady(f"Asset {REGISTRY_EVENTS_ASSET!r} not in Airflow yet (DAG model_registry_events)")
        earlier = session.scalar(
            select(AssetEvent.id)
            .where(AssetEvent.asset_id == asset.id, AssetEvent.extra["delivery_id"].as_string() == event.delivery_id)
            .limit(1)
        )
        if earlier is not None:
            return False, earlier
        extra = {
            "delivery_id": event.delivery_id,
            "event": event.event,
            "model": event.model,
            "version": event.version,
            "alias": event.alias,
        }
        created = asset_manager.register_asset_change(asset=asset, extra=extra, source_is_api=True, session=session)
        session.flush()
        return True, created.id


def recent(limit: int = 50) -> list[dict[str, Any]]:
    """The latest recorded deliveries, newest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from multiregion.dagconfig import REGISTRY_EVENTS_ASSET

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.id, AssetEvent.timestamp, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == REGISTRY_EVENTS_ASSET)
            .order_by(AssetEvent.id.desc())
            .limit(limit)
        ).all()
    return [{"id": r.id, "at": r.timestamp.isoformat(), **(r.extra or {})} for r in rows]
