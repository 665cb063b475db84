"""Task body of ``model_registry_events``: recorded webhook deliveries → replicate_model runs."""

from __future__ import annotations

import logging
from typing import Any

from multiregion.core.registry_events import RegistryEvent

log = logging.getLogger(__name__)


def replication_requests(extras: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{trigger_run_id, conf}`` per recorded delivery (deduplicated by delivery id, in order)."""
    seen, out = set(), []
    for extra in extras:
        event = RegistryEvent(
            extra["event"], extra["model"], extra["version"], extra.get("alias"), extra["delivery_id"]
        )
        if event.delivery_id in seen:
            continue
        seen.add(event.delivery_id)
        log.info("%s: %s v%s (delivery %s)", event.event, event.model, event.version, event.delivery_id)
        out.append({"trigger_run_id": event.run_id(), "conf": event.replication_conf()})
    return out
