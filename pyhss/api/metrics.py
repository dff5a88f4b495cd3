"""Prometheus metrics at ``/metrics``: the node's counters, named and labelled.

The node counts with plain integers (:mod:`pyhss.node.stats`); here, only
when Prometheus scrapes, its snapshot becomes metric families
(prometheus-client), together with the API's own request counters and the
process statistics of the HSS (and of the API's child process, prefixed
``pyhss_api_``).  ``snapshot()`` is the node's (reactor mode) or fetched
over the AMP link from the HSS process (child mode).

Series (Prometheus naming: base units, ``_total`` counters):

- ``pyhss_diameter_requests_total{app,command,result}``: requests received, by our answer's result code
- ``pyhss_diameter_request_duration_seconds{app,command}``: time from dispatch to answer
- ``pyhss_diameter_sent_requests_total{app,command,result}``: requests we sent (IDR, CLR), by the
  answer's result code, or timeout / disconnected / not-sent
- ``pyhss_diameter_peers{state}``, ``pyhss_diameter_peer_up{peer,realm,remote}``
- ``pyhss_diameter_watchdog_failures_total{peer}``
- ``pyhss_store_operations_total{operation}``, ``pyhss_store_errors_total{operation}``,
  ``pyhss_store_operation_duration_seconds{operation}`` (one call in 8 timed: timing every call
  cost more than metrics may)
- ``pyhss_sqn_resynchronisations_total{result}``
- ``pyhss_control_requests_total{command,outcome}``
- ``pyhss_api_requests_total{method,route,status}``, ``pyhss_api_request_duration_seconds{method,route}``
"""

import json
import os

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from twisted.internet import defer
from twisted.web import resource, server

from pyhss.api.rest import PROBLEM_JSON, problem_body
from pyhss.api.tokens import Unauthorized
from pyhss.node.stats import LATENCY_BUCKETS, Histogram
from pyhss.protocols import dictionary

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
APPLICATION_NAMES = {dictionary.APP_BASE: "base", dictionary.APP_S6A: "s6a", dictionary.APP_CX: "cx",
                     dictionary.APP_S13: "s13", dictionary.APP_RELAY: "relay"}


def application_name(application_id):
    return APPLICATION_NAMES.get(application_id, str(application_id))


def command_name(application_id, code):
    definition = dictionary.DICTIONARY.command(application_id, code)
    return definition.request_abbrev if definition is not None else str(code)


def _buckets(bounds, counts, total):
    cumulative, found = 0, []
    for bound, count in zip(list(bounds) + ["+Inf"], counts):
        cumulative += count
        found.append((str(bound) if bound == "+Inf" else repr(float(bound)), cumulative))
    return found, total


class ApiStats:
    """The API's own requests (method, route, status) and their latency."""

    def __init__(self):
        self.requests = {}
        self.latency = {}

    def observe(self, method, route, status, seconds):
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get((method, route))
        if histogram is None:
            histogram = self.latency[(method, route)] = Histogram()
        histogram.observe(seconds)


class SnapshotCollector:
    """prometheus-client collector over the last snapshot taken."""

    def __init__(self, api_stats):
        self.api_stats = api_stats
        self.snapshot = None

    def collect(self):
        snapshot = self.snapshot
        if snapshot is not None:
            yield from diameter_families(snapshot)
        yield from api_families(self.api_stats)


