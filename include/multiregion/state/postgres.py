"""Region health and the traffic audit trail in PostgreSQL (through the postgres provider hook).

Airflow 3 tasks cannot use the metadata database, so the failover controller keeps its state
here: every region's health (written by the health watcher), the original weights recorded
before a drain (restoration reads them), and an append-only audit of every traffic change
(when, what, why, which run); and every replica object as written and verified (its size and
the checksums its store reported), which re-runs and the scrub compare listings with.
Persistence only: what to record is decided by ``traffic.controller``, which writes through
``traffic_lock()`` (a transaction-scoped advisory lock).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from multiregion.core.health import HealthState, RegionHealth
from multiregion.core.integrity import Recorded

STATE_CONN_ID = "mr_state"
_TRAFFIC_LOCK = 0x6D72_7466  # "mrtf": one traffic change at a time, across workers and DAGs

SCHEMA = """
CREATE TABLE IF NOT EXISTS region_health (
    region text PRIMARY KEY,
    state text NOT NULL,
    consecutive_failures integer NOT NULL,
    consecutive_successes integer NOT NULL,
    changed_at double precision,
    last_probe_at double precision,
    last_reason text
);
CREATE TABLE IF NOT EXISTS traffic_original (
    region text PRIMARY KEY,
    weight integer NOT NULL CHECK (weight BETWEEN 0 AND 255),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    run_id text
);
CREATE TABLE IF NOT EXISTS region_maintenance (
    region text PRIMARY KEY,
    reason text NOT NULL,
    by_user text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS scaling_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    region text NOT NULL,
    deployment text NOT NULL,
    action text NOT NULL,
    old_replicas integer NOT NULL,
    new_replicas integer NOT NULL,
    reason text NOT NULL,
    dry_run boolean NOT NULL,
    run_id text
);
CREATE TABLE IF NOT EXISTS replica_objects (
    url text PRIMARY KEY,
    region text NOT NULL,
    kind text NOT NULL,
    owner text NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL,
    etag text,
    md5 text,
    verified_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS replica_objects_sha256 ON replica_objects (sha256);
CREATE INDEX IF NOT EXISTS replica_objects_region_kind ON replica_objects (region, kind);
CREATE TABLE IF NOT EXISTS drill_results (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    run_id text,
    region text NOT NULL,
    method text NOT NULL,
    outcome text NOT NULL,
    figures jsonb NOT NULL,
    detail text
);
CREATE TABLE IF NOT EXISTS traffic_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    region text NOT NULL,
    action text NOT NULL,
    old_weights jsonb NOT NULL,
    new_weights jsonb NOT NULL,
    reason text NOT NULL,
    run_id text
);
"""


class TrafficLog:
    """Writes inside the traffic lock's transaction: the audit trail and recorded originals."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def record_original(self, region: str, weight: int, run_id: str | None) -> None:
        """The region's weight before it was drained; the first record stands until forgotten."""
        self._cur.execute(
            "INSERT INTO traffic_original (region, weight, run_id) VALUES (%s, %s, %s) ON CONFLICT (region) DO NOTHING",
            (region, weight, run_id),
        )

    def audit(
        self, region: str, action: str, old: dict[str, int], new: dict[str, int], reason: str, run_id: str | None
    ) -> None:
        self._cur.execute(
            "INSERT INTO traffic_audit (region, action, old_weights, new_weights, reason, run_id) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (region, action, json.dumps(old), json.dumps(new), reason, run_id),
        )

    def forget_original(self, region: str) -> None:
        self._cur.execute("DELETE FROM traffic_original WHERE region = %s", (region,))

    def original(self, region: str) -> int | None:
        self._cur.execute("SELECT weight FROM traffic_original WHERE region = %s", (region,))
        row = self._cur.fetchone()
        return row[0] if row else None

    def maintenance(self) -> set[str]:
        """Regions drained for maintenance, read under the lock (the decisions count them out)."""
        self._cur.execute("SELECT region FROM region_maintenance")
        return {r for (r,) in self._cur.fetchall()}

    def start_maintenance(self, region: str, reason: str, user: str) -> None:
        self._cur.execute(
            "INSERT INTO region_maintenance (region, reason, by_user) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (region, reason, user),
        )

    def end_maintenance(self, region: str) -> None:
        self._cur.execute("DELETE FROM region_maintenance WHERE region = %s", (region,))


