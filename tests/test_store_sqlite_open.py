"""A SQLite store that fails to open: calls fail at once with
StoreUnavailable, and it can be opened again once the cause is gone."""

import os
import sqlite3

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.storage.errors import StoreError, StoreUnavailable
from pyhss.storage.sqlite import SqliteStore
from tests.store_contract import IMSI, subscriber


class ReopenTests(unittest.TestCase):

    timeout = 30

    def setUp(self):
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "pyhss.sqlite3")

    def open(self, busy_timeout=0.05):
        store = SqliteStore(self.path, reactor, busy_timeout=busy_timeout)
        self.addCleanup(store.close)
        return store

    @defer.inlineCallbacks
    def test_a_directory_then_the_file(self):
        os.makedirs(self.path)
        store = self.open()
        error = yield self.assertFailure(store.opened, StoreError)
        self.assertEqual(str(error), f"cannot open SQLite store {self.path}: a directory, not a database file")
        # Calls fail at once, with the cause, rather than wait in the queue.
        call = store.get_subscriber(IMSI)
        error = self.failureResultOf(call, StoreUnavailable).value
        self.assertIn("a directory, not a database file", str(error))
        again = yield self.assertFailure(store.reopen(), StoreError)
        self.assertIn("a directory", str(again))
        os.rmdir(self.path)
        self.assertIs((yield store.reopen()), store)
        yield store.add_subscriber(subscriber())
        self.assertEqual((yield store.get_subscriber(IMSI)), subscriber())
        self.assertIs((yield store.reopen()), store)   # open already: nothing to do

    @defer.inlineCallbacks
    def test_locked_then_released(self):
        holder = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        store = self.open()
        error = yield self.assertFailure(store.opened, StoreError)
        self.assertIn("database is locked", str(error))
        self.failureResultOf(store.count_subscribers(), StoreUnavailable)
        holder.execute("ROLLBACK")
        self.assertIs((yield store.reopen()), store)
        self.assertEqual((yield store.count_subscribers()), 0)

    @defer.inlineCallbacks
    def test_reopen_of_a_closed_store(self):
        store = self.open()
        yield store.opened
        yield store.close()
        yield self.assertFailure(store.reopen(), StoreError)
