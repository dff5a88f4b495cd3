"""SQLite write-ahead log size under a long AIR-like write load.

    .venv/bin/python bench/wal_bound.py [--duration 300] [--subscribers 10000]
        [--concurrency 50] [--wal-limit BYTES] [--report-every 10]

Provisions subscribers in a temporary SQLite file through the store API,
then keeps ``--concurrency`` SQN reservations in flight for ``--duration``
seconds, each on a random subscriber, as AIRs do (``reserve_sqns``:
read the subscriber, move its SQN on, one transaction).  The size of the
``-wal`` file is sampled every 0.1 s; every ``--report-every`` seconds and
at the end it prints the reservations done, their rate and the WAL size
(now and the largest seen), at the end also the reservations' latency
(p50, p99, max: a checkpoint that holds the writer up shows there), then
one JSON line with the same figures.  Asserts nothing: the figures are the
output.
"""

import argparse
import inspect
import json
import os
import random
import shutil
import sys
import tempfile
import time

from twisted.internet import defer, task
from twisted.logger import formatEvent, globalLogBeginner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.provision import bench_subscriber  # noqa: E402
from pyhss.auc.sqn import SqnRequest  # noqa: E402
from pyhss.config import SqliteConfig  # noqa: E402
from pyhss.storage.records import ApnProfile  # noqa: E402
from pyhss.storage.sqlite import SqliteStore  # noqa: E402

MIB = 1024 * 1024
VECTORS = 32   # SQNs moved on per reservation, as an AIR asking for 32 vectors


def wal_size(path):
    try:
        return os.stat(path + "-wal").st_size
    except FileNotFoundError:
        return 0


# What an AIR asking for 32 vectors asks of the store.
RESERVATION = SqnRequest(VECTORS)


@defer.inlineCallbacks
def main(reactor, options):
    directory = tempfile.mkdtemp(prefix="pyhss-wal-bench-")
    path = os.path.join(directory, "bench.sqlite3")
    kwargs = {}
    if "wal_limit" in inspect.signature(SqliteStore).parameters:
        kwargs["wal_limit"] = options.wal_limit
    else:
        print("this SqliteStore has no wal_limit: measuring the store as it is")
    store = SqliteStore(path, reactor, **kwargs)
    try:
        yield store.opened
        yield store.add_apn(ApnProfile("internet"))
        for first in range(0, options.subscribers, 10000):
            yield store.add_subscribers([bench_subscriber(f"00101{i:010d}", i)
                                         for i in range(first, min(first + 10000, options.subscribers))])
        imsis = [f"00101{i:010d}" for i in range(options.subscribers)]
        state = {"done": 0, "failed": 0, "max": wal_size(path), "errors": {}}
        latencies = []
        started = time.monotonic()
        deadline = started + options.duration
        print(f"{options.subscribers} subscribers, {options.concurrency} reservations in flight, "
              f"{options.duration:g} s, WAL limit {kwargs.get('wal_limit', 0) / MIB:g} MiB")

        def sample():
            state["max"] = max(state["max"], wal_size(path))

        def report(final=False):
            elapsed = time.monotonic() - started
            print(f"{'end' if final else 't'}={elapsed:6.1f} s  reservations {state['done']:>9,} "
                  f"({state['done'] / elapsed:,.0f}/s, {state['failed']} failed)  "
                  f"WAL now {wal_size(path) / MIB:7.2f} MiB  max {state['max'] / MIB:7.2f} MiB  "
                  f"truncations {getattr(store, 'wal_truncations', '-')}  "
                  f"catch-ups {getattr(store, 'wal_catch_ups', '-')}", flush=True)

        sampler = task.LoopingCall(sample)
        sampler.start(0.1)
        reporter = task.LoopingCall(report)
        reporter.start(options.report_every, now=False)
        rng = random.Random(options.seed)

        @defer.inlineCallbacks
        def loop():
            while time.monotonic() < deadline:
                sent = time.perf_counter()
                try:
                    yield store.reserve_sqns(rng.choice(imsis), RESERVATION)
                    latencies.append(time.perf_counter() - sent)
                    state["done"] += 1
                except Exception as e:
                    state["failed"] += 1
                    text = str(e)[:120]
                    state["errors"][text] = state["errors"].get(text, 0) + 1
        yield defer.gatherResults([loop() for _ in range(options.concurrency)], consumeErrors=True)
        sampler.stop()
        reporter.stop()
        sample()
        report(final=True)
        final = wal_size(path)
        elapsed = time.monotonic() - started
        latencies.sort()
        p50, p99 = (latencies[int(len(latencies) * q)] * 1000 for q in (0.5, 0.99))
        worst = latencies[-1] * 1000
        print(f"latency of a reservation: p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {worst:.1f} ms")
        print(json.dumps({"duration_s": round(elapsed, 1), "reservations": state["done"],
                          "per_s": round(state["done"] / elapsed), "failed": state["failed"],
                          "p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "max_ms": round(worst, 1),
                          "wal_limit": kwargs.get("wal_limit"), "wal_max": state["max"], "wal_final": final,
                          "truncations": getattr(store, "wal_truncations", None),
                          "catch_ups": getattr(store, "wal_catch_ups", None),
                          "errors": state["errors"]}))
    finally:
        yield store.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=50, help="reservations in flight")
    parser.add_argument("--wal-limit", type=int, default=SqliteConfig.wal_limit if hasattr(SqliteConfig, "wal_limit")
                        else 64 * MIB, help="database.sqlite.wal_limit in bytes (default: the config default)")
    parser.add_argument("--report-every", type=float, default=10.0, help="seconds between printed lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", action="store_true", help="print the store's log lines (WAL truncations)")
    arguments = parser.parse_args()
    if arguments.log:
        globalLogBeginner.beginLoggingTo([lambda event: print("log:", formatEvent(event), flush=True)
                                          if event.get("log_namespace", "").startswith("pyhss") else None],
                                         redirectStandardIO=False)
    task.react(main, (arguments,))