class StateStore:
    def __init__(self, conn_id: str = STATE_CONN_ID) -> None:
        self.conn_id = conn_id
        self._schema_ready = False

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.conn_id).get_conn()
        try:
            with conn, conn.cursor() as cur:  # commit on success, roll back on error
                if not self._schema_ready:
                    cur.execute(SCHEMA)
                    self._schema_ready = True
                yield cur
        finally:
            conn.close()

    # --- region health ------------------------------------------------------------------------
    def save_health(self, health: RegionHealth) -> None:
        row = asdict(health)
        row["state"] = health.state.value
        with self._tx() as cur:
            cur.execute(
                """INSERT INTO region_health VALUES (%(region)s, %(state)s, %(consecutive_failures)s,
                   %(consecutive_successes)s, %(changed_at)s, %(last_probe_at)s, %(last_reason)s)
                   ON CONFLICT (region) DO UPDATE SET state = EXCLUDED.state,
                   consecutive_failures = EXCLUDED.consecutive_failures,
                   consecutive_successes = EXCLUDED.consecutive_successes, changed_at = EXCLUDED.changed_at,
                   last_probe_at = EXCLUDED.last_probe_at, last_reason = EXCLUDED.last_reason
                   WHERE region_health.last_probe_at IS NULL
                      OR EXCLUDED.last_probe_at >= region_health.last_probe_at""",
                row,
            )

    def load_health(self) -> dict[str, RegionHealth]:
        with self._tx() as cur:
            return self._health(cur)

    @staticmethod
    def _health(cur: Any) -> dict[str, RegionHealth]:
        cur.execute("SELECT * FROM region_health")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return {r["region"]: RegionHealth(**{**r, "state": HealthState(r["state"])}) for r in rows}

    def snapshot(self, audit_limit: int = 100) -> dict[str, Any]:
        """Health, maintenance, drains and the latest audit rows in one transaction (the Regions page)."""
        with self._tx() as cur:
            return {
                "health": self._health(cur),
                "maintenance": self._maintenance(cur),
                "drained_since": self._drained_since(cur),
                "audit": self._audit(cur, audit_limit),
                "drills": self._last_drills(cur),
            }

    @staticmethod
    def _last_drills(cur: Any) -> dict[str, dict[str, Any]]:
        """The latest drill that ran (refusals left out) of each region."""
        cur.execute(
            "SELECT DISTINCT ON (region) region, outcome, figures, extract(epoch FROM at)::float8, run_id "
            "FROM drill_results WHERE outcome <> 'refused' ORDER BY region, id DESC"
        )
        return {r: {"outcome": o, "figures": f, "at": at, "run_id": run} for r, o, f, at, run in cur.fetchall()}

    # --- traffic (persistence only: traffic.controller decides and calls these under the lock) --
    @contextmanager
    def traffic_lock(self) -> Iterator[TrafficLog]:
        """One traffic change at a time, across workers and DAGs: a transaction holding the
        advisory lock. What is written through the yielded log commits with it, or not at all."""
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_TRAFFIC_LOCK,))
            yield TrafficLog(cur)

    def original_weights(self) -> dict[str, int]:
        with self._tx() as cur:
            cur.execute("SELECT region, weight FROM traffic_original")
            return dict(cur.fetchall())

    def drained_since(self) -> dict[str, float]:
        """Epoch seconds each drained region has been at 0 since (its original's record)."""
        with self._tx() as cur:
            return self._drained_since(cur)

    @staticmethod
    def _drained_since(cur: Any) -> dict[str, float]:
        cur.execute("SELECT region, extract(epoch FROM recorded_at)::float8 FROM traffic_original")
        return dict(cur.fetchall())

    def maintenance(self) -> dict[str, dict[str, Any]]:
        """{region: {reason, by_user, since}} of the regions drained for maintenance."""
        with self._tx() as cur:
            return self._maintenance(cur)

    @staticmethod
    def _maintenance(cur: Any) -> dict[str, dict[str, Any]]:
        cur.execute("SELECT region, reason, by_user, extract(epoch FROM since)::float8 FROM region_maintenance")
        return {r: {"reason": why, "by_user": who, "since": at} for r, why, who, at in cur.fetchall()}

    # --- replica objects (integrity at rest) ---------------------------------------------------
    def record_replicas(self, rows: list[dict[str, Any]]) -> None:
        """Upsert objects just written or read and verified: {url, region, kind, owner, sha256,
        size, etag, md5}. One transaction, however many rows."""
        if not rows:
            return
        with self._tx() as cur:
            cur.executemany(
                "INSERT INTO replica_objects (url, region, kind, owner, sha256, size, etag, md5) VALUES "
                "(%(url)s, %(region)s, %(kind)s, %(owner)s, %(sha256)s, %(size)s, %(etag)s, %(md5)s) "
                "ON CONFLICT (url) DO UPDATE SET region = EXCLUDED.region, kind = EXCLUDED.kind, "
                "owner = EXCLUDED.owner, sha256 = EXCLUDED.sha256, size = EXCLUDED.size, etag = EXCLUDED.etag, "
                "md5 = EXCLUDED.md5, verified_at = now()",
                rows,
            )

    def replicas(self, urls: list[str] | None = None, **where: str) -> dict[str, Recorded]:
        """Records by url: of ``urls``, or matching ``where`` (region, kind, owner, sha256)."""
        clauses, args = [], []
        if urls is not None:
            clauses.append("url = ANY(%s)")
            args.append(list(urls))
        for column, value in where.items():
            if column not in ("region", "kind", "owner", "sha256"):
                raise ValueError(f"replica records have no column {column!r}")
            clauses.append(f"{column} = %s")
            args.append(value)
        sql = "SELECT url, sha256, size, etag, md5, extract(epoch FROM verified_at)::float8, owner "
        sql += "FROM replica_objects"
        with self._tx() as cur:
            cur.execute(sql + (" WHERE " + " AND ".join(clauses) if clauses else ""), args)
            return {row[0]: Recorded(*row) for row in cur.fetchall()}

    def replica_regions(self, sha256s: list[str]) -> dict[str, list[tuple[str, str]]]:
        """{sha256: [(region, url), ...]}: every recorded copy of those contents (repair sources)."""
        with self._tx() as cur:
            cur.execute("SELECT sha256, region, url FROM replica_objects WHERE sha256 = ANY(%s)", (list(sha256s),))
            out: dict[str, list[tuple[str, str]]] = {}
            for sha, region, url in cur.fetchall():
                out.setdefault(sha, []).append((region, url))
            return out

    def forget_replicas(self, url_prefix: str) -> int:
        """Drop the records under a url prefix (objects deleted by GC or a test's cleanup)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM replica_objects WHERE starts_with(url, %s)", (url_prefix,))
            return cur.rowcount

    # --- failover drills ----------------------------------------------------------------------
    def record_drill(self, row: dict[str, Any]) -> None:
        """One row per drill: {run_id, region, method, outcome, figures, detail}."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO drill_results (run_id, region, method, outcome, figures, detail) VALUES "
                "(%(run_id)s, %(region)s, %(method)s, %(outcome)s, %(figures)s, %(detail)s)",
                {**row, "figures": json.dumps(row["figures"])},
            )

    def drills(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute("SELECT * FROM drill_results ORDER BY id DESC LIMIT %s", (limit,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # --- scaling ------------------------------------------------------------------------------
    def record_scaling(self, row: dict[str, Any]) -> None:
        """One audit row per scaling change (or, in a dry run, per change it would make)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO scaling_audit (region, deployment, action, old_replicas, new_replicas, reason, "
                "dry_run, run_id) VALUES (%(region)s, %(deployment)s, %(action)s, %(current)s, %(desired)s, "
                "%(reason)s, %(dry_run)s, %(run_id)s)",
                row,
            )

    def scaling_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute("SELECT * FROM scaling_audit ORDER BY id DESC LIMIT %s", (limit,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._tx() as cur:
            return self._audit(cur, limit)

    @staticmethod
    def _audit(cur: Any, limit: int) -> list[dict[str, Any]]:
        cur.execute(
            "SELECT id, at, region, action, old_weights, new_weights, reason, run_id "
            "FROM traffic_audit ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
