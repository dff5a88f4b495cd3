"""SQLite store throughput: CSV import, sequential and concurrent reserve_sqns, get_subscriber.

    .venv/bin/python bench/store_rate.py [--rows 100000] [--calls 10000] [--concurrency 50]

Everything runs in a temporary directory: the CSV import goes through
``pyhss-admin import`` (in-process, the same code path as the console
script), then the store is driven the way the S6a AIR handler drives it
(one get_subscriber and one reserve_sqns per request).
"""

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time

from twisted.internet import defer, task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyhss import admin  # noqa: E402
from pyhss.auc.sqn import SqnRequest  # noqa: E402
from pyhss.storage.sqlite import SqliteStore  # noqa: E402

K = "465B5CE8B199B49FAA5F0A2EE238A6BC"
OPC = "CD63CB71954A9F4E48A5994E37A02BAF"


def write_inputs(directory, rows):
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as handle:
        handle.write("hss: {OriginHost: hss.example.org, OriginRealm: example.org, MCC: '001', MNC: '01'}\n"
                     "database: {backend: sqlite, sqlite: {path: bench.sqlite3}}\n")
    path = os.path.join(directory, "subscribers.csv")
    with open(path, "w") as handle:
        handle.write("imsi,k,opc,amf,sqn,msisdn,apns\n")
        for i in range(rows):
            handle.write(f"00101{i:010d},{K},{OPC},8000,0,1555{i:07d},internet\n")
    return config, path


# One SQN per reservation, as an AIR asking for one vector.
ONE = SqnRequest(1)


@defer.inlineCallbacks
def main(reactor, options):
    directory = tempfile.mkdtemp(prefix="pyhss-store-bench-")
    try:
        config, csv_path = write_inputs(directory, options.rows)
        quiet = io.StringIO()
        status = yield admin.run(reactor, ["--config", config, "apn", "add", "internet"], quiet, sys.stderr)
        assert status == 0
        started = time.perf_counter()
        status = yield admin.run(reactor, ["--config", config, "import", csv_path], quiet, sys.stderr)
        elapsed = time.perf_counter() - started
        assert status == 0, "import failed"
        print(f"import {options.rows} rows (parse + validate + one transaction): {elapsed:.2f} s "
              f"({options.rows / elapsed:,.0f} rows/s)")

        store = SqliteStore(os.path.join(directory, "bench.sqlite3"), reactor)
        yield store.opened
        imsi = "001010000000000"
        started = time.perf_counter()
        for _ in range(options.calls):
            yield store.reserve_sqns(imsi, ONE)
        elapsed = time.perf_counter() - started
        print(f"{options.calls} sequential reserve_sqns: {elapsed:.2f} s "
              f"({options.calls / elapsed:,.0f}/s, {elapsed / options.calls * 1e6:.0f} us each)")

        imsis = iter([f"00101{random.randrange(options.rows):010d}" for _ in range(options.calls)])

        @defer.inlineCallbacks
        def air_like_loop():
            # One of options.concurrency loops taking IMSIs from a shared iterator.
            for imsi in imsis:
                sub = yield store.get_subscriber(imsi)
                yield store.reserve_sqns(sub.imsi, ONE)
        started = time.perf_counter()
        yield defer.gatherResults([air_like_loop() for _ in range(options.concurrency)], consumeErrors=True)
        elapsed = time.perf_counter() - started
        print(f"{options.calls} get_subscriber + reserve_sqns pairs, {options.concurrency} in flight, "
              f"random IMSIs of {options.rows}: {elapsed:.2f} s ({options.calls / elapsed:,.0f} pairs/s)")
        assert (yield store.get_subscriber(imsi)) is not None
        yield store.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    task.react(main, (parser.parse_args(),))
