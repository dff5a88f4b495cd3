"""The store contract against the embedded SQLite adapter, plus what only it does."""

import os
import sqlite3
import threading

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.auc.sqn import SqnRequest
from pyhss.config import Config
from pyhss.storage import open_store
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage import checkpoints
from pyhss.storage import sqlite as sqlite_module
from pyhss.storage.records import SUBSCRIBER_FIELDS, ApnProfile, ServingNode, stored_subscriber, trusted_constructor
from pyhss.storage.sqlite import SCHEMA_VERSION, SqliteStore
from pyhss.storage.sqlite_rows import encode_subscriber
from tests.store_contract import IMSI, StoreContractMixin, subscriber


class SqliteStoreContractTests(StoreContractMixin, unittest.TestCase):
    def make_store(self):
        return SqliteStore(self.mktemp() + ".sqlite3", reactor)


class SqliteStoreTests(unittest.TestCase):
    def open(self, path):
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        return store

    @defer.inlineCallbacks
    def test_persists_across_reopen_with_wal(self):
        path = self.mktemp()
        store = self.open(path)
        yield store.add_subscriber(subscriber(sqn=42))
        yield store.close()
        again = self.open(path)
        self.assertEqual((yield again.get_subscriber(IMSI)).sqn, 42)
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.assertEqual(conn.execute("SELECT max(version) FROM schema_version").fetchall(), [(SCHEMA_VERSION,)])

    @defer.inlineCallbacks
    def test_stores_opening_a_new_file_together(self):
        # pyhss-admin next to a server that is starting: switching the new
        # file to WAL used to fail with "database is locked" for one.
        for _ in range(20):
            path = self.mktemp()
            stores = [self.open(path), self.open(path)]
            yield defer.gatherResults([store.opened for store in stores], consumeErrors=True)
            for store in stores:
                yield store.close()

    @defer.inlineCallbacks
    def test_checkpoints_off_the_worker(self):
        # The worker never checkpoints in a COMMIT; the checkpoint thread
        # does, after writes, with a connection of its own.
        ran = []
        done = threading.Event()
        real = checkpoints.checkpoint

        def checkpoint(conn):
            ran.append((threading.current_thread().name, real(conn)))
            done.set()
            return ran[-1][1]
        self.patch(checkpoints, "checkpoint", checkpoint)
        store = self.open(self.mktemp())
        yield store.opened
        setting = yield store._submit(lambda: store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        self.assertEqual(setting, 0)
        yield store.add_subscriber(subscriber())
        self.assertTrue(done.wait(10))
        name, (busy, frames, checkpointed) = ran[0]
        self.assertIn("checkpoint", name)
        self.assertEqual((busy, checkpointed), (0, frames))
        thread = store._wal.checkpointer.thread
        yield store.close()
        self.assertFalse(thread.is_alive())
        self.assertIsNone(store._wal.checkpointer)

    def test_memory_store_has_no_checkpoint_thread(self):
        store = self.open(":memory:")
        return store.opened.addCallback(lambda _: self.assertIsNone(store._wal))

    @defer.inlineCallbacks
    def test_two_connections_never_share_an_sqn(self):
        # Two stores on one file stand for the server and a second process.
        path = self.mktemp()
        first = self.open(path)
        yield first.add_subscriber(subscriber())
        second = self.open(path)
        yield second.opened

        one = SqnRequest(1, ind_bits=0)
        calls = [(first if i % 2 else second).reserve_sqns(IMSI, one) for i in range(300)]
        sqns = [sqn for _, (sqn,) in (yield defer.gatherResults(calls, consumeErrors=True))]
        self.assertEqual(sorted(sqns), list(range(1, 301)))

    @defer.inlineCallbacks
    def test_authentication_centre_vectors_never_share_an_sqn(self):
        # What the S6a AIR handler does, many AIRs at once for one IMSI.
        from pyhss.auc.centre import AuthenticationCentre
        store = self.open(self.mktemp())
        yield store.add_subscriber(subscriber())
        centre = AuthenticationCentre(store)
        sub = yield store.get_subscriber(IMSI)
        sets = yield defer.gatherResults(
            [centre.generate(sub, eutran=2, serving_network_id=b"\x00\xf1\x10") for _ in range(100)],
            consumeErrors=True)
        sqns = [vector.sqn for vector_set in sets for vector in vector_set.eutran]
        self.assertEqual(len(sqns), 200)
        self.assertEqual(len(set(sqns)), 200)
        self.assertEqual((yield store.get_subscriber(IMSI)).sqn, max(sqns))

    @defer.inlineCallbacks
    def test_work_runs_off_the_reactor_thread(self):
        store = self.open(self.mktemp())
        yield store.add_subscriber(subscriber())
        threads = []
        policy = sqlite_module.advance

        def advance(current, request):
            threads.append(threading.current_thread())
            return policy(current, request)
        self.patch(sqlite_module, "advance", advance)
        yield store.reserve_sqns(IMSI, SqnRequest(1))
        self.assertIsNot(threads[0], threading.main_thread())

    @defer.inlineCallbacks
    def test_jobs_of_one_reactor_iteration_reach_the_worker_together(self):
        store = self.open(self.mktemp())
        yield store.add_subscriber(subscriber())
        handed_over = []
        worker = store._worker
        flush = worker._flush

        def recording():
            handed_over.append(len(worker._outbox))
            return flush()
        worker._flush = recording
        calls = [store.get_subscriber(IMSI) for _ in range(5)]
        calls.append(store.reserve_sqns(IMSI, SqnRequest(1, ind_bits=0)))
        self.assertEqual(handed_over, [])   # not before the iteration ends
        results = yield defer.gatherResults(calls)
        self.assertEqual(handed_over, [6])
        self.assertEqual(results[0], subscriber())
        self.assertEqual(results[5][1], [1])

    @defer.inlineCallbacks
    def test_queued_writes_commit_as_one_group(self):
        store = self.open(self.mktemp())
        yield store.add_subscriber(subscriber())
        groups = []
        worker = store._worker
        commit_writes = worker._commit_writes

        def recording(writes, results):
            if writes:
                groups.append(len(writes))
            return commit_writes(writes, results)
        worker._commit_writes = recording
        release = threading.Event()
        blocked = store._submit(release.wait, 30)   # holds the worker while writes queue up

        def broken(conn):
            conn.execute("UPDATE subscriber SET sqn = 1000 WHERE imsi = ?", (IMSI,))
            raise ZeroDivisionError("a job's bug")
        one = SqnRequest(1, ind_bits=0)
        calls = [store._submit(broken, write=True) if i == 3 else store.reserve_sqns(IMSI, one) for i in range(10)]
        release.set()
        yield blocked
        results = yield defer.DeferredList(calls, consumeErrors=True)
        self.assertEqual(groups, [10])
        self.assertEqual([value[1][0] for ok, value in results if ok], list(range(1, 10)))
        self.assertTrue(results[3][1].check(ZeroDivisionError))
        self.assertEqual((yield store.get_subscriber(IMSI)).sqn, 9)

    @defer.inlineCallbacks
    def test_reads_among_writes_join_the_group(self):
        # ULR's pattern: serving-node writes interleaved with reads.  The
        # reads see the writes queued before them, and one COMMIT serves all.
        store = self.open(self.mktemp())
        yield store.add_subscriber(subscriber())
        yield store.add_subscriber(subscriber("001010000000002"))
        groups = []
        worker = store._worker
        commit_writes = worker._commit_writes

        def recording(writes, results):
            if writes:
                groups.append([write for write, _, _, _ in writes])
            return commit_writes(writes, results)
        worker._commit_writes = recording
        release = threading.Event()
        blocked = store._submit(release.wait, 30)
        calls = []
        for imsi in (IMSI, "001010000000002"):
            calls.append(store.set_serving_node(ServingNode(imsi, "mme." + imsi, "test", None, 1.0, False)))
            calls.append(store.get_serving_node(imsi))
        calls.append(store.get_apn("internet"))
        release.set()
        yield blocked
        results = yield defer.gatherResults(calls, consumeErrors=True)
        self.assertEqual(groups, [[True, False, True, False, False]])
        self.assertEqual(results[1].mme_host, "mme." + IMSI)
        self.assertEqual(results[3].mme_host, "mme.001010000000002")
        self.assertIsNone(results[4])

    @defer.inlineCallbacks
    def test_failed_group_commit_fails_every_job(self):
        store = self.open(self.mktemp())
        yield store.add_subscriber(subscriber())
        yield store.add_subscriber(subscriber("001010000000002"))
        release = threading.Event()
        blocked = store._submit(release.wait, 30)

        def aborts_transaction(conn):
            # As SQLite does on some I/O errors: the whole transaction under
            # the savepoints is gone, so the group cannot commit.
            conn.execute("ROLLBACK")
            raise OSError("disk I/O error")
        calls = [store.reserve_sqns("001010000000002", SqnRequest(5, ind_bits=0)),
                 store._submit(aborts_transaction, write=True)]
        release.set()
        yield blocked
        results = yield defer.DeferredList(calls, consumeErrors=True)
        self.assertEqual([ok for ok, _ in results], [False, False])
        self.assertTrue(results[0][1].check(StoreError))
        self.assertEqual((yield store.get_subscriber("001010000000002")).sqn, 0)
        self.assertEqual((yield store.reserve_sqns(IMSI, SqnRequest(1, ind_bits=0)))[1], [1])

    @defer.inlineCallbacks
    def test_worker_starts_when_the_reactor_runs(self):
        # twistd forks between building the service and running the reactor.
        class NotYetRunning:
            running = False
            started = None

            def callWhenRunning(self, function):
                self.started = function

            def callFromThread(self, function, *args):
                reactor.callFromThread(function, *args)
        fake = NotYetRunning()
        store = SqliteStore(self.mktemp(), fake)
        added = store.add_subscriber(subscriber())
        self.assertFalse(store._worker.thread.is_alive())
        self.assertNoResult(store.opened)
        fake.started()
        yield added
        self.assertEqual((yield store.get_subscriber(IMSI)), subscriber())
        yield store.close()

    @defer.inlineCallbacks
    def test_rows_edited_by_another_tool_are_checked(self):
        # Rows the store wrote skip re-validation; one changed behind its
        # back (a short K, an APN list that is not normalised) is checked
        # in full and the problem named.
        path = self.mktemp()
        store = self.open(path)
        yield store.add_apn(ApnProfile("internet"))
        yield store.add_subscriber(subscriber(apns=("internet",), msisdn="15551234"))
        self.assertEqual((yield store.get_subscriber(IMSI)), subscriber(apns=("internet",), msisdn="15551234"))
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        conn.execute("UPDATE subscriber SET apns = 'Internet' WHERE imsi = ?", (IMSI,))
        conn.commit()
        self.assertEqual((yield store.get_subscriber(IMSI)).apns, ("internet",))
        conn.execute("UPDATE subscriber SET k = x'0011' WHERE imsi = ?", (IMSI,))
        conn.commit()
        e = yield self.assertFailure(store.get_subscriber(IMSI), ValidationError)
        self.assertIn("K must be 16 bytes", str(e))

    def test_stored_rows_build_the_same_subscriber(self):
        variants = [subscriber(), subscriber(opc=None, op=b"\x01" * 16, msisdn="1", enabled=False,
                                             roaming_allowed=False, ue_ambr_ul=1, ue_ambr_dl=2,
                                             periodic_rau_tau_timer=0, access_restriction_data=3),
                    subscriber(apns=("a", "b.c"))]
        for record in variants:
            row = encode_subscriber(record)
            self.assertEqual(stored_subscriber(row), record)
        broken = list(encode_subscriber(subscriber()))
        broken[SUBSCRIBER_FIELDS.index("sqn")] = -1
        self.assertIsNone(stored_subscriber(tuple(broken)))

    def test_trusted_constructor_sets_every_field_unchecked(self):
        build = trusted_constructor(ServingNode)
        node = build("001010000000001", "mme.test", "test", "peer.test", 5.0, True)
        self.assertIs(type(node), ServingNode)
        self.assertEqual(node, ServingNode("001010000000001", "mme.test", "test", "peer.test", 5.0, True))
        self.assertRaises(ValidationError, ServingNode, "1", "mme.test", "test")
        self.assertEqual(build("1", "mme.test", "test", None, 0.0, False).imsi, "1")   # no check
        self.assertRaises(TypeError, build, "001010000000001", "mme.test")    # every field, in order

    @defer.inlineCallbacks
    def test_open_failure_is_reported_by_every_call(self):
        directory = self.mktemp()
        os.makedirs(directory)
        store = self.open(directory)   # a directory is not a database file
        e = yield self.assertFailure(store.opened, StoreError)
        self.assertIn(directory, str(e))
        yield self.assertFailure(store.get_subscriber(IMSI), StoreError)

    @defer.inlineCallbacks
    def test_newer_schema_is_refused(self):
        path = self.mktemp()
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
        conn.commit()
        conn.close()
        e = yield self.assertFailure(self.open(path).opened, StoreError)
        self.assertIn("newer", str(e))

    @defer.inlineCallbacks
    def test_open_store_from_config_creates_directory(self):
        base = os.path.abspath(self.mktemp())
        config = Config.default(database={"backend": "sqlite", "sqlite": {"path": os.path.join(base, "db.sqlite3")}})
        store = open_store(config.database, reactor)
        self.addCleanup(store.close)
        self.assertIs((yield store.opened), store)
        self.assertTrue(os.path.exists(os.path.join(base, "db.sqlite3")))

    def test_open_store_memory(self):
        store = open_store(Config.default().database, reactor)
        self.assertIs(self.successResultOf(store.opened), store)
