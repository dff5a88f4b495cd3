"""One schema version list for every backend (pyhss.storage.schema):
each backend has a step for every version, a database of the previous
version is brought forward with its data, a newer one is refused with one
line."""

import io
import os
import sqlite3

import sqlalchemy as sa
from twisted.internet import defer, reactor, threads
from twisted.trial import unittest

from pyhss import admin
from pyhss.storage import schema, sqlite_schema
from pyhss.storage.errors import InUseError
from pyhss.storage.schema import SCHEMA_VERSION, VERSIONS, SchemaTooNew
from pyhss.storage.sqlite import SqliteStore
from pyhss.storage.sqlite_rows import encode_apn, encode_subscriber
from pyhss.storage.sqlserver import schema as sql_schema
from pyhss.storage.sqlserver.dialects import make_engine
from pyhss.storage.sqlserver.subscribers import apn_table, apn_values, subscriber_table, subscriber_values
from tests.store_contract import IMSI, subscriber
from tests.test_store_sqlserver import ServerDatabase
from pyhss.storage.ims_records import ImsSubscription
from pyhss.storage.interface import SubscriberQuery
from pyhss.storage.records import ApnProfile
from pyhss.storage.records_eir import BLACKLISTED, EquipmentRule

OTHER = "001010000000002"
PREVIOUS = SCHEMA_VERSION - 1


def previous_version_records():
    """What a database of the previous version holds: two APNs, two subscribers naming them."""
    apns = [ApnProfile("internet", context_id=1), ApnProfile("ims", qci=5, context_id=2)]
    subscribers = [subscriber(apns=("internet", "ims"), sqn=99), subscriber(OTHER, apns=("ims",))]
    return apns, subscribers


class VersionListTests(unittest.TestCase):
    def test_versions_count_from_one(self):
        self.assertEqual([v.number for v in VERSIONS], list(range(1, len(VERSIONS) + 1)))
        self.assertEqual(SCHEMA_VERSION, VERSIONS[-1].number)

    def test_every_backend_has_every_step(self):
        from pyhss.storage.mongodb import schema as mongo_schema
        for name, migrations in (("sqlite", sqlite_schema.MIGRATIONS), ("sql servers", sql_schema.MIGRATIONS),
                                 ("mongodb", mongo_schema.MIGRATIONS)):
            self.assertEqual(sorted(migrations), [v.number for v in VERSIONS], name)

    def test_pending(self):
        self.assertEqual(schema.pending(None, "db", sqlite_schema.MIGRATIONS), [v.number for v in VERSIONS])
        self.assertEqual(schema.pending(SCHEMA_VERSION, "db", sqlite_schema.MIGRATIONS), [])
        e = self.assertRaises(SchemaTooNew, schema.pending, SCHEMA_VERSION + 1, "db.sqlite3", {})
        self.assertEqual(str(e), f"db.sqlite3: database schema version {SCHEMA_VERSION + 1} is newer than this "
                                 f"pyhss (schema version {SCHEMA_VERSION}); upgrade pyhss to use it")
        self.assertNotIn("\n", str(e))


class SqliteMigrationTests(unittest.TestCase):
    """A database of the previous version, as the released code wrote it
    (version 2: its tables and one schema_version row), brought forward."""

    def previous_database(self):
        path = self.mktemp()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN")
        self.assertEqual(sqlite_schema.migrate(conn, path, upto=PREVIOUS), (None, list(range(1, PREVIOUS + 1))))
        apns, subscribers = previous_version_records()
        for profile in apns:
            conn.execute("INSERT INTO apn VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", encode_apn(profile))
        for record in subscribers:
            conn.execute(f"INSERT INTO subscriber VALUES ({', '.join('?' * 15)})", encode_subscriber(record))
        conn.execute("COMMIT")
        conn.close()
        return path

    @defer.inlineCallbacks
    def test_previous_version_is_migrated(self):
        path = self.previous_database()
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        yield store.opened
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0], SCHEMA_VERSION)
        self.assertEqual(sorted(conn.execute("SELECT apn, imsi FROM subscriber_apn")),
                         [("ims", IMSI), ("ims", OTHER), ("internet", IMSI)])
        _, subscribers = previous_version_records()
        self.assertEqual((yield store.get_subscriber(IMSI)), subscribers[0])
        e = yield self.assertFailure(store.delete_apn("internet"), InUseError)
        self.assertIn(IMSI, str(e))
        yield store.update_subscriber(IMSI, apns=("ims",))
        yield store.delete_apn("internet")

    @defer.inlineCallbacks
    def test_newer_database_refused_by_admin_in_one_line(self):
        path = os.path.abspath(self.mktemp())
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
        conn.commit()
        conn.close()
        os.chmod(path, 0o600)
        config = path + ".yaml"
        with open(config, "w") as handle:
            handle.write("hss: {OriginHost: hss.example.org, OriginRealm: example.org, MCC: '001', MNC: '01'}\n"
                         f"database: {{backend: sqlite, sqlite: {{path: {path}}}}}\ncontrol: {{socket: ''}}\n")
        out, err = io.StringIO(), io.StringIO()
        status = yield admin.run(reactor, ["--config", config, "subscriber", "list"], out, err)
        self.assertEqual(status, admin.EXIT_FAILED)
        self.assertEqual(err.getvalue().count("\n"), 1)
        self.assertEqual(err.getvalue(), f"pyhss-admin: error: {path}: database schema version {SCHEMA_VERSION + 1} "
                                         f"is newer than this pyhss (schema version {SCHEMA_VERSION}); "
                                         f"upgrade pyhss to use it\n")


