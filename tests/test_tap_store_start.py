"""
A store that does not open at start-up: the server keeps answering DWR
(and 5012 to what needs the store), tries the store again with backoff on
its clock, recovers once the cause is gone, logs one line per cause, and
gives up after database.start_timeout with one line and exit status 1.
"""

import os
import sqlite3
import sys

from twisted.internet import defer, reactor, task, utils
from twisted.internet.error import ConnectionDone
from twisted.logger import globalLogPublisher
from twisted.python import failure
from twisted.trial import unittest

from pyhss import tap
from pyhss.config import Config, ConfigError
from pyhss.protocols import results
from pyhss.storage.errors import StoreUnavailable
from pyhss.storage.schema import SCHEMA_VERSION
from tests.peer_helpers import cer, connect, dwr, read_messages
from tests.test_s6a_air import air

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HSS = {"OriginHost": "hss.epc.mnc001.mcc001.3gppnetwork.org", "OriginRealm": "epc.mnc001.mcc001.3gppnetwork.org",
       "MCC": "001", "MNC": "01", "port": 0}


class StoreStartTests(unittest.TestCase):

    timeout = 30

    def setUp(self):
        self.clock = task.Clock()
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "pyhss.sqlite3")
        self.events = []
        globalLogPublisher.addObserver(self.observe)
        self.addCleanup(globalLogPublisher.removeObserver, self.observe)

    def observe(self, event):
        if event.get("log_namespace", "").startswith("pyhss.tap"):
            self.events.append(event)

    def start(self, start_timeout=60):
        config = Config.default(hss=HSS, database={
            "backend": "sqlite", "start_timeout": start_timeout,
            "sqlite": {"path": self.path, "busy_timeout": 0.05}})
        service = tap.HSSService(config, reactor, clock=self.clock)
        self.given_up = []
        service.give_up = self.given_up.append
        service.startService()
        self.addCleanup(service.stopService)
        return service

    def failures(self):
        return [event for event in self.events if event["log_level"].name == "error"]

    def retries(self):
        return sorted(call.getTime() for call in self.clock.getDelayedCalls()
                      if call.func.__name__ == "_retry_store")

    @defer.inlineCallbacks
    def retry(self, service, seconds):
        """Let the clock reach the next retry; wait for that attempt."""
        self.assertEqual(self.retries(), [self.clock.seconds() + seconds])
        self.clock.advance(seconds)
        yield service.store_attempt

    @defer.inlineCallbacks
    def peer_exchange(self, service, *requests):
        """CER then ``requests`` on a connection to the node; the answers."""
        connection, transport = connect(service.node)
        connection.dataReceived(cer().encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), results.DIAMETER_SUCCESS)
        for request in requests:
            connection.dataReceived(request.encode())
        # Store jobs run in order: once this one is back, every answer is out.
        yield service.store.count_subscribers().addErrback(lambda _: None)
        answers = read_messages(transport)
        connection.connectionLost(failure.Failure(ConnectionDone()))
        return answers

    @defer.inlineCallbacks
    def test_a_directory_at_the_path_then_the_file(self):
        os.makedirs(self.path)
        service = self.start()
        yield service.store_attempt
        (line,) = self.failures()
        self.assertIn(f"cannot open SQLite store {self.path}: a directory, not a database file", line["cause"])
        # Diameter goes on: DWR answered; AIR needs the store: 5012.
        dwa, aia = yield self.peer_exchange(service, dwr(), air())
        self.assertEqual(dwa.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertEqual(aia.get("Result-Code"), results.DIAMETER_UNABLE_TO_COMPLY)
        self.assertEqual(len(self.flushLoggedErrors(StoreUnavailable)), 1)   # the node's handler failure
        # Tried again after 0.5 s, 1 s...; the same cause is not logged again.
        yield self.retry(service, 0.5)
        yield self.retry(service, 1.0)
        self.assertEqual(len(self.failures()), 1)
        os.rmdir(self.path)
        yield self.retry(service, 2.0)
        self.assertIs((yield service.when_store_open()), service.store)
        self.assertEqual(self.events[-1]["log_format"], "store open after {attempts} attempts in {seconds:.1f} s")
        self.assertEqual(self.events[-1]["attempts"], 4)
        self.assertEqual(self.clock.getDelayedCalls(), [])   # no retry, no deadline left
        # The store answers now: an unknown IMSI, not 5012.
        (aia,) = yield self.peer_exchange(service, air())
        self.assertEqual(aia.get("Experimental-Result/Experimental-Result-Code"), 5001)
        self.assertEqual(self.given_up, [])

    @defer.inlineCallbacks
    def test_locked_at_start_then_released(self):
        holder = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        service = self.start()
        yield service.store_attempt
        (line,) = self.failures()
        self.assertIn("database is locked", line["cause"])
        (dwa,) = yield self.peer_exchange(service, dwr())
        self.assertEqual(dwa.get("Result-Code"), results.DIAMETER_SUCCESS)
        yield self.retry(service, 0.5)
        self.assertEqual(len(self.failures()), 1)
        holder.execute("ROLLBACK")
        yield self.retry(service, 1.0)
        self.assertIs((yield service.when_store_open()), service.store)
        self.assertEqual((yield service.store.count_subscribers()), 0)

    @defer.inlineCallbacks
    def test_another_cause_is_logged_again(self):
        holder = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        service = self.start()
        yield service.store_attempt
        holder.execute("ROLLBACK")
        holder.close()
        os.remove(self.path)
        os.makedirs(self.path)
        yield self.retry(service, 0.5)
        self.assertEqual([("locked" in e["cause"], "directory" in e["cause"]) for e in self.failures()],
                         [(True, False), (False, True)])

    @defer.inlineCallbacks
    def test_backoff_is_capped(self):
        os.makedirs(self.path)
        service = self.start(start_timeout=0)   # for ever
        yield service.store_attempt
        for delay in (0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0):
            yield self.retry(service, delay)
        service._store_attempts = 5000   # hours of retries: still every 10 s
        yield self.retry(service, 10.0)
        self.assertEqual(len(self.failures()), 1)
        self.assertIn("for ever", self.failures()[0]["until"])
        self.assertEqual(self.given_up, [])

    @defer.inlineCallbacks
    def test_gives_up_after_start_timeout_with_one_line(self):
        os.makedirs(self.path)
        service = self.start(start_timeout=2)
        waiting = service.when_store_open()
        yield service.store_attempt
        yield self.retry(service, 0.5)
        yield self.retry(service, 1.0)
        self.clock.advance(0.5)
        (message,) = self.given_up
        self.assertEqual(message, f"<defaults>: database.start_timeout: the store did not open within 2 s: "
                                  f"cannot open SQLite store {self.path}: a directory, not a database file")
        (critical,) = [event for event in self.events if event["log_level"].name == "critical"]
        self.assertEqual(critical["line"], message)
        self.assertEqual(self.clock.getDelayedCalls(), [])   # no more retries
        self.failureResultOf(waiting)

    @defer.inlineCallbacks
    def test_a_newer_schema_stops_start_up_at_once(self):
        conn = sqlite3.connect(self.path)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
        conn.commit()
        conn.close()
        os.chmod(self.path, 0o600)
        service = self.start()
        waiting = service.when_store_open()
        yield service.store_attempt
        (message,) = self.given_up
        self.assertEqual(message, f"{self.path}: database schema version {SCHEMA_VERSION + 1} is newer than this "
                                  f"pyhss (schema version {SCHEMA_VERSION}); upgrade pyhss to use it")
        self.assertEqual(self.clock.getDelayedCalls(), [])   # no retry, no deadline
        self.failureResultOf(waiting)

    @defer.inlineCallbacks
    def test_stopping_ends_the_retries(self):
        os.makedirs(self.path)
        service = self.start()
        yield service.store_attempt
        yield service.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class StoreConfigTests(unittest.TestCase):

    def test_start_timeout_and_wal_limit(self):
        config = Config.default(database={"start_timeout": 0, "sqlite": {"wal_limit": 1 << 20}})
        self.assertEqual((config.database.start_timeout, config.database.sqlite.wal_limit), (0.0, 1 << 20))
        self.assertEqual((Config.default().database.start_timeout, Config.default().database.sqlite.wal_limit),
                         (60.0, 64 << 20))
        for database, line in [
                ({"start_timeout": -1}, "<defaults>: database.start_timeout: must be a number from 0 to 86400, got -1"),
                ({"start_timeout": "1m"}, "<defaults>: database.start_timeout: must be a number of seconds, got '1m'"),
                ({"sqlite": {"wal_limit": 4096}},
                 "<defaults>: database.sqlite.wal_limit: must be between 65536 and 1099511627776, got 4096")]:
            error = self.assertRaises(ConfigError, Config.default, database=database)
            self.assertEqual(str(error), line)


class TwistdStoreTimeoutTests(unittest.TestCase):
    """C{twistd -n pyhss} whose store never opens: exit status 1, and the
    start_timeout line in its log."""

    timeout = 60

    @defer.inlineCallbacks
    def test_exit_status_and_line(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(directory, "db.sqlite3"))   # a directory where the file should be
        with open(os.path.join(directory, "pyhss.yaml"), "w") as handle:
            handle.write("hss: {OriginHost: hss.example.org, OriginRealm: example.org, MCC: '001', MNC: '01'}\n"
                         "database: {start_timeout: 1, sqlite: {path: db.sqlite3}}\n"
                         "logging: {level: info}\n")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        if not os.path.exists(twistd):
            raise unittest.SkipTest("no twistd script beside %s" % (sys.executable,))
        out, err, code = yield utils.getProcessOutputAndValue(
            twistd, ["-n", "--pidfile=", "pyhss", "--config", "pyhss.yaml", "--port", "0"],
            env=dict(os.environ, PYTHONPATH=ROOT), path=directory)
        self.assertEqual(code, 1, out + err)
        text = out.decode()
        path = os.path.join(directory, "db.sqlite3")
        self.assertEqual(text.count("store not open: "), 1, text)
        self.assertIn(f"pyhss.yaml: database.start_timeout: the store did not open within 1 s: cannot open "
                      f"SQLite store {path}: a directory, not a database file\n", text)
