"""The monitoring configuration: the alert rules and their promtool tests, Alertmanager's routing
(the repo's and the world's), and Prometheus's scrape config generated from the topology."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from localworld.provision import alertmanager_config
from localworld.settings import load_settings

from multiregion.core.topology import load_topology
from multiregion.monitoring.prometheus_config import scrape_config

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "config" / "monitoring"
RULES = MON / "rules" / "multiregion.yml"
TESTS = sorted((MON / "tests").glob("*.test.yml"))  # seconds-scale alerts, and minutes-to-days (faster)


def _run(*argv: str | Path) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_rules_are_valid():
    assert "SUCCESS" in _run("promtool", "check", "rules", RULES)


def test_promtool_unit_tests_pass():
    assert len(TESTS) == 2
    assert _run("promtool", "test", "rules", *TESTS).count("SUCCESS") == len(TESTS)


def test_every_alert_has_a_firing_and_a_quiet_case():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tests = [t for f in TESTS for t in yaml.safe_load(f.read_text())["tests"]]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    fired = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    # a firing case whose input also holds series that must not alert counts as quiet as well
    # (exp_alerts lists every alert expected: any extra one fails the test)
    assert alerts - fired == set(), f"alerts never shown firing: {sorted(alerts - fired)}"
    assert len(alerts) >= 18 and quiet, "rules or quiet cases went missing"


@pytest.mark.parametrize("which", ["repo", "world"])
def test_alertmanager_config_is_valid(which, tmp_path):
    path = MON / "alertmanager.yml"
    if which == "world":
        config = alertmanager_config(load_settings())
        (receiver,) = config["receivers"]
        assert receiver["webhook_configs"][0]["send_resolved"] is True
        path = tmp_path / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
    assert "SUCCESS" in _run("amtool", "check-config", path)


def test_world_routes_every_alert_to_the_sink(tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(load_settings())))
    out = _run("amtool", "config", "routes", "test", f"--config.file={path}", "alertname=RegionDown", "region=x")
    assert out.strip() == "ops"


def test_scrape_config_covers_the_topology(tmp_path):
    topology = load_topology()
    config = scrape_config(topology, [str(RULES)])
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"serving", "pushgateway", "airflow", "monitoring"}
    serving = {(sc["labels"]["region"], sc["targets"][0]) for sc in jobs["serving"]["static_configs"]}
    assert serving == {(r.name, e.split("://")[1]) for r in topology.regions for e in r.serving.endpoints}
    assert jobs["pushgateway"]["honor_labels"] is True
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    assert "SUCCESS" in _run("promtool", "check", "config", path)


def test_compose_prometheus_config_is_the_generators_output():
    compose = ROOT / "deploy" / "compose"
    expected = scrape_config(load_topology(compose / "topology.compose.yaml"), ["rules/*.yml"])
    assert yaml.safe_load((compose / "prometheus" / "prometheus.yml").read_text()) == expected
