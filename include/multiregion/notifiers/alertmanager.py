"""An Airflow notifier that alerts ops through Alertmanager (callbacks or explicit calls)."""

from __future__ import annotations

from airflow.sdk import BaseNotifier

from multiregion.core.topology import load_topology
from multiregion.monitoring.alertmanager import send_alert


class AlertmanagerNotifier(BaseNotifier):
    """Send one alert; every field is templated with the task's context (e.g. ``{{ ti.task_id }}``)."""

    template_fields = ("alertname", "summary", "description", "labels")

    def __init__(
        self,
        alertname: str,
        summary: str,
        description: str = "",
        labels: dict[str, str] | None = None,
        severity: str = "critical",
    ) -> None:
        super().__init__()
        self.alertname, self.summary, self.description = alertname, summary, description
        self.labels, self.severity = labels or {}, severity

    def notify(self, context) -> None:
        url = load_topology().monitoring.alertmanager_url
        send_alert(url, self.alertname, self.labels, self.summary, self.description, severity=self.severity)


def task_failed_notifier(alertname: str = "AirflowTaskFailed") -> AlertmanagerNotifier:
    """For a DAG's ``on_failure_callback``: which task of which run failed, and the error."""
    return AlertmanagerNotifier(
        alertname,
        summary="{{ dag.dag_id }}.{{ ti.task_id }} failed in run {{ run_id }}",
        description="{{ exception | string | truncate(1000) }}",
        labels={"dag_id": "{{ dag.dag_id }}", "task_id": "{{ ti.task_id }}"},
    )
