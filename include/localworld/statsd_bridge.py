"""A small StatsD -> Prometheus bridge for the native world (prom/statsd-exporter is not installable here).

Airflow sends its own metrics over StatsD (UDP); this process turns them into Prometheus metrics
served at ``/metrics``, with the same mapping file format and the same behaviour as
prometheus/statsd_exporter for what Airflow uses (docker-compose.yaml runs the real exporter with
the same mapping file, config/monitoring/statsd-mappings.yml, the Airflow Helm chart's):

- lines ``name:value|type[|@rate][|#k:v,...]``, several per packet; types ``c`` (counter), ``g``
  (gauge; ``+n``/``-n`` is a delta), ``ms``/``h``/``d`` (timers, exported in seconds);
- tags in DogStatsD (``|#k:v``) and InfluxDB (``name,k=v:1|c``, what Airflow sends with
  ``statsd_influxdb_enabled``) form, which become labels (names sanitized);
- mappings tried in file order, first match wins: glob (``*`` = one dot-free part, anchored) or
  ``match_type: regex`` (unanchored, as in statsd_exporter); ``$n``/``${n}`` in name and labels;
  mapping labels override tags; ``match_metric_type``, ``action: drop``, ``observer_type``;
- unmapped names: every character outside ``[a-zA-Z0-9_]`` becomes ``_``.

Timers are Summaries (statsd_exporter's default observer; only ``_sum``/``_count``, no quantiles)
unless a mapping says ``observer_type: histogram``. prometheus-client exposes a counter ``x`` as
``x_total``: statsd_exporter does not add the suffix, so rules that must work in both worlds
match ``x(_total)?``.

One name has one type and one set of label names, the first seen (like statsd_exporter): a later
event with another type or other label names is dropped, logged once and counted in
``statsd_bridge_dropped_events_total{reason}``. Malformed lines are counted in
``statsd_bridge_malformed_lines_total`` and logged at debug; nothing a client sends stops the bridge.

``python -m localworld.statsd_bridge --statsd-port 18125 --metrics-port 18102 --mapping FILE``
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import signal
import socket
import socketserver
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    disable_created_metrics,
    start_http_server,
)

log = logging.getLogger(__name__)

MetricType = Literal["counter", "gauge", "observer"]
ObserverType = Literal["summary", "histogram"]

_TYPES: dict[str, MetricType] = {"c": "counter", "g": "gauge", "ms": "observer", "h": "observer", "d": "observer"}
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_TEMPLATE = re.compile(r"\$\{(\d+)\}|\$(\d+)")
_MAX_REPEAT = 1000  # a timer sampled at @0.0001 is observed 1000 times, not 10000


class MalformedLine(ValueError):
    """A StatsD line the bridge can't read."""


def escape_name(name: str) -> str:
    """statsd_exporter's EscapeMetricName: invalid characters -> ``_``, a leading digit gets ``_``."""
    escaped = _INVALID_NAME_CHARS.sub("_", name)
    return f"_{escaped}" if escaped[:1].isdigit() else escaped


@dataclass(frozen=True)
class Event:
    name: str  # the StatsD name, tags removed
    type: MetricType
    value: float
    relative: bool = False  # a gauge delta (+n / -n)
    tags: dict[str, str] = field(default_factory=dict)
    repeat: int = 1  # a sampled timer stands for 1/rate observations


def _add_tag(tags: dict[str, str], key: str, value: str, line: str) -> None:
    if not key or not value:
        log.debug("Skipping an empty tag in %r", line)
        return
    tags[escape_name(key)] = value


