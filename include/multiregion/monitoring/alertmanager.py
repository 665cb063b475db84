"""Send alerts to ops through Alertmanager's v2 API (the same path Prometheus rules use)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from multiregion import http_pool


class AlertError(RuntimeError):
    pass


def send_alert(
    alertmanager_url: str,
    name: str,
    labels: dict[str, str],
    summary: str,
    description: str = "",
    severity: str = "critical",
    resolve_after: timedelta = timedelta(hours=4),
    timeout: float = 10.0,
) -> None:
    """Fire (or, with ``resolve_after=timedelta(0)``, resolve) an alert; identity = its labels."""
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": name, "severity": severity, "source": "airflow", **labels},
        "annotations": {"summary": summary, "description": description[:4000]},
        "startsAt": now.isoformat(),
        "endsAt": (now + resolve_after).isoformat(),
    }
    try:
        resp = http_pool.client().post(f"{alertmanager_url.rstrip('/')}/api/v2/alerts", json=[alert], timeout=timeout)
    except httpx.HTTPError as exc:
        raise AlertError(f"cannot reach Alertmanager at {alertmanager_url}: {exc}") from exc
    if resp.status_code >= 300:
        raise AlertError(f"Alertmanager rejected alert {name}: {resp.status_code} {resp.text[:200]}")


def resolve_alert(alertmanager_url: str, name: str, labels: dict[str, str], severity: str = "critical") -> None:
    """Mark an alert fired earlier as resolved (same name, severity and labels)."""
    send_alert(alertmanager_url, name, labels, f"{name} resolved", severity=severity, resolve_after=timedelta(0))


def active_alerts(alertmanager_url: str, name: str | None = None, timeout: float = 10.0) -> list[dict]:
    params = {"filter": f'alertname="{name}"'} if name else None
    resp = http_pool.client().get(f"{alertmanager_url.rstrip('/')}/api/v2/alerts", params=params, timeout=timeout)
    resp.raise_for_status()
    return resp.json()
