#!/usr/bin/env python
"""
Hostile peers against a spawned pyhss server, as one suite.

Each item of the reliability issue is an attack that once cost the server
memory, log space or other peers' service; each is defended now.  This script
reproduces every attack against a server of its own (``twistd -n pyhss`` on a
free 127.0.0.1 port, bench/spawned_server.py) and measures:

* the server's RSS (VmRSS of /proc/<pid>/status, sampled every 0.1 s):
  just before the attack, its peak during the attack, and a few seconds
  after the attacker has gone;
* a well-behaved "fast peer" (a separate process: bench/diameter_load.py's
  client, one connection from 127.0.0.1, AIRs with a window of 10) running
  all along: its answers and p50/p99 alone first (the baseline), then during
  each attack;
* the attack's own figure: peers admitted and their time to CEA, bytes held,
  log bytes, WAL size...

Items (attackers connect from 127.0.0.2 and up, the fast peer from 127.0.0.1):

  1   codec repeat-cache flood: DWRs each carrying a distinct ~60 KiB
      Vendor-Specific-Application-Id made of 12-byte unknown AVPs; 1a each
      on a new connection before any CER, 1b on one open connection, 1c many
      distinct small (248-byte, cacheable) groups on one open connection
  2   no backpressure: a peer that never reads; 2a AIRs asking for 32
      vectors, 2b DWRs
  3   connections that never send a CER (re-opened as the server closes
      them) while good peers connect; 3a attackers on 16 source addresses,
      good peers on another; 3b everyone on 127.0.0.1
  4   slow partial messages: connections (after CER) each trickling a
      60,000-byte message in small chunks, never finishing it
  11  SQLite WAL size under a long AIR load (window 50)
  12  log flood: answers with unknown hop-by-hop identifiers

    .venv/bin/python bench/hostile.py               # the full figures (~8 min)
    .venv/bin/python bench/hostile.py --short       # the CI sizes (~1 min)
    .venv/bin/python bench/hostile.py --only 2,12

Its pieces: hostile_wire.py (the bytes the attackers send, /proc figures),
hostile_peers.py (the attackers' connections, the fast peer),
hostile_report.py (the server under attack, samplers, the report),
hostile_attacks.py (one function per item).

Prints a block per scenario, then one JSON line per scenario.  Asserts
nothing (tests/test_bench_hostile.py runs --short and asserts the bounds).
Everything stays on 127.0.0.x; every loop is bounded in count and time.
See bench/README.md.
"""

import argparse
import json
import os
import sys
import time

import yaml
from twisted.internet import defer, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from hostile_wire import (  # noqa: E402
    LEFT,
    stop_children,
    file_size,
    sleep,
    vm_rss_kib)
from hostile_peers import (  # noqa: E402
    fast_peer_main,
    start_fast_peer)
from hostile_report import (  # noqa: E402
    Item,
    Sampler,
    write_config)
from hostile_attacks import (  # noqa: E402
    ITEM_RUNNERS)


ITEMS = (1, 2, 3, 4, 11, 12)