def parse_line(line: str) -> Event:
    """One StatsD line (``name[,k=v...]:value|type[|@rate][|#k:v,...]``) to an event."""
    name, sep, rest = line.partition(":")
    if not sep or not name or not rest:
        raise MalformedLine("expected name:value|type")
    tags: dict[str, str] = {}
    if "," in name:  # InfluxDB tags: name,k=v,k2=v2
        name, *pairs = name.split(",")
        for pair in pairs:
            key, _, value = pair.partition("=")
            _add_tag(tags, key, value, line)
    if not name:
        raise MalformedLine("empty metric name")
    value_text, *sections = rest.split("|")
    if not sections:
        raise MalformedLine("no metric type")
    kind = _TYPES.get(sections[0])
    if kind is None:
        raise MalformedLine(f"unsupported metric type {sections[0]!r}")
    rate = 1.0
    for section in sections[1:]:
        if section.startswith("@"):
            try:
                rate = float(section[1:])
            except ValueError:
                raise MalformedLine(f"bad sample rate {section!r}") from None
            if not 0 < rate <= 1:
                raise MalformedLine(f"sample rate out of (0, 1]: {section!r}")
        elif section.startswith("#"):  # DogStatsD tags: #k:v,k2:v2
            for tag in section[1:].split(","):
                key, _, value = tag.partition(":")
                _add_tag(tags, key, value, line)
        else:  # e.g. DogStatsD's |c:<container> or |T<timestamp>: not used by Airflow
            log.debug("Ignoring section %r of %r", section, line)
    try:
        value = float(value_text)
    except ValueError:
        raise MalformedLine(f"bad value {value_text!r}") from None
    if not math.isfinite(value):
        raise MalformedLine(f"non-finite value {value_text!r}")
    if kind == "counter":
        return Event(name, kind, value / rate, tags=tags)
    if kind == "gauge":
        return Event(name, kind, value, relative=value_text[0] in "+-", tags=tags)
    return Event(name, kind, value / 1000.0, tags=tags, repeat=min(_MAX_REPEAT, max(1, round(1 / rate))))


@dataclass(frozen=True)
class Rule:
    """One mapping of the statsd_exporter mapping file."""

    regex: re.Pattern[str]
    name: str
    labels: dict[str, str]
    metric_type: MetricType | None = None  # match_metric_type
    drop: bool = False
    observer: ObserverType | None = None
    buckets: tuple[float, ...] | None = None
    help: str | None = None


def glob_to_regex(glob: str) -> re.Pattern[str]:
    return re.compile("^" + "([^.]*)".join(re.escape(part) for part in glob.split("*")) + "$")


def _observer_type(entry: Mapping[str, Any]) -> ObserverType | None:
    value = entry.get("observer_type") or entry.get("timer_type")
    if value in (None, "", "default"):
        return None
    if value not in ("summary", "histogram"):
        raise ValueError(f"unsupported observer_type {value!r}")
    return value


