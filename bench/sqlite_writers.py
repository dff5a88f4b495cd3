#!/usr/bin/env python
"""
One SQLite writer or two: AIR's SQN writes while subscribers are created.

The store-level half of ``bench/api_rate.py``'s creation phase, without
HTTP or Diameter (so that the CPU the other processes of a shared machine
take moves it less): a store reserves SQNs (``reserve_sqns``, what an AIR
writes) at --air-rate per second in this process, while --outstanding
subscriber creations are kept going flat out for --duration seconds

  - ``two``: by another process with its own connection to the file (what
    the API child did with ``api.writes: child``: two writers, SQLite
    serialises them with its lock and the waiting one polls with sleeps);
  - ``one``: on this process's store (what ``api.writes: hss`` does: the
    child's writes reach the HSS's one store worker, which commits them
    together with the SQN writes);
  - ``none``: no creations (the baseline);

and prints, per mode, the creations per second and the latency of the SQN
reservations (p50, p99, max).

    .venv/bin/python bench/sqlite_writers.py --modes none,two,one,two,one
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from twisted.internet import defer, task

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _path in (_ROOT, _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from provision import BENCH_APN, provision  # noqa: E402

from pyhss.auc.sqn import SqnRequest  # noqa: E402
from pyhss.storage.records import Subscriber  # noqa: E402
from pyhss.storage.sqlite import SqliteStore  # noqa: E402

IMSI_FIRST = 1010000000001
CREATED_FIRST = 2 * 10 ** 14
TICK = 0.01
ONE_SQN = SqnRequest(1)


class Creations:
    """``outstanding`` add_subscriber calls kept in flight until ``stop_at``."""

    def __init__(self, store, outstanding, stop_at, first=CREATED_FIRST):
        self.store = store
        self.stop_at = stop_at
        self.first = first
        self.count = 0
        self.running = outstanding
        self.done = defer.Deferred()
        for index in range(outstanding):
            self._next(index, outstanding)

    def _next(self, index, step):
        if time.perf_counter() >= self.stop_at:
            self.running -= 1
            if not self.running:
                self.done.callback(self.count)
            return
        subscriber = Subscriber("%015d" % (self.first + index), bytes(16), opc=bytes(16), apns=(BENCH_APN,))

        def made(_):
            self.count += 1
            self._next(index + step, step)
        self.store.add_subscriber(subscriber).addBoth(made)


def creator_process(reactor, database, outstanding, seconds, first):
    """``sqlite_writers.py --creator DB OUTSTANDING SECONDS FIRST``: prints the creations per second."""
    @defer.inlineCallbacks
    def run(reactor):
        store = SqliteStore(database, reactor)
        yield store.opened
        count = yield Creations(store, outstanding, time.perf_counter() + seconds, first).done
        print(count / seconds)
        yield store.close()
    return run(reactor)


@defer.inlineCallbacks
def measure(reactor, options, mode, database, first):
    """One run; ``first`` the first IMSI it creates."""
    store = SqliteStore(database, reactor)
    yield store.opened
    latencies = []
    sequence = [0]
    per_tick = max(1, int(options.air_rate * TICK))

    def tick():
        now = time.perf_counter()
        for _ in range(per_tick):
            imsi = "%015d" % (IMSI_FIRST + sequence[0] % options.provision)
            sequence[0] += 1
            store.reserve_sqns(imsi, ONE_SQN).addBoth(lambda _, sent=now: latencies.append(time.perf_counter() - sent))
    loop = task.LoopingCall(tick)
    loop.clock = reactor
    loop.start(TICK)
    yield task.deferLater(reactor, 1.0, lambda: None)      # warm up
    del latencies[:]
    if mode == "two":
        from twisted.internet import utils
        out = yield utils.getProcessOutput(sys.executable, [
            os.path.abspath(__file__), "--creator", database, str(options.outstanding), str(options.duration),
            str(first)],
            env=os.environ)
        rate = float(out.decode().strip().splitlines()[-1])
    elif mode == "one":
        count = yield Creations(store, options.outstanding, time.perf_counter() + options.duration, first).done
        rate = count / options.duration
    else:
        yield task.deferLater(reactor, options.duration, lambda: None)
        rate = 0.0
    loop.stop()
    yield store.close()
    ordered = sorted(latencies)
    return {"mode": mode, "creations_per_s": round(rate, 1), "sqn_reservations": len(ordered),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
            "p99_ms": round(1000 * ordered[int(len(ordered) * 0.99)], 2), "max_ms": round(1000 * ordered[-1], 2)}


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="none,two,one,two,one",
                        help="comma-separated runs: none, two (a second writer process), one (the same store)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of creations per run (default 6)")
    parser.add_argument("--air-rate", type=float, default=2000.0, help="SQN reservations per second (default 2000)")
    parser.add_argument("--outstanding", type=int, default=50, help="creations in flight (default 50)")
    parser.add_argument("--provision", type=int, default=10000, help="subscribers stored first (default 10000)")
    options = parser.parse_args(argv)
    modes = options.modes.split(",")
    for mode in modes:
        if mode not in ("none", "two", "one"):
            parser.error(f"unknown mode {mode!r}: none, two or one")
    directory = tempfile.mkdtemp(prefix="pyhss-writers-")
    try:
        database = os.path.join(directory, "pyhss.sqlite3")
        yield provision(reactor, database, "%015d" % IMSI_FIRST, options.provision, lambda text: None)
        results = []
        for index, mode in enumerate(modes):
            # Each run creates IMSIs of its own.
            result = yield measure(reactor, options, mode, database, CREATED_FIRST + index * 10 ** 9)
            print("{mode:5} creations {creations_per_s:>9}/s  SQN reservations p50 {p50_ms} ms  p99 {p99_ms} ms  "
                  "max {max_ms} ms".format(**result))
            sys.stdout.flush()
            results.append(result)
        print(json.dumps(results))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--creator"]:
        database, outstanding, seconds, first = sys.argv[2:6]
        task.react(lambda reactor: creator_process(reactor, database, int(outstanding), float(seconds), int(first)))
    else:
        task.react(main, [sys.argv[1:]])
