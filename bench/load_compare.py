"""
diameter_load's comparisons: the same load against several store backends
(--store a,b,c) and with the server's metrics on and off (--metrics compare).

See bench/README.md.
"""

import json
import sys

from twisted.internet import defer

from request_kinds import REQUEST_KINDS
from spawned_server import SpawnedServer


def _database_for(name, options, log):
    """(database config section, database server to stop or None)."""
    if name == "sqlite":
        return {"backend": "sqlite"}, None
    if name == "mongodb":
        from urllib.parse import urlsplit
        uri = urlsplit(options.mongodb_uri)
        return {"backend": "mongodb", "server": {
            "host": uri.hostname or "127.0.0.1", "port": uri.port or 27017,
            "database": uri.path.lstrip("/") or "pyhss_bench",
            "pool_size": options.pool_size}}, None
    from tests import db_servers
    log("starting a private %s server (durable settings)" % (name,))
    server = db_servers.private_server(name, durable=True)
    database_name = server.create_database()
    return server.server_config(database_name, pool_size=options.pool_size), server


@defer.inlineCallbacks
def compare_stores(reactor, options, log, load_run, provision):
    """Every --store backend, every kind: the rows of the final table.

    ``load_run`` and ``provision`` are diameter_load's LoadRun and _provision."""
    rows = []
    for name in options.stores:
        database, database_server = _database_for(name, options, log)
        server = SpawnedServer(reactor, options.config, log)
        server.database = database
        try:
            yield server.start(prepare=lambda spawned: provision(
                reactor, spawned, options, log))
            for kind_name in options.kinds:
                options.request = kind_name
                options.host, options.port = "127.0.0.1", server.port
                kind = REQUEST_KINDS[kind_name](options, options.origin_host,
                                                options.origin_realm)
                run = load_run(reactor, options, kind)
                before = server.cpu_seconds()
                summary = yield run.run()
                after = server.cpu_seconds()
                if before is not None and after is not None:
                    summary["server_cpu_s"] = round(after - before, 3)
                summary.update(store=name, kind=kind_name)
                rows.append(summary)
        finally:
            yield server.stop()
            if database_server is not None:
                database_server.stop()
    return rows


def format_store_table(rows):
    lines = ["store       kind  req/s     p50 ms  p99 ms  max ms   server CPU us/req  errors"]
    for row in rows:
        latency = row["latency_ms"]
        cpu = row.get("server_cpu_s")
        per = "-" if not cpu or not row["answered"] else "%.0f" % (cpu / row["answered"] * 1e6,)
        errors = dict(row["errors"]["result_codes"] or {})
        if row["errors"]["timeouts"]:
            errors["timeouts"] = row["errors"]["timeouts"]
        lines.append("%-11s %-5s %-9.1f %-7s %-7s %-8s %-18s %s" % (
            row["store"], row["kind"], row["requests_per_s"],
            "%.2f" % latency["p50"] if latency["p50"] is not None else "-",
            "%.2f" % latency["p99"] if latency["p99"] is not None else "-",
            "%.2f" % latency["max"] if latency["max"] is not None else "-",
            per, errors or "none"))
    return "\n".join(lines)


@defer.inlineCallbacks
def compare_metrics(reactor, argv, parse_arguments, run_once):
    """The same load with metrics on and off, alternately (--rounds pairs).

    Throughput on a shared machine swings with the neighbours' load; the
    server's CPU seconds per answered request swing much less, so both are
    reported: the best and the median rate of each setting, and the median
    CPU per request."""
    rates = {"on": [], "off": []}
    cpu = {"on": [], "off": []}
    rounds = parse_arguments(argv).rounds
    for setting in ("on", "off") * rounds:
        options = parse_arguments(argv)
        options.metrics = setting
        summary = yield run_once(reactor, options, quiet=True)
        rates[setting].append(summary["requests_per_s"])
        if summary.get("server_cpu_s") and summary["answered"]:
            cpu[setting].append(1e6 * summary["server_cpu_s"] / summary["answered"])
        print("# metrics %s: %.1f requests/s, p99 %s ms, server CPU %s us/request" % (
            setting, summary["requests_per_s"], summary["latency_ms"]["p99"],
            "%.1f" % cpu[setting][-1] if cpu[setting] else "-"))
        sys.stdout.flush()
    on, off = max(rates["on"]), max(rates["off"])
    cost = 100.0 * (off - on) / off if off else 0.0
    median_on, median_off = _median(rates["on"]), _median(rates["off"])
    median_cost = 100.0 * (median_off - median_on) / median_off if median_off else 0.0
    cpu_on, cpu_off = _median(cpu["on"]), _median(cpu["off"])
    cpu_cost = 100.0 * (cpu_on - cpu_off) / cpu_off if cpu_off else None
    print("metrics on  : %s requests/s (best %.1f, median %.1f)" % (rates["on"], on, median_on))
    print("metrics off : %s requests/s (best %.1f, median %.1f)" % (rates["off"], off, median_off))
    print("cost        : %.1f%% of throughput (best of each), %.1f%% (medians)" % (cost, median_cost))
    if cpu_cost is not None:
        print("server CPU  : %.1f us/request on, %.1f off (medians): %+.1f%%" % (cpu_on, cpu_off, cpu_cost))
    print(json.dumps({"kind": options.request, "metrics_on": rates["on"], "metrics_off": rates["off"],
                      "cost_percent": round(cost, 2), "median_cost_percent": round(median_cost, 2),
                      "cpu_us_per_request_on": [round(v, 1) for v in cpu["on"]],
                      "cpu_us_per_request_off": [round(v, 1) for v in cpu["off"]],
                      "cpu_cost_percent": None if cpu_cost is None else round(cpu_cost, 2)}))


def _median(values):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0