def diameter_families(snapshot):
    requests = CounterMetricFamily("pyhss_diameter_requests", "Diameter requests received, by the result "
                                   "code of our answer", labels=("app", "command", "result"))
    for app, command, result, count in snapshot["answered"]:
        requests.add_metric((application_name(app), command_name(app, command), str(result)), count)
    yield requests
    duration = HistogramMetricFamily("pyhss_diameter_request_duration_seconds",
                                     "Seconds from a request's dispatch to its answer", labels=("app", "command"))
    bounds = snapshot["latency_buckets"]
    for app, command, histogram in snapshot["latency"]:
        buckets, total = _buckets(bounds, histogram["counts"], histogram["sum"])
        duration.add_metric((application_name(app), command_name(app, command)), buckets, total)
    yield duration
    sent = CounterMetricFamily("pyhss_diameter_sent_requests", "Diameter requests we sent (IDR, CLR), by the "
                               "answer's result code or why none came", labels=("app", "command", "result"))
    for app, command, result, count in snapshot["sent"]:
        sent.add_metric((application_name(app), command_name(app, command), str(result)), count)
    yield sent
    states = {}
    up = GaugeMetricFamily("pyhss_diameter_peer_up", "1 for each peer whose capabilities exchange is done "
                           "and whose connection is open", labels=("peer", "realm", "remote"))
    for connection in snapshot["connections"]:
        states[connection["state"]] = states.get(connection["state"], 0) + 1
        if connection["peer"] is not None and connection["state"] == "open":
            up.add_metric((connection["peer"], connection["realm"], connection["remote"]), 1)
    peers = GaugeMetricFamily("pyhss_diameter_peers", "Diameter connections by peer state", labels=("state",))
    for state in ("wait_cer", "open", "closing"):
        states.setdefault(state, 0)
    for state, count in sorted(states.items()):
        peers.add_metric((state,), count)
    yield peers
    yield up
    watchdog = CounterMetricFamily("pyhss_diameter_watchdog_failures", "Peers dropped because no DWA came "
                                   "within timers.watchdog_timeout", labels=("peer",))
    for peer, count in snapshot["watchdog_failures"].items():
        watchdog.add_metric((peer,), count)
    yield watchdog
    store = HistogramMetricFamily("pyhss_store_operation_duration_seconds",
                                  "Store operation latency, of one call in %d" % snapshot.get("store_sample", 1),
                                  labels=("operation",))
    errors = CounterMetricFamily("pyhss_store_errors", "Store operations that failed", labels=("operation",))
    calls = CounterMetricFamily("pyhss_store_operations", "Store operations called", labels=("operation",))
    failures = {}
    for name, histogram, failed in snapshot["store"]:
        failures[name] = failed
        if sum(histogram["counts"]):
            buckets, total = _buckets(bounds, histogram["counts"], histogram["sum"])
            store.add_metric((name,), buckets, total)
    for name, count in snapshot.get("store_calls", {}).items():
        if count:
            calls.add_metric((name,), count)
            errors.add_metric((name,), failures.get(name, 0))
    yield store
    yield errors
    yield calls
    counters = snapshot["counters"]
    resync = CounterMetricFamily("pyhss_sqn_resynchronisations", "AIR re-synchronisations (AUTS) verified "
                                 "or refused", labels=("result",))
    resync.add_metric(("ok",), counters.get("sqn_resynchronisations", 0))
    resync.add_metric(("failed",), counters.get("sqn_resynchronisations_failed", 0))
    yield resync
    control = CounterMetricFamily("pyhss_control_requests", "Control-socket (and API) requests to the "
                                  "running server, by outcome", labels=("command", "outcome"))
    for command, outcome, count in snapshot["control"]:
        control.add_metric((command, outcome), count)
    yield control


def api_families(api_stats):
    requests = CounterMetricFamily("pyhss_api_requests", "REST API requests", labels=("method", "route", "status"))
    for (method, route, status), count in api_stats.requests.items():
        requests.add_metric((method, route, str(status)), count)
    yield requests
    duration = HistogramMetricFamily("pyhss_api_request_duration_seconds", "REST API request latency",
                                     labels=("method", "route"))
    for (method, route), histogram in api_stats.latency.items():
        buckets, total = _buckets(LATENCY_BUCKETS, histogram.counts, histogram.total)
        duration.add_metric((method, route), buckets, total)
    yield duration


class MetricsResource(resource.Resource):
    """``/metrics``: ``snapshot()`` fires the node's snapshot (or None when
    it counts nothing); ``hss_pid`` the HSS process for process_* series."""

    isLeaf = True

    def __init__(self, snapshot, api_stats, tokens, hss_pid=None):
        resource.Resource.__init__(self)
        self.fetch = snapshot
        self.tokens = tokens
        self.collector = SnapshotCollector(api_stats)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        hss_pid = hss_pid or os.getpid()
        self.registry.register(ProcessCollector(pid=lambda: hss_pid, registry=None))
        if hss_pid != os.getpid():
            self.registry.register(ProcessCollector(namespace="pyhss_api", registry=None))

    def render_GET(self, request):
        try:
            self.tokens.check(request, write=False)
        except Unauthorized as e:
            request.setResponseCode(401)
            request.setHeader(b"www-authenticate", b'Bearer realm="pyhss"')
            request.setHeader(b"content-type", PROBLEM_JSON)
            return json.dumps(problem_body(401, str(e))).encode()
        d = defer.maybeDeferred(self.fetch)

        def render(snapshot):
            self.collector.snapshot = snapshot
            request.setHeader(b"content-type", CONTENT_TYPE)
            request.write(generate_latest(self.registry))
            request.finish()

        def failed(reason):
            request.setResponseCode(503)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.write(f"metrics of the HSS process unavailable: {reason.getErrorMessage()}\n".encode())
            request.finish()
        d.addCallback(render).addErrback(failed)
        return server.NOT_DONE_YET