@defer.inlineCallbacks
def run_item(reactor, options, number, log):
    from spawned_server import SpawnedServer
    from provision import provision
    overrides = {"limits": {}}
    if options.stall_timeout_given:
        overrides["limits"]["write_stall_timeout"] = options.stall_timeout
    for section, key, value in options.set:
        overrides.setdefault(section, {})[key] = value
    config = write_config(options, overrides)
    LEFT["files"].append(config)
    server = SpawnedServer(reactor, config, log)
    LEFT["directories"].append(server.directory)
    LEFT["servers"].append(server)
    fast = None
    sampler = None
    item = None
    try:
        yield server.start(prepare=lambda spawned: provision(
            reactor, spawned.database_path, "001010000000000",
            options.subscribers))
        pid = server.process.pid
        sampler = Sampler(reactor, {"rss": lambda: vm_rss_kib(pid)})
        sampler.start()
        window = options.wal_window if number == 11 else options.fast_window
        fast = yield start_fast_peer(reactor, server.port, options, window,
                                     "fast.bench.test", log)
        item = Item(reactor, options, server, sampler, fast, log)
        item.server_config = config
        if number != 11:
            yield sleep(reactor, options.baseline)
            item.baseline = yield fast.phase("idle")
        else:
            item.baseline = None
        item_deadline = reactor.callLater(
            options.max_item_seconds, lambda: log(
                "item %d ran past %ss" % (number, options.max_item_seconds)))
        yield ITEM_RUNNERS[number](item)
        if item_deadline.active():
            item_deadline.cancel()
        final = yield fast.stop()
        if final is not None and item.results:
            item.results[-1]["fast_peer_totals"] = final.get("totals")
        yield fast.ended
        fast = None
        # Stop the server first and count its log to the end (the
        # summariser may log pending counts on the way out), then clean up.
        if number == 12 and item.results:
            server.process.transport.signalProcess("TERM")
            yield server.process.ended
            result = item.log_scenario
            result["figures"]["log_bytes_until_server_stopped"] = (
                file_size(server.log_path) - item.log_before_12)
            with open(server.log_path, "rb") as handle:
                handle.seek(item.log_before_12)
                tail = handle.read(4000).decode("utf-8", "replace")
            lines = [line for line in tail.splitlines() if line.strip()]
            result["figures"]["log_lines"] = len(lines)
            sys.stdout.write("server log from the attack on (%d lines):\n%s\n"
                             % (len(lines), "\n".join(
                                 "  " + line[:300] for line in lines[:8])))
        return item.results
    finally:
        if sampler is not None:
            sampler.stop()
        if fast is not None and not fast.ended.called:
            fast.transport.signalProcess("KILL")
        if not LEFT["stopping"]:
            # (When the reactor is stopping, stop_children cleans up.)
            yield server.stop()
            os.unlink(config)
            LEFT["files"].remove(config)
            LEFT["directories"].remove(server.directory)
            LEFT["servers"].remove(server)


# --- command line ------------------------------------------------------------


FULL = dict(subscribers=10000, baseline=5.0, after=3.0, flood_dwrs=1000,
            small_groups=100000, airs=60000, dwr_bytes=100000000,
            idle=1023, idle_seconds=10.0, partial_connections=200,
            partial_seconds=20.0, partial_hold=3.0, wal_seconds=300.0,
            unknown_answers=100000, log_summary_wait=12.0)
