"""bench/hostile.py's pieces: the server under attack, its samplers and
the report of a scenario."""

import collections
import os
import sys
import tempfile
import time

import yaml
from twisted.internet import defer, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from hostile_wire import (  # noqa: E402
    file_size,
    sleep,
    vm_rss_kib,
    vm_status_kib)


# --- server, samplers, report ------------------------------------------------


class Sampler(object):
    """Reads each probe every C{interval} seconds; keeps the last value and
    the largest since L{reset}."""

    def __init__(self, reactor, probes, interval=0.1):
        self.probes = probes
        self.last = {}
        self.peak = {}
        self.loop = task.LoopingCall(self.sample)
        self.loop.clock = reactor
        self.interval = interval

    def start(self):
        self.loop.start(self.interval, now=True)

    def stop(self):
        if self.loop.running:
            self.loop.stop()

    def sample(self):
        for name, probe in self.probes.items():
            value = probe()
            if value is None:
                continue
            self.last[name] = value
            if value > self.peak.get(name, -1):
                self.peak[name] = value

    def reset(self):
        self.sample()
        self.peak = dict(self.last)


def log_bytes(server):
    """Bytes of server output so far (buffered ones included)."""
    handle = server.process.log
    if not handle.closed:
        return handle.tell()
    return file_size(server.log_path)


def write_config(options, overrides):
    """A copy of --config with C{overrides} ({section: {key: value}})."""
    with open(options.config) as handle:
        config = yaml.safe_load(handle) or {}
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    handle = tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix="pyhss-hostile-", delete=False)
    with handle:
        yaml.safe_dump(config, handle, default_flow_style=False)
    return handle.name


def wal_bound(config_path):
    """(bytes, where it comes from) of the server's WAL bound, or
    (None, why)."""
    import dataclasses
    from pyhss import config as pyhss_config
    with open(config_path) as handle:
        raw = ((yaml.safe_load(handle) or {}).get("database") or {}).get(
            "sqlite") or {}
    fields = {f.name: f for f in dataclasses.fields(pyhss_config.SqliteConfig)}
    if "wal_limit" in fields:
        try:
            loaded = pyhss_config.load_config(config_path)
            return (loaded.database.sqlite.wal_limit,
                    "database.sqlite.wal_limit" + (
                        "" if "wal_limit" in raw else " (its default)"))
        except Exception as e:    # an older or newer loader: say so
            return None, "database.sqlite.wal_limit unreadable: %s" % (e,)
    try:
        from pyhss.storage import sqlite as store
        default = getattr(store, "DEFAULT_WAL_LIMIT", None)
    except ImportError:
        default = None
    if default is not None:
        return default, ("SqliteStore's default (no database.sqlite.wal_limit"
                         " in pyhss.config yet)")
    return None, "no WAL bound in this pyhss"


class Item(object):
    """One item: its server, its fast peer and the results of its scenarios."""

    def __init__(self, reactor, options, server, sampler, fast, log):
        self.reactor = reactor
        self.options = options
        self.server = server
        self.sampler = sampler
        self.fast = fast
        self.log = log
        self.baseline = None
        self.results = []

    @property
    def port(self):
        return self.server.port

    def rss(self):
        return vm_rss_kib(self.server.process.pid)

    @defer.inlineCallbacks
    def scenario(self, name, title, attack, after=None):
        """Run C{attack()} (a Deferred of its figures) with the measurements
        around it; C{after(figures)} may add figures once the after wait is
        over."""
        options = self.options
        self.log("scenario %s: %s" % (name, title))
        self.sampler.reset()
        before = self.sampler.last.get("rss")
        pid = self.server.process.pid
        hwm_before = vm_status_kib(pid, "VmHWM")
        log_before = log_bytes(self.server)
        started = time.monotonic()
        if self.fast is not None:
            yield self.fast.phase("attack " + name)
        figures = yield attack()
        attack_s = time.monotonic() - started
        self.sampler.sample()
        peak = self.sampler.peak.get("rss")
        # A peak between two samples still shows in the high-water mark.
        hwm = vm_status_kib(pid, "VmHWM")
        if hwm is not None and hwm_before is not None and hwm > hwm_before:
            peak = max(peak, hwm)
        fast = None
        if self.fast is not None:
            fast = yield self.fast.phase("after " + name)
        yield sleep(self.reactor, options.after)
        self.sampler.sample()
        after_rss = self.sampler.last.get("rss")
        if after is not None:
            yield after(figures)
        fast_after = None
        if self.fast is not None:
            fast_after = yield self.fast.phase("idle")
        result = collections.OrderedDict([
            ("scenario", name), ("title", title),
            ("rss_kib", collections.OrderedDict([
                ("before", before), ("peak", peak), ("after", after_rss),
                ("peak_growth", peak - before),
                ("after_growth", after_rss - before)])),
            ("attack_s", round(attack_s, 2)),
            ("server_log_bytes", log_bytes(self.server) - log_before),
            ("fast_peer", fast_peer_figures(fast)),
            ("fast_peer_baseline", fast_peer_figures(self.baseline)),
            ("fast_peer_after", fast_peer_figures(fast_after)),
            ("figures", figures),
        ])
        self.results.append(result)
        print_block(result)
        return result


def fast_peer_figures(summary):
    if summary is None:
        return None
    errors = summary["errors"]
    return collections.OrderedDict([
        ("sent", summary["sent"]), ("answered", summary["answered"]),
        ("seconds", summary["elapsed_s"]),
        ("p50_ms", summary["latency_ms"]["p50"]),
        ("p99_ms", summary["latency_ms"]["p99"]),
        ("max_ms", summary["latency_ms"]["max"]),
        ("timeouts", errors["timeouts"]),
        ("disconnects", errors["disconnects"]),
        ("error_answers", sum(errors["result_codes"].values())),
    ])


def _mib(kib):
    return "-" if kib is None else "%.1f" % (kib / 1024.0,)


def _fast_line(figures):
    if figures is None:
        return "-"
    return ("%d/%d answered in %.1f s, p50 %s ms, p99 %s ms, max %s ms,"
            " timeouts %d, disconnects %d, error answers %d" % (
                figures["answered"], figures["sent"], figures["seconds"],
                figures["p50_ms"], figures["p99_ms"], figures["max_ms"],
                figures["timeouts"], figures["disconnects"],
                figures["error_answers"]))


def print_block(result):
    rss = result["rss_kib"]
    lines = [
        "",
        "== %s: %s ==" % (result["scenario"], result["title"]),
        "server RSS MiB       : before %s, peak %s (%+.1f), after %s (%+.1f)"
        % (_mib(rss["before"]), _mib(rss["peak"]), rss["peak_growth"] / 1024.0,
           _mib(rss["after"]), rss["after_growth"] / 1024.0),
        "attack               : %.1f s" % (result["attack_s"],),
        "fast peer, baseline  : %s" % (
            _fast_line(result["fast_peer_baseline"]),),
        "fast peer, meanwhile : %s" % (_fast_line(result["fast_peer"]),),
        "fast peer, after     : %s" % (_fast_line(result["fast_peer_after"]),),
        "server log           : %+d bytes" % (result["server_log_bytes"],),
    ]
    for key, value in result["figures"].items():
        if isinstance(value, float):
            value = round(value, 3)
        lines.append("%-21s: %s" % (key.replace("_", " "), value))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
