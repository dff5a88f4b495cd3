"""The SQLite store's equipment register beyond the contract: the upgrade of
a version-1 database and the history's bound over many writes."""

import os
import sqlite3

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.storage.records_eir import BLACKLISTED, EquipmentRule, HistoryLimit
from pyhss.storage.sqlite import SCHEMA_VERSION, SqliteStore
from pyhss.storage.sqlite_rows import encode_subscriber
from pyhss.storage.sqlite_schema import VERSION_TABLE, _VERSION_1
from tests.store_contract import IMSI, subscriber
from tests.store_contract_eir import IMEI, check

# Version 1, as the first releases wrote it: its statements (kept as
# sqlite_schema's first step) and one row.
V1_INSERT_SUBSCRIBER = "INSERT INTO subscriber VALUES (%s)" % ", ".join("?" * 15)


def write_version_1(path):
    conn = sqlite3.connect(path)
    try:
        for statement in (VERSION_TABLE,) + _VERSION_1:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute(V1_INSERT_SUBSCRIBER, encode_subscriber(subscriber(sqn=77, msisdn="15551230001")))
        conn.commit()
    finally:
        conn.close()
    os.chmod(path, 0o600)


def tables(path):
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    finally:
        conn.close()


class SqliteEquipmentTests(unittest.TestCase):

    def open(self, path):
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        return store

    @defer.inlineCallbacks
    def test_version_1_database_is_upgraded(self):
        self.assertEqual(SCHEMA_VERSION, 3)
        path = self.mktemp()
        write_version_1(path)
        self.assertNotIn("equipment_rule", tables(path))
        store = self.open(path)
        yield store.opened
        self.assertEqual(store.warnings, [f"{path}: database schema upgraded from version 1 to 3"])
        # What version 1 held is intact, and the new role works.
        self.assertEqual((yield store.get_subscriber(IMSI)), subscriber(sqn=77, msisdn="15551230001"))
        rule = EquipmentRule(IMEI, BLACKLISTED, imsi=IMSI)
        yield store.add_equipment_rule(rule)
        self.assertEqual((yield store.match_equipment(IMEI)), (rule, None))
        yield store.record_equipment_checks([check(1.0)], HistoryLimit())
        yield store.close()
        self.assertTrue({"equipment_rule", "equipment_check"} <= tables(path))
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("SELECT version FROM schema_version").fetchall(), [(3,)])
        conn.close()
        # Opened again: nothing to upgrade, everything kept.
        again = self.open(path)
        yield again.opened
        self.assertEqual(again.warnings, [])
        self.assertEqual((yield again.get_equipment_rule(IMEI)), rule)
        self.assertEqual((yield again.count_equipment_checks()), 1)

    @defer.inlineCallbacks
    def test_new_database_has_every_table(self):
        path = self.mktemp()
        store = self.open(path)
        yield store.opened
        self.assertEqual(store.warnings, [])
        yield store.close()
        self.assertTrue({"subscriber", "apn", "serving_node", "equipment_rule", "equipment_check"} <= tables(path))

    @defer.inlineCallbacks
    def test_history_bound_holds_over_many_writes(self):
        store = self.open(self.mktemp())
        limit = HistoryLimit(max_rows=1000)
        at = 0
        for size in (700, 700, 1, 999, 2500, 3):
            added, removed = yield store.record_equipment_checks(
                [check(float(at + i)) for i in range(size)], limit)
            at += size
            self.assertEqual(added, size)
            self.assertEqual((yield store.count_equipment_checks()), min(at, 1000))
        kept = yield store.list_equipment_checks()
        self.assertEqual([c.checked_at for c in kept], [float(t) for t in range(at - 1000, at)])
        # The age bound removes from the oldest end; ids stay consecutive,
        # so the row bound still counts right afterwards.
        yield store.record_equipment_checks([], HistoryLimit(before=float(at - 10)))
        self.assertEqual((yield store.count_equipment_checks()), 10)
        yield store.record_equipment_checks([check(float(at + i)) for i in range(995)], limit)
        self.assertEqual((yield store.count_equipment_checks()), 1000)
        everything_old = yield store.record_equipment_checks([], HistoryLimit(before=float(10 ** 9)))
        self.assertEqual(everything_old, (0, 1000))
        self.assertEqual((yield store.count_equipment_checks()), 0)