SHORT = dict(subscribers=1000, baseline=1.0, after=1.0, flood_dwrs=200,
             small_groups=5000, airs=60000, dwr_bytes=100000000,
             idle=1023, idle_seconds=3.0, partial_connections=100,
             partial_seconds=2.0, partial_hold=1.0, wal_seconds=5.0,
             unknown_answers=100000, log_summary_wait=1.0,
             stall_timeout=2.0)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Hostile peers against a spawned pyhss server: server"
                    " RSS, a fast peer's p99 and each attack's own figure.")
    parser.add_argument("--only", default=",".join(map(str, ITEMS)),
                        help="items to run, e.g. 1,2,12 (default: %s)"
                             % (",".join(map(str, ITEMS)),))
    parser.add_argument("--short", action="store_true",
                        help="the CI sizes: a few seconds per scenario,"
                             " write_stall_timeout 2 s")
    parser.add_argument("--config", default=os.path.join(_ROOT, "config.yaml"),
                        help="configuration the spawned servers copy")
    sizes = parser.add_argument_group(
        "sizes (defaults: full figures; --short: CI figures)")
    for name, kind, text in (
            ("subscribers", int, "subscribers provisioned for the AIRs"),
            ("baseline", float, "seconds of the fast peer alone"),
            ("after", float, "seconds after an attack before RSS 'after'"),
            ("flood_dwrs", int, "item 1a/1b: DWRs with a big group"),
            ("small_groups", int, "item 1c: DWRs with a small group"),
            ("airs", int, "item 2a: most AIRs sent"),
            ("dwr_bytes", int, "item 2b: most DWR bytes sent"),
            ("idle", int, "item 3: connections that never send CER"),
            ("idle_seconds", float, "item 3: seconds of the attack"),
            ("partial_connections", int, "item 4: connections"),
            ("partial_seconds", float, "item 4: seconds to send the bytes"),
            ("partial_hold", float, "item 4: seconds held before closing"),
            ("wal_seconds", float, "item 11: seconds of AIR load"),
            ("unknown_answers", int, "item 12: answers sent"),
            ("log_summary_wait", float,
             "item 12: seconds after the attack before counting the log")):
        sizes.add_argument("--" + name.replace("_", "-"), type=kind,
                           help=text)
    parser.add_argument("--stall-timeout", type=float,
                        help="limits.write_stall_timeout of the server"
                             " (default: the config's; --short: 2)")
    parser.add_argument("--flood-group-bytes", type=int, default=61440,
                        help="item 1: size of the big group (default 61440)")
    parser.add_argument("--air-vectors", type=int, default=32)
    parser.add_argument("--idle-addresses", type=int, default=16,
                        help="item 3a: attackers' source addresses")
    parser.add_argument("--good-peers", type=int, default=18)
    parser.add_argument("--partial-bytes", type=int, default=60000)
    parser.add_argument("--partial-tick", type=float, default=0.02)
    parser.add_argument("--fast-window", type=int, default=10)
    parser.add_argument("--fast-request", default="air",
                        choices=("air", "dwr"),
                        help="the fast peer's requests (default air; dwr is"
                             " answered without the store)")
    parser.add_argument("--wal-window", type=int, default=50)
    parser.add_argument("--fast-timeout", type=float, default=60.0,
                        help="seconds before a fast-peer request counts as a"
                             " timeout (default 60)")
    parser.add_argument("--flood-seconds", type=float, default=120.0,
                        help="bound on each flood's sending time")
    parser.add_argument("--max-item-seconds", type=float, default=900.0)
    parser.add_argument("--set", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="change a key of the servers' configuration"
                             " (a YAML value), e.g. --set"
                             " limits.max_write_buffer=65536; repeatable")
    options = parser.parse_args(argv)
    defaults = SHORT if options.short else FULL
    options.stall_timeout_given = (options.stall_timeout is not None
                                   or "stall_timeout" in defaults)
    for name, value in defaults.items():
        if getattr(options, name, None) is None:
            setattr(options, name, value)
    if options.stall_timeout is None:
        with open(options.config) as handle:
            limits = (yaml.safe_load(handle) or {}).get("limits") or {}
        options.stall_timeout = float(limits.get("write_stall_timeout", 30))
    # How long past write_stall_timeout a peer that never reads waits to be
    # dropped (the server stops reading it only once the answers of the
    # requests it has read are queued: seconds of work with 32 vectors).
    options.stall_margin = 60.0
    settings = []
    for text in options.set:
        name, equals, value = text.partition("=")
        section, dot, key = name.partition(".")
        if not (equals and dot and section and key):
            parser.error("--set takes SECTION.KEY=VALUE, not %r" % (text,))
        settings.append((section, key, yaml.safe_load(value)))
    options.set = settings
    try:
        options.items = [int(word) for word in options.only.split(",")
                         if word.strip()]
    except ValueError:
        parser.error("--only takes item numbers, e.g. 1,2,12")
    unknown = set(options.items) - set(ITEMS)
    if unknown:
        parser.error("no item %s (items: %s)" % (
            ", ".join(map(str, sorted(unknown))), ", ".join(map(str, ITEMS))))
    if options.idle_addresses < 1 or options.idle_addresses > 190:
        parser.error("--idle-addresses must be 1 to 190")
    return options


@defer.inlineCallbacks
def main(reactor, argv):
    if argv[:1] == ["fast-peer"]:
        yield fast_peer_main(reactor, argv[1:])
        return
    options = parse_arguments(argv)
    reactor.addSystemEventTrigger("before", "shutdown", stop_children,
                                  reactor)

    def log(text):
        sys.stdout.write("# %s\n" % (text,))
        sys.stdout.flush()
    log("hostile peers, %s version, items %s; write_stall_timeout %g s" % (
        "short" if options.short else "full",
        ",".join(map(str, options.items)), options.stall_timeout))
    results = []
    started = time.monotonic()
    for number in options.items:
        results.extend((yield run_item(reactor, options, number, log)))
    log("done in %.1f s" % (time.monotonic() - started,))
    for result in results:
        print(json.dumps(result))


def run_main(argv=None):
    task.react(main, [sys.argv[1:] if argv is None else argv])


if __name__ == "__main__":
    run_main()
