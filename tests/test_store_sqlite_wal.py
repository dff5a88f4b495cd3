"""The SQLite write-ahead log stays under database.sqlite.wal_limit:
catch-up checkpoints let the log start over (the file cut back to half
the limit), a TRUNCATE empties it past three quarters or after a write
failed for a full disk, and the truncations are logged, not every one."""

import os
import random
import sqlite3

from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from pyhss.auc.sqn import SqnRequest
from pyhss.storage import checkpoints
from pyhss.storage.errors import StoreError
from pyhss.storage.sqlite import SqliteStore
from tests.store_contract import subscriber

LIMIT = 256 * 1024
# An AIR asking for 32 vectors moves the stored SQN on by 32.
THIRTY_TWO = SqnRequest(32, ind_bits=0)


def imsi(index):
    return "00101%010d" % (index,)


def wal_file(path):
    return os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0


class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


class WalBoundTests(unittest.TestCase):
    """The worker's decision after its writes, on a -wal file of set sizes."""

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())
        self.time = FakeTime()
        self.patch(checkpoints, "time", self.time)
        self.bound = checkpoints.WalBound(self.path, LIMIT, retry_after=1.0)

    def wal(self, size):
        with open(self.path + "-wal", "wb") as handle:
            handle.truncate(size)

    def test_no_file_nothing_to_do(self):
        self.assertIsNone(self.bound.after_writes())

    def test_catch_up_past_half_the_limit(self):
        self.wal(LIMIT // 2)
        self.assertIsNone(self.bound.after_writes())
        self.wal(LIMIT // 2 + 1)
        self.assertEqual(self.bound.after_writes(), "catch-up")
        self.assertEqual(self.bound.size, LIMIT // 2 + 1)
        # The log started over: SQLite cut the file back; catch up again
        # when it passes half the limit again.
        self.wal(LIMIT // 2)
        self.assertIsNone(self.bound.after_writes())
        self.wal(LIMIT // 2 + 4096)
        self.assertEqual(self.bound.after_writes(), "catch-up")

    def test_no_catch_up_at_once_while_the_log_has_not_started_over(self):
        # A reader keeps the log from starting over: catching up after
        # every write would only hold the writer up.
        self.wal(LIMIT // 2 + 1)
        self.assertEqual(self.bound.after_writes(), "catch-up")
        self.wal(LIMIT // 2 + 4096)
        self.assertIsNone(self.bound.after_writes())
        self.time.now += 1.0
        self.assertEqual(self.bound.after_writes(), "catch-up")

    def test_truncate_past_three_quarters(self):
        self.wal(LIMIT * 3 // 4 + 1)
        self.assertEqual(self.bound.after_writes(), "truncate")
        # A TRUNCATE that found readers: catch up meanwhile, truncate later.
        self.bound.done(LIMIT * 3 // 4 + 1, truncate_busy=True)
        self.assertEqual(self.bound.after_writes(), "catch-up")
        self.time.now += 1.0
        self.assertEqual(self.bound.after_writes(), "truncate")
        self.bound.done(0)
        self.assertEqual(self.bound.size, 0)


class WalLimitTests(unittest.TestCase):

    timeout = 60

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())
        self.events = []
        self.waiting = []
        globalLogPublisher.addObserver(self.observe)
        self.addCleanup(globalLogPublisher.removeObserver, self.observe)

    def observe(self, event):
        if event.get("log_namespace") != "pyhss.storage.sqlite" or "before" not in event:
            return
        self.events.append(event)
        waiting, self.waiting = self.waiting, []
        for d in waiting:
            d.callback(event)

    def next_wal_line(self):
        d = defer.Deferred()
        self.waiting.append(d)
        return d

    @defer.inlineCallbacks
    def open(self, wal_limit=LIMIT, subscribers=0):
        store = SqliteStore(self.path, reactor, wal_limit=wal_limit)
        self.addCleanup(store.close)
        yield store.opened
        for first in range(0, subscribers, 500):
            yield store.add_subscribers([subscriber(imsi(i)) for i in range(first, min(first + 500, subscribers))])
        return store

    @defer.inlineCallbacks
    def test_journal_size_limit_is_the_catch_up_size(self):
        store = yield self.open()
        value = yield store._submit(lambda: store._conn.execute("PRAGMA journal_size_limit").fetchone()[0])
        self.assertEqual(value, LIMIT // 2)
        self.assertEqual(store.wal_size(), wal_file(self.path))

    def test_memory_store_measures_no_wal(self):
        store = SqliteStore(":memory:", reactor)
        self.addCleanup(store.close)
        return store.opened.addCallback(lambda _: self.assertIsNone(store.wal_size()))

    @defer.inlineCallbacks
    def test_steady_writes_stay_under_the_limit(self):
        # One SQN reservation after another, on random subscribers, as
        # AIRs: each adds a page or two to the log.  Before, the file kept
        # growing between two checkpoints and never shrank.
        store = yield self.open(subscribers=2000)
        yield store.count_subscribers()   # the provisioning's truncations are counted
        truncations, catch_ups = store.wal_truncations, store.wal_catch_ups
        del self.events[:]
        rng = random.Random(7)
        largest = 0
        for _ in range(1500):
            yield store.reserve_sqns(imsi(rng.randrange(2000)), THIRTY_TWO)
            largest = max(largest, wal_file(self.path))
        self.assertLessEqual(largest, LIMIT)
        self.assertGreater(store.wal_catch_ups, catch_ups)
        self.assertEqual(store.wal_truncations, truncations)
        self.assertEqual(self.events, [])   # routine: nothing logged

    @defer.inlineCallbacks
    def test_truncated_past_three_quarters_and_logged(self):
        store = yield self.open()
        logged = self.next_wal_line()
        # One transaction writes far more than the limit.
        yield store.add_subscribers([subscriber(imsi(i)) for i in range(3000)])
        event = yield logged
        self.assertEqual(wal_file(self.path), 0)
        self.assertEqual(store.wal_size(), 0)
        self.assertEqual(store.wal_truncations, 1)
        self.assertGreater(event["before"], LIMIT)
        self.assertEqual((event["after"], event["log_level"].name), (0, "info"))
        self.assertIn(f"past 75% of database.sqlite.wal_limit ({LIMIT} bytes)", event["cause"])

    @defer.inlineCallbacks
    def test_truncations_logged_once_a_minute(self):
        store = yield self.open()
        for batch in range(3):
            line = self.next_wal_line() if batch == 0 else None
            yield store.add_subscribers([subscriber(imsi(batch * 3000 + i)) for i in range(3000)])
            if line is not None:
                yield line
        # The worker counts the last truncation once it has delivered the
        # batch's results: wait for it through a job queued after it.
        yield store.count_subscribers()
        yield store.count_subscribers()
        self.assertEqual(store.wal_truncations, 3)
        self.assertEqual(len(self.events), 1)
        store._wal.quiet_until = reactor.seconds()   # a minute later
        logged = self.next_wal_line()
        yield store.add_subscribers([subscriber(imsi(9000 + i)) for i in range(3000)])
        event = yield logged
        self.assertEqual(event["more"], " (2 more since the last such line)")

    @defer.inlineCallbacks
    def test_disk_full_truncates_at_once(self):
        store = yield self.open(wal_limit=64 * 1024 * 1024)
        yield store.add_subscribers([subscriber(imsi(i)) for i in range(500)])
        self.assertGreater(wal_file(self.path), 0)

        def fill_disk():   # as a full disk would: no new page for the database
            pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
            store._conn.execute(f"PRAGMA max_page_count={pages}")
        yield store._submit(fill_disk)
        logged = self.next_wal_line()
        error = yield self.assertFailure(store.add_subscribers([subscriber(imsi(1000 + i)) for i in range(2000)]),
                                         StoreError)
        self.assertIn("full", str(error))
        event = yield logged
        self.assertEqual((event["log_level"].name, event["after"]), ("warn", 0))
        self.assertIn("the disk is full", event["cause"])
        self.assertEqual(wal_file(self.path), 0)

    @defer.inlineCallbacks
    def test_truncate_blocked_by_a_reader_is_logged_once(self):
        store = yield self.open()
        yield store.add_subscribers([subscriber(imsi(i)) for i in range(10)])
        reader = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(reader.close)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM subscriber").fetchone()   # holds a snapshot
        logged = self.next_wal_line()
        yield store.add_subscribers([subscriber(imsi(100 + i)) for i in range(3000)])
        event = yield logged
        self.assertEqual(event["log_level"].name, "warn")
        self.assertIn("could not finish", event["log_format"])
        yield store.add_subscribers([subscriber(imsi(4000 + i)) for i in range(3000)])
        yield store.count_subscribers()
        self.assertEqual(len(self.events), 1)
        reader.execute("COMMIT")