def load_rules(path: str | Path) -> tuple[list[Rule], ObserverType]:
    """The mappings of a statsd_exporter mapping file, and the default observer type for timers."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    defaults = doc.get("defaults") or {}
    default_match = defaults.get("match_type") or "glob"
    rules = []
    for i, entry in enumerate(doc.get("mappings") or []):
        where = f"{path}: mapping {i + 1} ({entry.get('match')!r})"
        match_type = entry.get("match_type") or default_match
        if match_type not in ("glob", "regex"):
            raise ValueError(f"{where}: unsupported match_type {match_type!r}")
        drop = entry.get("action") == "drop"
        if not drop and not entry.get("name"):
            raise ValueError(f"{where}: no name")
        metric_type = entry.get("match_metric_type")
        if metric_type not in (None, "counter", "gauge", "observer"):
            raise ValueError(f"{where}: unsupported match_metric_type {metric_type!r}")
        buckets = (entry.get("histogram_options") or {}).get("buckets") or entry.get("buckets")
        rules.append(
            Rule(
                regex=glob_to_regex(entry["match"]) if match_type == "glob" else re.compile(entry["match"]),
                name=str(entry.get("name") or ""),
                labels={str(k): str(v) for k, v in (entry.get("labels") or {}).items()},
                metric_type=metric_type,
                drop=drop,
                observer=_observer_type(entry),
                buckets=tuple(float(b) for b in buckets) if buckets else None,
                help=entry.get("help"),
            )
        )
    return rules, _observer_type(defaults) or "summary"


def _expand(template: str, match: re.Match[str]) -> str:
    def group(m: re.Match[str]) -> str:
        n = int(m.group(1) or m.group(2))
        return (match.group(n) or "") if n <= (match.re.groups or 0) else ""

    return _TEMPLATE.sub(group, template)


@dataclass(frozen=True)
class Target:
    """Where an event lands: a Prometheus name, labels and (for timers) the observer."""

    name: str
    labels: dict[str, str]
    observer: ObserverType
    buckets: tuple[float, ...] | None = None
    help: str | None = None


class Mapper:
    def __init__(self, rules: list[Rule], default_observer: ObserverType = "summary") -> None:
        self.rules = rules
        self.default_observer = default_observer

    def map(self, event: Event) -> Target | None:
        """The event's Prometheus target, or None when a mapping drops it."""
        for rule in self.rules:
            if rule.metric_type is not None and rule.metric_type != event.type:
                continue
            match = rule.regex.search(event.name)
            if match is None:
                continue
            if rule.drop:
                return None
            labels = {**event.tags, **{k: _expand(v, match) for k, v in rule.labels.items()}}
            observer = rule.observer or self.default_observer
            return Target(escape_name(_expand(rule.name, match)), labels, observer, rule.buckets, rule.help)
        return Target(escape_name(event.name), dict(event.tags), self.default_observer)


@dataclass
class _Family:
    type: MetricType
    label_names: tuple[str, ...]
    metric: Any  # Counter | Gauge | Summary | Histogram


class StatsdBridge:
    """Turns StatsD packets into metrics of one prometheus-client registry. Not thread-safe: one
    receiving thread calls ``handle_packet``; the HTTP server only reads the registry."""

    def __init__(self, mapper: Mapper, registry: CollectorRegistry | None = None) -> None:
        self.mapper = mapper
        self.registry = registry or CollectorRegistry()
        self._families: dict[str, _Family] = {}
        self._warned: set[tuple[str, MetricType, tuple[str, ...]]] = set()
        self.malformed = Counter(
            "statsd_bridge_malformed_lines", "StatsD lines that could not be parsed", registry=self.registry
        )
        self.events = Counter("statsd_bridge_events", "StatsD events received", ["type"], registry=self.registry)
        self.dropped = Counter(
            "statsd_bridge_dropped_events",
            "StatsD events not exported (label_conflict, type_conflict, invalid, negative_counter, mapping_drop)",
            ["reason"],
            registry=self.registry,
        )

    def handle_packet(self, data: bytes) -> None:
        for raw in data.splitlines():
            if not raw.strip():
                continue
            try:
                event = parse_line(raw.decode("utf-8").strip())
            except (MalformedLine, UnicodeDecodeError) as e:
                self.malformed.inc()
                log.debug("Malformed StatsD line %r: %s", raw, e)
                continue
            self.handle_event(event)

    def handle_event(self, event: Event) -> None:
        self.events.labels(event.type).inc()
        target = self.mapper.map(event)
        if target is None:
            self.dropped.labels("mapping_drop").inc()
            return
        if event.type == "counter" and event.value < 0:
            self._drop("negative_counter", target.name, event.type, (), "counters only go up")
            return
        label_names = tuple(sorted(target.labels))
        family = self._family(target, event.type, label_names)
        if family is None:
            return
        metric = family.metric.labels(**target.labels) if label_names else family.metric
        if event.type == "counter" or event.relative:  # only gauges are relative
            metric.inc(event.value)
        elif event.type == "gauge":
            metric.set(event.value)
        else:
            for _ in range(event.repeat):
                metric.observe(event.value)

    def _family(self, target: Target, kind: MetricType, label_names: tuple[str, ...]) -> _Family | None:
        family = self._families.get(target.name)
        if family is not None:
            if family.type != kind:
                self._drop("type_conflict", target.name, kind, label_names, f"it is a {family.type}")
                return None
            if family.label_names != label_names:
                self._drop("label_conflict", target.name, kind, label_names, f"it has labels {family.label_names}")
                return None
            return family
        doc = target.help or f"StatsD {kind} {target.name}"
        try:
            if kind == "counter":
                metric: Any = Counter(target.name, doc, label_names, registry=self.registry)
            elif kind == "gauge":
                metric = Gauge(target.name, doc, label_names, registry=self.registry)
            elif target.observer == "histogram":
                extra = {"buckets": target.buckets} if target.buckets else {}
                metric = Histogram(target.name, doc, label_names, registry=self.registry, **extra)
            else:
                metric = Summary(target.name, doc, label_names, registry=self.registry)
        except ValueError as e:  # a name clashing with another family's series, a reserved label...
            self._drop("invalid", target.name, kind, label_names, str(e))
            return None
        family = self._families[target.name] = _Family(kind, label_names, metric)
        return family

    def _drop(self, reason: str, name: str, kind: MetricType, label_names: tuple[str, ...], why: str) -> None:
        self.dropped.labels(reason).inc()
        if (name, kind, label_names) not in self._warned:
            self._warned.add((name, kind, label_names))
            log.warning("Dropping %s %s with labels %s (%s): %s", kind, name, list(label_names), reason, why)


