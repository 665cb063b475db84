"""Prometheus's configuration, generated from the topology (pure: a dict, no I/O).

One job per kind of target, with the labels the alert rules and dashboards key on:
``serving`` (every regional endpoint, labelled region and cloud), ``pushgateway`` (the DAGs' and
the health watcher's metrics, ``honor_labels``), ``airflow`` (Airflow's StatsD metrics through
statsd-exporter or the world's bridge) and ``monitoring`` (Prometheus, Alertmanager and the
Pushgateway themselves). The native world writes it at start; ``deploy/compose/prometheus`` is
this output for the Compose topology (a test keeps them equal).

    python -m multiregion.monitoring.prometheus_config TOPOLOGY RULES_GLOB > prometheus.yml
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlparse

from multiregion.core.topology import Topology


def _target(url: str) -> str:
    return urlparse(url).netloc


def _job(name: str, url: str, **extra: Any) -> dict[str, Any]:
    parsed = urlparse(url)
    job: dict[str, Any] = {"job_name": name, **extra, "static_configs": [{"targets": [parsed.netloc]}]}
    if parsed.scheme == "https":
        job["scheme"] = "https"
    return job


def scrape_config(topology: Topology, rule_files: list[str], interval: str = "5s") -> dict[str, Any]:
    mon = topology.monitoring
    serving = [
        {"targets": [_target(endpoint)], "labels": {"region": r.name, "cloud": r.cloud.value}}
        for r in topology.regions
        for endpoint in r.serving.endpoints
    ]
    jobs: list[dict[str, Any]] = [
        {"job_name": "serving", "static_configs": serving},
        _job("pushgateway", mon.pushgateway_url, honor_labels=True),
    ]
    if mon.airflow_metrics_url:
        jobs.append(_job("airflow", mon.airflow_metrics_url))
    jobs.append(
        {
            "job_name": "monitoring",
            "static_configs": [
                {"targets": [_target(mon.prometheus_url)], "labels": {"component": "prometheus"}},
                {"targets": [_target(mon.alertmanager_url)], "labels": {"component": "alertmanager"}},
            ],
        }
    )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": rule_files,
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [_target(mon.alertmanager_url)]}]}]},
        "scrape_configs": jobs,
    }


def main(argv: list[str]) -> None:
    import yaml

    from multiregion.core.topology import load_topology

    topology_path, rules = argv
    sys.stdout.write(yaml.safe_dump(scrape_config(load_topology(topology_path), [rules]), sort_keys=False))


if __name__ == "__main__":
    main(sys.argv[1:])
