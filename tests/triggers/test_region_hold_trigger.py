"""RegionHoldTrigger against a local HTTP endpoint whose health the test switches."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from multiregion.monitoring.prometheus import PrometheusError, parse_scalar
from multiregion.triggers.hold import RegionHoldTrigger

POLICY = {"failure_threshold": 2, "success_threshold": 2, "probe_timeout_s": 1.0}
NOW = {"min_fire_s": 0.0}  # no start-up delay (it protects deferred tasks in a running Airflow)


class Endpoint:
    """/health answers ``status`` (changeable while the trigger runs)."""

    def __init__(self) -> None:
        self.status, self.hits, self.fail_next = 200, 0, 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.hits += 1
                failing = endpoint.fail_next > 0
                endpoint.fail_next -= failing
                self.send_response(500 if failing else endpoint.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


def _first_event(trigger: RegionHoldTrigger, during=None) -> dict:
    async def run():
        if during:
            asyncio.get_running_loop().call_later(*during)
        async for event in trigger.run():
            return event.payload

    return asyncio.run(run())


def test_await_healthy_fires_after_the_hold(endpoint):
    event = _first_event(RegionHoldTrigger("r", endpoint.url, "await_healthy", 0.5, 0.1, POLICY, timeout_s=10, **NOW))
    assert event["status"] == "healthy" and event["state"] == "healthy" and event["held_s"] >= 0.5


def test_await_healthy_times_out_on_a_dead_region(endpoint):
    endpoint.status = 503
    event = _first_event(RegionHoldTrigger("r", endpoint.url, "await_healthy", 0.5, 0.1, POLICY, timeout_s=1, **NOW))
    assert event["status"] == "timeout" and event["reason"] == "HTTP 503"


def test_gate_passes_a_healthy_step(endpoint):
    event = _first_event(RegionHoldTrigger("r", endpoint.url, "gate", 0.6, 0.1, POLICY, **NOW))
    assert event["status"] == "ok" and endpoint.hits >= 3


def test_gate_reports_a_regression_during_the_hold(endpoint):
    def fail():
        endpoint.status = 500

    event = _first_event(RegionHoldTrigger("r", endpoint.url, "gate", 30, 0.1, POLICY, **NOW), during=(0.3, fail))
    assert event["status"] == "regression" and event["reason"] == "HTTP 500" and event["held_s"] < 30


def test_gate_tolerates_a_single_failed_probe(endpoint):
    """Hysteresis: one bad probe (below the failure threshold) is not a regression."""

    def blip():
        endpoint.fail_next = 1

    event = _first_event(RegionHoldTrigger("r", endpoint.url, "gate", 1.0, 0.1, POLICY, **NOW), during=(0.3, blip))
    assert event["status"] == "ok" and endpoint.fail_next == 0  # the bad probe happened


def test_no_event_before_the_minimum_age(endpoint):
    """An immediate verdict would race Airflow's own bookkeeping of the deferral (see MIN_FIRE_S)."""
    endpoint.status = 500
    event = _first_event(RegionHoldTrigger("r", endpoint.url, "gate", 1, 0.1, POLICY, min_fire_s=1.5))
    assert event["status"] == "regression" and event["held_s"] >= 1.5


def test_serialize_round_trip_and_bad_mode():
    trigger = RegionHoldTrigger("r", "http://127.0.0.1:1", "gate", 3, 0.5, POLICY, None, "http://p:1", 0.05)
    path, kwargs = trigger.serialize()
    assert path == "multiregion.triggers.hold.RegionHoldTrigger"
    assert RegionHoldTrigger(**kwargs).serialize() == (path, kwargs)
    assert kwargs["min_fire_s"] == 8.0
    with pytest.raises(ValueError, match="mode must be one of"):
        RegionHoldTrigger("r", "http://x:1", "wait", 1)


def test_prometheus_answers():
    assert parse_scalar({"status": "success", "data": {"result": []}}) is None  # no traffic
    assert parse_scalar({"status": "success", "data": {"result": [{"value": [1, "NaN"]}]}}) is None
    assert parse_scalar({"status": "success", "data": {"result": [{"value": [1, "0.25"]}]}}) == 0.25
    with pytest.raises(PrometheusError, match="bad_data"):
        parse_scalar({"status": "error", "error": "bad_data: parse error"})