class _SqlServerMigration(ServerDatabase):
    """A database of the previous version on a real server, opened by the
    current code."""

    def run_sql(self, config, function):
        def work():
            engine = make_engine(config.backend, config.server, 1)
            try:
                with engine.connect() as conn:
                    return function(conn)
            finally:
                engine.dispose()
        return threads.deferToThread(work)

    @defer.inlineCallbacks
    def migrated_from(self, version):
        """A database of schema ``version`` with data in it, opened by the
        current code: every later step applied, the data kept."""
        config = self.database_config()
        apns, subscribers = previous_version_records()

        def build(conn):
            sql_schema.prepare(conn, "test", upto=version)
            with conn.begin():
                conn.execute(apn_table.insert(), [apn_values(p) for p in apns])
                conn.execute(subscriber_table.insert(), [subscriber_values(s) for s in subscribers])
        yield self.run_sql(config, build)
        store = self.open(config)
        yield store.opened
        self.assertEqual(store.applied_versions, list(range(version + 1, SCHEMA_VERSION + 1)))
        self.assertEqual((yield store.get_subscriber(IMSI)), subscribers[0])
        e = yield self.assertFailure(store.delete_apn("internet"), InUseError)
        self.assertIn(IMSI, str(e))
        self.assertEqual([s.imsi for s in (yield store.list_subscribers(query=SubscriberQuery(apn="ims")))],
                         [IMSI, OTHER])
        yield store.update_subscriber(IMSI, apns=("ims",))
        yield store.delete_apn("internet")
        # The roles of version 2 work on the migrated database.
        yield store.add_ims_subscription(ImsSubscription("alice@ims.test", IMSI, ("sip:alice@ims.test",)))
        self.assertEqual((yield store.find_ims_subscription("sip:alice@ims.test")).imsi, IMSI)
        yield store.add_equipment_rule(EquipmentRule("49015420323751", BLACKLISTED))
        self.assertEqual((yield store.match_equipment("49015420323751"))[0].status, BLACKLISTED)
        versions = yield self.run_sql(config, lambda conn: [row[0] for row in conn.execute(
            sa.select(sql_schema.schema_version_table.c.version).order_by("version"))])
        self.assertEqual(versions, [v.number for v in VERSIONS])

    def test_previous_version_is_migrated(self):
        return self.migrated_from(PREVIOUS)

    def test_version_1_is_migrated(self):
        return self.migrated_from(1)

    @defer.inlineCallbacks
    def test_newer_database_refused(self):
        config = self.database_config()

        def newer(conn):
            sql_schema.prepare(conn, "test")
            with conn.begin():
                conn.execute(sql_schema.schema_version_table.insert(), {"version": SCHEMA_VERSION + 1})
        yield self.run_sql(config, newer)
        store = self.open(config)
        e = yield self.assertFailure(store.opened, SchemaTooNew)
        self.assertIn(f"schema version {SCHEMA_VERSION + 1} is newer than this pyhss", str(e))
        self.assertIn(config.server.database, str(e))
        yield self.assertFailure(store.reopen(), SchemaTooNew)   # never retried

    @defer.inlineCallbacks
    def test_two_stores_create_one_schema(self):
        config = self.database_config()
        stores = [self.open(config) for _ in range(5)]
        yield defer.gatherResults([store.opened for store in stores])
        self.assertEqual(sorted(len(store.applied_versions) for store in stores), [0, 0, 0, 0, SCHEMA_VERSION])


class MariaDbMigrationTests(_SqlServerMigration, unittest.TestCase):
    kind = "mariadb"


class PostgresMigrationTests(_SqlServerMigration, unittest.TestCase):
    kind = "postgresql"
