"""The route ledger: what each replication copy moved, from where to where (read by the cost analyzer).

One small JSON object per copy under ``_ledger/transfers/day=YYYY-MM-DD/`` in the primary store,
keyed by run, dataset or model, partition or version, and destination, so a retried task rewrites
its own entry instead of adding one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from multiregion.core import replica_layout as layout
from multiregion.stores.base import ObjectStore

KINDS = ("dataset", "model")
log = logging.getLogger(__name__)


def record(
    store: ObjectStore,
    *,
    kind: str,
    name: str,
    partition: str,
    source_region: str,
    dest_region: str,
    nbytes: int,
    run_id: str,
    extra: dict[str, Any] | None = None,
) -> str:
    if kind not in KINDS:
        raise ValueError(f"ledger kind {kind!r} is not one of {KINDS}")
    now = datetime.now(UTC)
    entry = {
        **(extra or {}),
        "kind": kind,
        "name": name,
        "partition": partition,
        "source_region": source_region,
        "region": dest_region,
        "bytes_copied": nbytes,
        "run_id": run_id,
        "recorded_at": now.isoformat(timespec="seconds"),
    }
    label = name if kind == "dataset" else f"model-{name}"
    key = layout.transfer_ledger_key(now.date().isoformat(), run_id, label, partition, dest_region)
    store.write(key, json.dumps(entry, sort_keys=True).encode(), content_type="application/json")
    return key


def read(store: ObjectStore, days: Iterable[str]) -> list[dict[str, Any]]:
    """Every readable ledger entry of ``days`` (with its ``day``); an unreadable one is logged, named."""
    out = []
    for day in sorted(set(days)):
        for info in store.list(f"_ledger/transfers/day={day}/"):
            try:
                entry = json.loads(b"".join(store.iter_read(info.key)))
                entry["bytes_copied"] = int(entry.get("bytes_copied") or 0)
            except (ValueError, TypeError, AttributeError) as exc:
                log.warning("route ledger: %s is not a ledger entry, skipped: %s", store.url_for(info.key), exc)
                continue
            entry.setdefault("kind", "dataset")
            entry.setdefault("name", entry.get("dataset"))
            entry.setdefault("source_region", (entry.get("route") or {}).get("source_region"))
            out.append({**entry, "day": day})
    return out
