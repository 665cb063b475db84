"""The README's demo: play the story in the running local world and say where to look.

``python -m localworld.demo`` (after ``scripts/world.sh up``; scripts/demo.sh does both).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

from localworld.secrets import load_or_create_secrets
from localworld.services import airflow_env, client_env
from localworld.settings import load_settings
from multiregion.airflow_api import AirflowClient
from multiregion.serving.health_client import get_health


def _step(msg: str) -> None:
    print(f"\n==> {msg}", flush=True)


def main() -> int:
    settings = load_settings()
    secrets = load_or_create_secrets(settings.state_dir)
    # This process reads the stores like a task does: through the world's Airflow connections.
    # The training client reads MR_AIRFLOW_* like a user's pipeline does.
    os.environ.update(airflow_env(settings, secrets) | client_env(settings, secrets))
    topo = settings.topology
    client = AirflowClient.from_env()

    _step("Serving endpoints (one per region)")
    for region in topo.regions:
        health = get_health(region.serving.endpoints[0])
        print(f"  {region.name:11} {region.cloud.value:5} {region.serving.endpoints[0]}  model={health['model']} "
              f"version={health['version']}")  # fmt: skip

    _step("Smoke DAG: write, read back and verify an object in every region's store (running in Airflow)")
    client.wait_for_dag("smoke_object_stores")
    run_id = f"demo-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:4]}"
    started = time.monotonic()
    client.trigger("smoke_object_stores", conf={}, run_id=run_id)
    run = client.wait("smoke_object_stores", run_id, timeout=600)
    for ti in sorted(
        client.task_instances("smoke_object_stores", run_id), key=lambda t: (t["task_id"], t["map_index"])
    ):
        label = ti["task_id"] + (f"[{ti['rendered_map_index']}]" if ti["map_index"] >= 0 else "")
        print(f"  {label:32} {ti['state']}")
    print(f"  run {run_id}: {run['state']} in {time.monotonic() - started:.1f}s")
    if run["state"] != "success":
        print(f"  see the task logs in the UI: {settings.airflow_url}/dags/smoke_object_stores/runs/{run_id}")
        return 1

    day = _replicate_datasets(client, settings)
    _replicate_model(client, settings)
    _prediction_traffic(settings)
    _failover_drill(client, settings)
    report = _cost_analysis(client, settings)
    _scaling(client)
    _scrub(client)
    if not _monitoring(settings):
        return 1

    _step("Where to look")
    dns_port = getattr(topo.traffic.backend, "nameserver", ":").rsplit(":", 1)[-1]
    print(f"""  Airflow UI     {settings.airflow_url}/dags/smoke_object_stores/runs/{run_id}
                 login admin / {secrets.airflow_admin_password}
  Datasets       {settings.airflow_url}/dags/replicate_dataset
                 read a replica from Python: open_dataset('churn-features', 'ap-south-1', '{day}')
                 (multiregion.replication.reader; README "Dataset replication")
  Metrics        {topo.monitoring.pushgateway_url}/metrics   (multiregion_smoke_*, multiregion_replication_*)
                 {topo.monitoring.prometheus_url}/graph?g0.expr=multiregion_replication_lag_seconds
                 {topo.monitoring.prometheus_url}/graph?g0.expr=multiregion_smoke_ok
  Models         {settings.airflow_url}/dags/replicate_model   registries: {topo.primary.registry.uri} ...
  Failover       {settings.airflow_url}/dags/region_failover  and  /dags/region_recovery
                 (left paused = disarmed after the drill; unpause region_failover to arm it)
  Cost           {settings.airflow_url}/dags/cost_analysis   report: {report}
  Regions page   {settings.airflow_url}/plugin/regions
  Alerts         {topo.monitoring.alertmanager_url}   (RegionDown, RegionDrained, RegionRestored, CostAnomaly, ...)
  Global DNS     dig @127.0.0.1 -p {dns_port} {topo.traffic.record}
  Logs           {settings.logs_dir}
  Stop           scripts/world.sh down""")
    return 0


def _replicate_model(client: AirflowClient, settings) -> None:
    """What a training pipeline does: train and register in the primary registry. Its webhook does
    the rest: the version is staged in every region; setting `champion` on it moves it everywhere."""
    import importlib.util

    from mlflow import MlflowClient

    from multiregion import PROJECT_ROOT
    from multiregion.client import wait_for_registry_replication

    topo = settings.topology
    model = topo.primary.serving.model
    _step(f"Model replication on registration: train {model}, register it in {topo.primary.name} (no REST call)")
    spec = importlib.util.spec_from_file_location("pipeline", PROJECT_ROOT / "scripts" / "train_and_replicate.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    version = pipeline.train_and_register(model, topo.primary.registry.uri)
    print(f"  registered {model} v{version} in {topo.primary.registry.uri}; its webhook starts the replication")
    staged = wait_for_registry_replication(model, version, client=client)
    print(f"  run {staged.run_id}: {staged.state} in {staged.seconds:.1f}s: staged (no alias moved)")
    for region, regional in sorted((staged.promoted or {}).get("versions", {}).items()):
        print(f"    {region:11} {model} v{regional} registered and verified")
    MlflowClient(topo.primary.registry.uri).set_registered_model_alias(model, "champion", version)
    print(f"  set {model}@champion -> v{version} in the primary registry")
    promoted = wait_for_registry_replication(model, version, alias="champion", client=client)
    print(f"  run {promoted.run_id}: {promoted.state} in {promoted.seconds:.1f}s (alias set -> live everywhere)")
    for region in topo.regions:
        health = get_health(region.serving.endpoints[0])
        print(f"    {region.name:11} serving {health['model']}@{health['alias']} v{health['version']}")
    print("  (pipelines may call replicate_model over REST instead: python -m multiregion.client replicate-model)")


def _prediction_traffic(settings, per_region: int = 40) -> None:
    """Some predictions in every region, as clients would send them (the dashboards' request panels)."""
    import httpx

    _step(f"Prediction traffic: {per_region} requests to each region's /predict")
    rows = [{"tenure_months": 3.0, "monthly_spend": 80.0, "support_tickets": 4.0}]
    with httpx.Client(timeout=10) as http:
        for region in settings.topology.regions:
            codes = [http.post(f"{region.serving.endpoints[0]}/predict", json={"instances": rows}).status_code
                     for _ in range(per_region)]  # fmt: skip
            print(f"  {region.name:11} {codes.count(200)}/{per_region} answered")


def _scaling(client: AirflowClient) -> None:
    """A dry run of the scaling schedule: each deployment's replicas against its schedule, no change."""
    _step("Scaling schedule: dry run (replicas against the schedule, nothing scaled)")
    run_id = f"demo-scaling-{uuid.uuid4().hex[:6]}"
    client.trigger("scaling_schedule", conf={"dry_run": True}, run_id=run_id)
    run = client.wait("scaling_schedule", run_id, timeout=600)
    print(f"  run {run_id}: {run['state']}")


def _scrub(client: AirflowClient) -> None:
    """Every replica checked at rest against its record (a full deep pass: the demo's are small)."""
    _step("Scrub replicas: every replica object checked against its record, read and hashed")
    run_id = f"demo-scrub-{uuid.uuid4().hex[:6]}"
    client.trigger("scrub_replicas", conf={"deep_all": True}, run_id=run_id)
    run = client.wait("scrub_replicas", run_id, timeout=600)
    for region, r in (client.xcom_value("scrub_replicas", run_id, "report") or {}).get("regions", {}).items():
        read, bad, repaired = r["read_objects"], r["bad"], r["repaired"]
        print(f"  {region:11} {r['objects']} objects, {read} read and hashed, {bad} bad, {repaired} repaired")
    print(f"  run {run_id}: {run['state']}")


def _monitoring(settings) -> bool:
    """Every dashboard query returns data; where the Regions page and the delivered alerts are."""
    from localworld import drills
    from localworld.alert_sink import fetch_received
    from multiregion.monitoring.dashboards import queries_without_data

    _step("Monitoring: every Grafana dashboard query returns data; alerts delivered to the webhook sink")
    url = settings.topology.monitoring.prometheus_url
    try:
        drills.wait_for("dashboard data", lambda: not queries_without_data(url), 90, 5)
    except TimeoutError:
        for board, title, expr in queries_without_data(url):
            print(f"  NO DATA  {board}: {title}: {expr}")
        return False
    received = fetch_received(settings.alert_sink_url)
    names = sorted({a["labels"]["alertname"] for a in received})
    print("  all dashboard queries return data (deploy/grafana/dashboards)")
    print(f"  webhook sink received {len(received)} alert notifications: {', '.join(names)}")
    print(f"  Regions page: {settings.airflow_url}/plugin/regions")
    return True


def _failover_drill(client: AirflowClient, settings) -> None:
    """Arm the failover, kill the primary region's serving, watch traffic leave and come back."""
    from localworld import drills
    from multiregion.monitoring.alertmanager import active_alerts
    from multiregion.ops.failover import REGION_DRAINED
    from multiregion.traffic.controller import backend_for

    topo = settings.topology
    region = topo.primary.name
    backend = backend_for(topo)
    _step(f"Failover drill: arm region_failover, kill {region}'s serving, watch DNS and the recovery")
    drills.reset(settings)
    drills.arm(client, settings, {"hold_s": 10, "step_hold_s": 10})
    print(f"  armed; weights {backend.get_weights()}; DNS answers {sorted(backend.resolve())}")
    at = drills.take_down(settings, region)
    print(f"  stopped serving-{region}")
    took = drills.time_to_drain(settings, region, at)
    print(f"  drained after {took['weight_zero_s']}s, gone from DNS after {took['dns_gone_s']}s: "
          f"weights {backend.get_weights()}, DNS answers {sorted(backend.resolve())}")  # fmt: skip
    url = topo.monitoring.alertmanager_url
    drills.wait_for("RegionDrained alert", lambda: active_alerts(url, REGION_DRAINED), 60)
    print(f"  Alertmanager: {REGION_DRAINED} {region} ({url}/#/alerts)")
    original = drills.original_weights(settings)[region]

    def next_weight(previous: int) -> list[int]:
        weight = backend.get_weights()[region]
        return [weight] if weight != previous else []

    weight = 0
    while weight != original:  # recovery: rollout restart, hold, resync, then 10/25/50/100 % steps
        (weight,) = drills.wait_for("the next restoration step", lambda w=weight: next_weight(w), 900, interval=1)
        print(f"  t+{time.time() - at:5.1f}s  {region} weight {weight}")
    drills.disarm(client)
    print(f"  restored in {time.time() - at:.0f}s from the kill; failover disarmed again (unpause to arm)")


def _replicate_datasets(client: AirflowClient, settings) -> str:
    """Publish sample data at the source, replicate it over REST, show what every region serves."""
    from datetime import UTC, datetime

    from localworld.sample_data import write_partition
    from multiregion.core.datasets import load_catalog
    from multiregion.replication.reader import read_table
    from multiregion.stores.registry import region_store

    topo = settings.topology
    catalog = load_catalog(topo)
    day = datetime.now(UTC).date().isoformat()
    _step(f"Dataset replication: sample Parquet data at the source ({topo.primary.name}), replicated over REST")
    for dataset in catalog.datasets:
        source = region_store(topo.region(dataset.source.region))
        partition = dataset.partition_for(day if dataset.partitioned else None)
        keys = write_partition(source, dataset, partition, files=4, rows_per_file=5000, seed=20261126)
        where = source.url_for(dataset.source_prefix(partition))
        print(f"  {dataset.name}/{partition}: {len(keys)} Parquet files at {where}")
        run_id = f"demo-{dataset.name}-{uuid.uuid4().hex[:6]}"
        conf = {"dataset": dataset.name, "partitions": [day] if dataset.partitioned else []}
        started = time.monotonic()
        client.trigger("replicate_dataset", conf=conf, run_id=run_id)
        run = client.wait("replicate_dataset", run_id, timeout=900)
        print(f"  run {run_id}: {run['state']} in {time.monotonic() - started:.1f}s")
        for region in [dataset.source.region, *dataset.replicate_to]:
            try:
                table = read_table(region_store(topo.region(region)), dataset, partition)
                print(f"    {region:11} published: {table.num_rows} rows")
            except LookupError as exc:
                print(f"    {region:11} not published: {exc}")
    return day


def _cost_analysis(client: AirflowClient, settings) -> str:
    """The clouds' FOCUS exports (generated: 5 weeks, billing today's replication), analysed."""
    from datetime import UTC, datetime, timedelta

    from localworld import cost_exports
    from multiregion.core.cost_config import load_cost_config

    topo = settings.topology
    today = datetime.now(UTC).date()
    anchor = today + timedelta(days=1)
    written = cost_exports.write_exports(
        settings, load_cost_config(topo), anchor, cost_exports.ledger_egress(settings, [today])
    )
    days = cost_exports.days(anchor)
    _step(f"Cost analysis: FOCUS exports of the three clouds ({sum(written.values())} rows), 5 weeks backfilled")
    run_id = f"demo-cost-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    client.trigger("cost_analysis", conf={"start": days[0].isoformat(), "end": days[-1].isoformat()}, run_id=run_id)
    run = client.wait("cost_analysis", run_id, timeout=900)
    print(f"  run {run_id}: {run['state']} in {time.monotonic() - started:.1f}s")
    if run["state"] != "success":
        print(f"  see the task logs in the UI: {settings.airflow_url}/dags/cost_analysis/runs/{run_id}")
        return "(no report)"
    result = client.xcom_value("cost_analysis", run_id, "report")
    print("  " + result["summary"].replace("\n", "\n  "))
    return result["report"]


if __name__ == "__main__":
    sys.exit(main())
