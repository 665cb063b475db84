"""The StatsD -> Prometheus bridge, in-process on ephemeral ports: real UDP packets in, /metrics out.

The Airflow lines below are what Airflow 3.3.2 sends with ``statsd_influxdb_enabled=True`` and the
default ``legacy_names_on=True`` (captured from airflow._shared.observability.metrics): each metric
with a legacy name goes out twice, legacy name first (dag_id etc. in the name), then the new name
with every variable as a tag.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from localworld.statsd_bridge import Event, Mapper, RunningBridge, load_rules, parse_line, serve
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "config" / "monitoring" / "statsd-mappings.yml"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def bridge() -> Iterator[RunningBridge]:
    running = serve(MAPPING, "127.0.0.1", 0, 0)
    yield running
    running.close()


def send(bridge: RunningBridge, *lines: str | bytes) -> None:
    """One UDP packet with these lines (as Airflow's StatsD client batches nothing, tests may)."""
    payload = b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, ("127.0.0.1", bridge.statsd_port))


def scrape(bridge: RunningBridge) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{bridge.metrics_port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_for(bridge: RunningBridge, done: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    """Scrape until ``done(samples)``; UDP delivery is asynchronous, so poll instead of sleeping."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(bridge)
        if done(samples):
            return samples
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for metrics; last scrape: {sorted(samples)}")
        time.sleep(0.02)


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get(key(name, **labels))


def has(name: str, **labels: str) -> Callable[[Samples], bool]:
    return lambda samples: key(name, **labels) in samples


# What Airflow 3.3.2 sends (statsd_influxdb_enabled=True, legacy_names_on=True, one LocalExecutor).
AIRFLOW_LINES = [
    "airflow.scheduler_heartbeat:1|c",
    "airflow.triggerer_heartbeat:1|c",
    "airflow.dag_processor_heartbeat:1|c",
    "airflow.ti_failures,dag_id=my_dag,task_id=grp.t1:1|c",
    "airflow.ti_successes,dag_id=my_dag,task_id=t2:1|c",
    "airflow.ti.finish.my_dag.grp__t1.failed:1|c",
    "airflow.ti.finish,dag_id=my_dag,task_id=grp.t1,state=failed:1|c",
    "airflow.executor.open_slots.LocalExecutor,status=open:3|g",
    "airflow.executor.open_slots,status=open,executor_class_name=LocalExecutor:3|g",
    "airflow.executor.queued_tasks.LocalExecutor,status=queued:0|g",
    "airflow.executor.queued_tasks,status=queued,executor_class_name=LocalExecutor:0|g",
    "airflow.executor.running_tasks.LocalExecutor,status=running:1|g",
    "airflow.executor.running_tasks,status=running,executor_class_name=LocalExecutor:1|g",
    "airflow.dag_processing.import_errors:2|g",
    "airflow.dagrun.duration.success.my_dag,run_type=scheduled:1500.000000|ms",
    "airflow.dagrun.duration.success,dag_id=my_dag,run_type=scheduled:1500.000000|ms",
    "airflow.dagrun.duration.failed.my_dag,run_type=manual:2500.000000|ms",
    "airflow.dagrun.duration.failed,dag_id=my_dag,run_type=manual:2500.000000|ms",
    "airflow.scheduler.scheduler_loop_duration:250.000000|ms",
]


def test_airflow_metrics_get_the_helm_chart_names(bridge):
    send(bridge, *AIRFLOW_LINES)
    s = wait_for(bridge, has("airflow_scheduler_scheduler_loop_duration_count"))

    # Heartbeats: the Helm chart maps scheduler and dag-processor (adding type="counter"), not the triggerer.
    assert value(s, "airflow_scheduler_heartbeat_total", type="counter") == 1
    assert value(s, "airflow_dag_processor_heartbeat_total", type="counter") == 1
    assert value(s, "airflow_triggerer_heartbeat_total") == 1
    # Task outcomes: tags -> labels.
    assert value(s, "airflow_ti_failures_total", dag_id="my_dag", task_id="grp.t1") == 1
    assert value(s, "airflow_ti_successes_total", dag_id="my_dag", task_id="t2") == 1
    assert value(s, "airflow_ti_finish_total", dag_id="my_dag", task_id="grp.t1", state="failed") == 1
    assert value(s, "airflow_ti_finish_my_dag_grp__t1_failed_total") == 1  # unmapped legacy name
    # Executor slots: the legacy name is mapped (executor label) and seen first; the new name has the
    # same Prometheus name with other labels, so it is dropped as a conflict (as statsd_exporter does).
    assert value(s, "airflow_executor_open_slots", executor="LocalExecutor", status="open") == 3
    assert value(s, "airflow_executor_queued_tasks", executor="LocalExecutor", status="queued") == 0
    assert value(s, "airflow_executor_running_tasks", executor="LocalExecutor", status="running") == 1
    assert value(s, "statsd_bridge_dropped_events_total", reason="label_conflict") == 3
    assert value(s, "airflow_dag_processing_import_errors") == 2
    # Dag-run durations in seconds: legacy names mapped by the chart, the new names by default naming.
    assert value(s, "airflow_dagrun_duration_sum", dag_id="my_dag", run_type="scheduled") == 1.5
    assert value(s, "airflow_dagrun_duration_count", dag_id="my_dag", run_type="scheduled") == 1
    assert value(s, "airflow_dagrun_failed_sum", dag_id="my_dag", run_type="manual") == 2.5
    assert value(s, "airflow_dagrun_duration_failed_sum", dag_id="my_dag", run_type="manual") == 2.5
    assert value(s, "airflow_dagrun_duration_success_count", dag_id="my_dag", run_type="scheduled") == 1
    assert value(s, "airflow_scheduler_scheduler_loop_duration_sum") == 0.25
    assert value(s, "statsd_bridge_malformed_lines_total") == 0


def test_plain_statsd_names_and_dogstatsd_tags(bridge):
    send(
        bridge,
        "airflow.dagrun.duration.failed.my_dag:1200|ms",  # StatsD without tags (statsd_influxdb_enabled=False)
        "airflow.dagrun.duration.failed.a.b:1|ms",  # glob * never spans a dot: not the chart's mapping
        "airflow.ti_failures:1|c|#dag_id:my_dag,task_id:t1",
        "airflow.ti_failures:2|c|#task_id:t2,dag_id:my_dag",  # same labels, other order
        "airflow.scheduler_heartbeat,type=overridden:1|c",  # mapping labels win over tags
        "app.req-count,weird-key.x=v:1|c",  # names and tag keys sanitized
        "airflow.pool.open_slots.default_pool:128|g|#team:ml",  # DogStatsD tags beside mapping labels
    )
    s = wait_for(bridge, has("airflow_pool_open_slots", pool="default_pool", team="ml"))
    assert value(s, "airflow_dagrun_failed_sum", dag_id="my_dag") == 1.2
    assert value(s, "airflow_dagrun_duration_failed_a_b_count") == 1
    assert value(s, "airflow_ti_failures_total", dag_id="my_dag", task_id="t1") == 1
    assert value(s, "airflow_ti_failures_total", dag_id="my_dag", task_id="t2") == 2
    assert value(s, "airflow_scheduler_heartbeat_total", type="counter") == 1
    assert value(s, "app_req_count_total", weird_key_x="v") == 1
    assert value(s, "airflow_pool_open_slots", pool="default_pool", team="ml") == 128


def test_timers_counters_and_sample_rates(bridge):
    send(
        bridge,
        "job.sampled:250|ms|@0.1",  # stands for 10 observations
        "job.hist:40|h",
        "job.hist:60|h",
        "job.hits:1|c|@0.25",  # counts 4
        "job.hits:3|c",
    )
    s = wait_for(bridge, has("job_hits_total"))
    assert value(s, "job_sampled_count") == 10
    assert value(s, "job_sampled_sum") == pytest.approx(2.5)
    assert value(s, "job_hist_count") == 2
    assert value(s, "job_hist_sum") == pytest.approx(0.1)
    assert value(s, "job_hits_total") == 7


def test_gauges_set_and_apply_signed_deltas(bridge):
    send(
        bridge,
        "airflow.executor.open_slots.LocalExecutor:4|g",
        "airflow.executor.open_slots.LocalExecutor:+3|g",
        "airflow.executor.open_slots.LocalExecutor:-2|g",
    )
    open_slots = ("airflow_executor_open_slots", {"executor": "LocalExecutor"})
    wait_for(bridge, lambda s: value(s, open_slots[0], **open_slots[1]) == 5)
    send(bridge, "airflow.executor.open_slots.LocalExecutor:7|g")
    wait_for(bridge, lambda s: value(s, open_slots[0], **open_slots[1]) == 7)


def test_malformed_lines_are_counted_and_do_not_stop_the_bridge(bridge):
    send(
        bridge,
        "garbage",
        "x:abc|c",
        "x:1|zz",
        "x:1|c|@2",
        ":1|c",
        "x:1",
        b"\xff\xfe:1|c",  # not UTF-8
        "ok.after_garbage:1|c",
    )
    s = wait_for(bridge, has("ok_after_garbage_total"))
    assert value(s, "statsd_bridge_malformed_lines_total") == 7
    assert value(s, "ok_after_garbage_total") == 1


def test_a_name_keeps_its_first_type_and_label_names(bridge):
    send(bridge, "mixed,a=1:1|c", "mixed,b=2:5|c", "mixed:9|g", "down:-1|c", "mixed,a=2:1|c")
    s = wait_for(bridge, has("mixed_total", a="2"))
    assert value(s, "mixed_total", a="1") == 1
    assert key("mixed_total", b="2") not in s
    assert value(s, "statsd_bridge_dropped_events_total", reason="label_conflict") == 1
    assert value(s, "statsd_bridge_dropped_events_total", reason="type_conflict") == 1
    assert value(s, "statsd_bridge_dropped_events_total", reason="negative_counter") == 1


def test_parse_line_reads_both_tag_forms_and_signs():
    assert parse_line("a.b,k=v:+3|g|#k2:v2") == Event("a.b", "gauge", 3.0, relative=True, tags={"k": "v", "k2": "v2"})
    assert parse_line("a:-2|g").relative and parse_line("a:-2|g").value == -2
    assert parse_line("a:2|g").relative is False
    assert parse_line("t:1500|ms|@0.5") == Event("t", "observer", 1.5, repeat=2)
    assert parse_line("c:1|c|#novalue,k:v").tags == {"k": "v"}  # a tag without a value is skipped


def test_mapping_rules_follow_statsd_exporter(tmp_path):
    rules, default_observer = load_rules(MAPPING)
    assert default_observer == "summary" and len(rules) == 21
    mapper = Mapper(rules)
    target = mapper.map(parse_line("airflow.operator_successes_PythonOperator:1|c"))  # regex, unanchored
    assert target and target.name == "airflow_operator_successes" and target.labels == {"operator": "PythonOperator"}
    target = mapper.map(parse_line("airflow.ti.running.default.my_dag.t1:1|g"))
    assert target and target.labels == {"queue": "default", "dag_id": "my_dag", "task_id": "t1"}

    custom = tmp_path / "m.yml"
    custom.write_text(
        "defaults: {observer_type: histogram}\n"
        "mappings:\n"
        "  - {match: 'noisy.*', action: drop, name: x}\n"
        "  - {match: 'svc.*.latency', name: 'svc_${1}_latency', match_metric_type: observer,\n"
        "     histogram_options: {buckets: [1, 10]}}\n"
    )
    rules, default_observer = load_rules(custom)
    mapper = Mapper(rules, default_observer)
    assert mapper.map(parse_line("noisy.a:1|c")) is None
    target = mapper.map(parse_line("svc.api.latency:3|ms"))
    assert target and target.name == "svc_api_latency" and target.observer == "histogram" and target.buckets == (1, 10)
    assert mapper.map(parse_line("svc.api.latency:3|g")).name == "svc_api_latency"  # type: ignore[union-attr]


def test_airflow_statsd_client_end_to_end(bridge):
    """Airflow's own StatsD logger (needs the ``statsd`` package, Airflow's ``statsd`` extra)."""
    statsd = pytest.importorskip("statsd")
    from airflow._shared.observability.metrics import stats, statsd_logger

    stats.initialize(
        factory=lambda: statsd_logger.get_statsd_logger(
            stats_class=statsd.StatsClient,
            host="127.0.0.1",
            port=bridge.statsd_port,
            prefix="airflow",
            influxdb_tags_enabled=True,
            statsd_influxdb_enabled=True,
        ),
        export_legacy_names=True,
    )
    try:
        stats.incr("triggerer_heartbeat", 1, 1, tags={})
        stats.gauge("executor.open_slots", value=4, tags={"status": "open", "executor_class_name": "LocalExecutor"})
        stats.incr("ti_failures", tags={"dag_id": "d", "task_id": "t"})
        with stats.timer("scheduler.scheduler_loop_duration"):
            pass
    finally:
        stats.initialize(factory=lambda: statsd_logger.NoStatsLogger(), export_legacy_names=True)  # type: ignore[attr-defined]
    s = wait_for(bridge, has("airflow_scheduler_scheduler_loop_duration_count"))
    assert value(s, "airflow_triggerer_heartbeat_total") == 1
    assert value(s, "airflow_executor_open_slots", executor="LocalExecutor", status="open") == 4
    assert value(s, "airflow_ti_failures_total", dag_id="d", task_id="t") == 1


def test_runs_as_a_module_and_stops_on_sigterm():
    def free_port(kind: int) -> int:
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    statsd_port, metrics_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "include")}
    argv = [sys.executable, "-m", "localworld.statsd_bridge", "--host", "127.0.0.1"]
    argv += ["--statsd-port", str(statsd_port), "--metrics-port", str(metrics_port), "--mapping", str(MAPPING)]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(b"airflow.scheduler_heartbeat:1|c", ("127.0.0.1", statsd_port))
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as response:
                    text = response.read().decode()
                if 'airflow_scheduler_heartbeat_total{type="counter"}' in text:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the bridge did not come up"
            time.sleep(0.05)
        assert "airflow_scheduler_heartbeat_created" not in text  # like statsd_exporter: no *_created
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_compose_runs_statsd_exporter_with_the_same_mapping_and_prometheus_scrapes_it():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    exporter = compose["services"]["statsd-exporter"]
    mount = next(v for v in exporter["volumes"] if v.startswith("./config/monitoring/statsd-mappings.yml:"))
    assert f"--statsd.mapping-config={mount.split(':')[1]}" in exporter["command"]
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    assert env["AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED"] == "true"
    assert f"--statsd.listen-udp=:{env['AIRFLOW__METRICS__STATSD_PORT']}" in exporter["command"]
    prometheus = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus" / "prometheus.yml").read_text())
    airflow = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "airflow")
    assert airflow["static_configs"][0]["targets"] == ["statsd-exporter:9102"]