class _UdpServer(socketserver.UDPServer):
    max_packet_size = 65535

    def __init__(self, address: tuple[str, int], bridge: StatsdBridge) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.bridge = bridge
        super().__init__(address, _UdpHandler)


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, _sock = self.request
        try:
            self.server.bridge.handle_packet(data)
        except Exception:  # never let one packet stop the listener
            log.exception("Failed to handle a StatsD packet")


class RunningBridge:
    """A bridge listening on UDP and serving /metrics; ``close()`` stops both."""

    def __init__(self, bridge: StatsdBridge, host: str, statsd_port: int, metrics_port: int) -> None:
        self.bridge = bridge
        self._udp = _UdpServer((host, statsd_port), bridge)
        self.statsd_port: int = self._udp.server_address[1]
        self._udp_thread = threading.Thread(target=self._udp.serve_forever, name="statsd-udp", daemon=True)
        self._udp_thread.start()
        self._http, self._http_thread = start_http_server(metrics_port, addr=host, registry=bridge.registry)
        self.metrics_port: int = self._http.server_port

    def close(self) -> None:
        self._udp.shutdown()
        self._udp.server_close()
        self._http.shutdown()
        self._http.server_close()


def serve(mapping: str | Path, host: str = "127.0.0.1", statsd_port: int = 0, metrics_port: int = 0) -> RunningBridge:
    """Start a bridge with the mapping file; port 0 picks a free port (see ``statsd_port``/``metrics_port``)."""
    rules, default_observer = load_rules(mapping)
    return RunningBridge(StatsdBridge(Mapper(rules, default_observer)), host, statsd_port, metrics_port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address for both listeners (default 127.0.0.1)")
    parser.add_argument("--statsd-port", type=int, required=True, help="UDP port StatsD clients send to")
    parser.add_argument("--metrics-port", type=int, required=True, help="HTTP port serving /metrics")
    parser.add_argument("--mapping", required=True, help="statsd_exporter mapping file (YAML)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    disable_created_metrics()  # statsd_exporter has no *_created series either
    running = serve(args.mapping, args.host, args.statsd_port, args.metrics_port)
    log.info(
        "StatsD on udp://%s:%d, metrics on http://%s:%d/metrics (%d mappings from %s)",
        args.host,
        running.statsd_port,
        args.host,
        running.metrics_port,
        len(running.bridge.mapper.rules),
        args.mapping,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    running.close()


if __name__ == "__main__":
    main()
