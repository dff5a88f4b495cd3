"""The SQLite store's IMS tables: a database of schema version 1 (before
them) is upgraded when opened, its subscribers kept."""

import sqlite3

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.sqlite import SCHEMA_VERSION, SqliteStore
from pyhss.storage.sqlite_rows import INSERT_SUBSCRIBER, encode_subscriber
from tests.store_contract import IMSI, IMPI, ims_subscription, subscriber

# The schema of version 1, as pyhss 0.1 created it (before the IMS tables).
VERSION_1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE subscriber (
    imsi TEXT PRIMARY KEY NOT NULL, k BLOB NOT NULL, opc BLOB, op BLOB, amf BLOB NOT NULL, sqn INTEGER NOT NULL,
    msisdn TEXT, apns TEXT NOT NULL, enabled INTEGER NOT NULL, roaming_allowed INTEGER NOT NULL,
    ue_ambr_ul INTEGER, ue_ambr_dl INTEGER, network_access_mode INTEGER NOT NULL, periodic_rau_tau_timer INTEGER,
    access_restriction_data INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX subscriber_by_msisdn ON subscriber (msisdn);
CREATE TABLE apn (
    name TEXT PRIMARY KEY NOT NULL, qci INTEGER NOT NULL, arp_priority INTEGER NOT NULL,
    arp_preemption_capability INTEGER NOT NULL, arp_preemption_vulnerability INTEGER NOT NULL,
    ambr_ul INTEGER, ambr_dl INTEGER, pdn_type TEXT NOT NULL, context_id INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE TABLE serving_node (
    imsi TEXT PRIMARY KEY NOT NULL, mme_host TEXT NOT NULL, mme_realm TEXT NOT NULL, peer TEXT,
    updated_at REAL NOT NULL, purged INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO schema_version (version) VALUES (1);
"""


class SchemaUpgradeTests(unittest.TestCase):

    def version_1_database(self):
        path = self.mktemp()
        conn = sqlite3.connect(path)
        conn.executescript(VERSION_1)
        conn.execute(INSERT_SUBSCRIBER, encode_subscriber(subscriber(sqn=42)))
        conn.commit()
        conn.close()
        return path

    def versions(self, path):
        conn = sqlite3.connect(path)
        try:
            return [row[0] for row in conn.execute("SELECT version FROM schema_version")]
        finally:
            conn.close()

    @defer.inlineCallbacks
    def test_version_1_is_upgraded_and_keeps_its_subscribers(self):
        self.assertEqual(SCHEMA_VERSION, 3)
        path = self.version_1_database()
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        yield store.opened
        self.assertEqual(self.versions(path), [SCHEMA_VERSION])
        self.assertEqual((yield store.get_subscriber(IMSI)).sqn, 42)
        yield store.add_ims_subscription(ims_subscription())
        self.assertEqual((yield store.get_ims_subscription(IMPI)).imsi, IMSI)
        yield store.close()
        again = SqliteStore(path, reactor)
        self.addCleanup(again.close)
        self.assertEqual((yield again.get_ims_subscription(IMPI)), ims_subscription())
        self.assertEqual(self.versions(path), [SCHEMA_VERSION])

    @defer.inlineCallbacks
    def test_a_newer_database_is_refused_untouched(self):
        path = self.version_1_database()
        conn = sqlite3.connect(path)
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
        conn.commit()
        conn.close()
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        try:
            yield store.opened
        except StoreError as e:
            self.assertIn("newer", str(e))
        else:
            self.fail("a newer schema was opened")
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.assertNotIn("ims_subscription", tables)


class StoredRowTests(unittest.TestCase):

    @defer.inlineCallbacks
    def test_a_row_edited_by_another_tool_is_checked(self):
        path = self.mktemp()
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        yield store.add_subscriber(subscriber())
        yield store.add_ims_subscription(ims_subscription())
        self.assertEqual((yield store.get_ims_subscription(IMPI)), ims_subscription())
        conn = sqlite3.connect(path)
        conn.execute("UPDATE ims_subscription SET impus = 'sip:x@ims.test' WHERE impi = ?", (IMPI,))
        conn.commit()
        conn.close()
        try:
            yield store.get_ims_subscription(IMPI)
        except ValidationError as e:
            self.assertIn("uri/barred/set", str(e))
        else:
            self.fail("an edited row was taken as it is")
