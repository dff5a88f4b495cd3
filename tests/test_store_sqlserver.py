"""The store contract against real SQL servers: a MariaDB and a PostgreSQL
server started by the tests (tests/db_servers.py, one of each per test
process, a new database per test), and MSSQL when PYHSS_TEST_MSSQL_URI
names one (no MSSQL server can be installed here)."""

import os
import urllib.parse

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.config import Config
from pyhss.storage import open_store
from pyhss.storage.errors import StoreError, ValidationError
from tests import db_servers
from tests.store_contract import IMSI, StoreContractMixin, sqns, subscriber

MSSQL_URI = os.environ.get("PYHSS_TEST_MSSQL_URI")


def server_or_skip(kind):
    try:
        return db_servers.shared_server(kind)
    except db_servers.ServerUnavailable as e:
        raise unittest.SkipTest(str(e))


class ServerDatabase:
    """``self.database_config(**server_keys)``: the config of a new empty
    database on this class's server (dropped after the test)."""

    kind = None

    def database_config(self, **extra):
        server = server_or_skip(self.kind)
        name = server.create_database()
        self.addCleanup(server.drop_database, name)
        data = server.server_config(name, **extra)
        return Config.default(database=data).database

    def open(self, database=None, **extra):
        store = open_store(database or self.database_config(**extra), reactor)
        self.addCleanup(store.close)
        return store


# The tables the contract writes, children first.
TABLES = ("serving_node", "subscriber_apn", "ims_public_identity", "ims_subscription", "ifc_template",
          "equipment_check", "equipment_rule", "subscriber", "apn")
_REUSED = {}


class ReusedDatabase(ServerDatabase):
    """One database per server for the contract tests, emptied before each
    (creating the schema for each test cost most of their time)."""

    def make_store(self):
        server = server_or_skip(self.kind)
        name = _REUSED.get(self.kind)
        if name is None:
            name = _REUSED[self.kind] = server.create_database()
        else:
            for table in TABLES:
                server.sql(f"DELETE FROM {table}", name)
        data = server.server_config(name)
        return open_store(Config.default(database=data).database, reactor)


class MariaDbContractTests(ReusedDatabase, StoreContractMixin, unittest.TestCase):
    kind = "mariadb"


class PostgresContractTests(ReusedDatabase, StoreContractMixin, unittest.TestCase):
    kind = "postgresql"


def mssql_database_config():
    """database config from PYHSS_TEST_MSSQL_URI (mssql://user:password@host:port/database)."""
    uri = urllib.parse.urlsplit(MSSQL_URI)
    server = {"host": uri.hostname or "localhost", "database": uri.path.lstrip("/") or "pyhss",
              "user": urllib.parse.unquote(uri.username or ""), "password": urllib.parse.unquote(uri.password or "")}
    if uri.port:
        server["port"] = uri.port
    return Config.default(database={"backend": "mssql", "server": server}).database


class MssqlContractTests(StoreContractMixin, unittest.TestCase):
    if not MSSQL_URI:
        skip = ("no MSSQL server can be installed on this machine: set PYHSS_TEST_MSSQL_URI="
                "mssql://USER:PASSWORD@HOST:PORT/DATABASE to run the contract against one "
                "(its tables are dropped before each test)")

    @defer.inlineCallbacks
    def make_store(self):
        config = mssql_database_config()
        from pyhss.storage.sqlserver.dialects import make_engine
        from pyhss.storage.sqlserver.base import METADATA
        engine = make_engine("mssql", config.server, 1)
        yield self._drop(engine, METADATA)
        return open_store(config, reactor)

    def _drop(self, engine, metadata):
        from twisted.internet import threads
        import sqlalchemy as sa

        def drop():
            with engine.begin() as conn:
                metadata.drop_all(conn)
                conn.execute(sa.text("IF OBJECT_ID('schema_version') IS NOT NULL DROP TABLE schema_version"))
            engine.dispose()
        return threads.deferToThread(drop)


class ConnectionSettingsTests(ServerDatabase, unittest.TestCase):
    """database.server's password file, and a refused login: one line, no password in it."""

    kind = "mariadb"

    @defer.inlineCallbacks
    def test_password_file(self):
        config = self.database_config()
        path = self.mktemp()
        with open(path, "w") as handle:
            handle.write(config.server.password + "\n")
        data = {"backend": "mariadb", "server": {"socket": config.server.socket, "user": config.server.user,
                                                 "password_file": path, "database": config.server.database}}
        store = self.open(Config.default(database=data).database)
        self.assertIs((yield store.opened), store)
        self.assertEqual((yield store.count_subscribers()), 0)

    @defer.inlineCallbacks
    def test_refused_login_is_one_line_without_the_password(self):
        config = self.database_config()
        data = {"backend": "mariadb", "server": {"socket": config.server.socket, "user": config.server.user,
                                                 "password": "wrong-secret-1234", "database": config.server.database}}
        store = self.open(Config.default(database=data).database)
        e = yield self.assertFailure(store.opened, StoreError)
        self.assertIn("cannot open MariaDB/MySQL database", str(e))
        self.assertIn("Access denied", str(e))
        self.assertNotIn("wrong-secret-1234", str(e))
        self.assertNotIn("\n", str(e))
        yield self.assertFailure(store.get_subscriber("001010000000001"), StoreError)


class OneRoundTripSqnTests(unittest.TestCase):
    """The SQL arithmetic of AIR's one-round-trip SQN reservation is
    advance()'s, and the SQN before follows from the one after (checked
    here on SQLite's integer arithmetic; the contract runs it on MariaDB
    and PostgreSQL)."""

    def test_sql_and_inverse_follow_advance(self):
        import sqlite3
        from pyhss.auc.sqn import SqnRequest, advance
        from pyhss.storage.interface import RequiredState
        from pyhss.storage.sqlserver import sqn
        conn = sqlite3.connect(":memory:")
        if conn.execute("SELECT sqlite_compileoption_used('ENABLE_MATH_FUNCTIONS')").fetchone()[0] != 1:
            conn.create_function("MOD", 2, lambda a, b: a % b, deterministic=True)
        seq_top = (1 << 43) - 1
        for ind_bits in (0, 5, 16):
            for count in (1, 3, 32, 33):
                request = SqnRequest(count, ind_bits)
                expression = sqn._new_sqn_sql(request)
                for old in (0, 31, 32, 1 << 47, (1 << 48) - 1, (seq_top << 5) | 30, 123456789):
                    new, _ = advance(old, request)
                    computed = conn.execute(f"SELECT {expression} FROM (SELECT ? AS sqn)", (old,)).fetchone()[0]
                    self.assertEqual(computed, new, (ind_bits, count, old))
                    self.assertEqual(sqn._old_sqn(new, request), old, (ind_bits, count, old))
        # The drivers' placeholders are %s: no other '%' in the statement.
        for dialect in ("postgresql", "mariadb"):
            self.assertNotIn("%", sqn._statement(dialect, SqnRequest(2), RequiredState(restrictions=4))
                             .replace("%s", ""))


class SqnBatchMixin(ServerDatabase):
    """AIR's SQN reservations made in one turn share batches on a real
    server (pyhss/storage/sqlserver/sqn_batch.py)."""

    @defer.inlineCallbacks
    def open_with(self, *subscribers):
        server = server_or_skip(self.kind)
        name = server.create_database()
        self.addCleanup(server.drop_database, name)
        store = open_store(Config.default(database=server.server_config(name)).database, reactor)
        self.addCleanup(store.close)
        yield store.opened
        for record in subscribers:
            yield store.add_subscriber(record)
        return server, name, store

    @defer.inlineCallbacks
    def test_one_imsi_per_batch_in_call_order(self):
        imsis = [f"00101000000000{n}" for n in (1, 2, 3)]
        _, _, store = yield self.open_with(*(subscriber(imsi, sqn=0) for imsi in imsis))
        calls = [store.reserve_sqns(imsis[i % 3], sqns(2)) for i in range(30)]
        results = yield defer.gatherResults(calls, consumeErrors=True)
        for n, imsi in enumerate(imsis):
            mine = [sqn for i, (_, pair) in enumerate(results) if i % 3 == n for sqn in pair]
            self.assertEqual(mine, list(range(1, 21)))
        # Ten rounds of the three IMSIs: a second call for an IMSI waits
        # for the batch holding the first.
        self.assertEqual((store.sqn_batcher.batches, store.sqn_batcher.largest_seen), (10, 3))

    @defer.inlineCallbacks
    def test_row_out_of_policy_fails_alone(self):
        server, name, store = yield self.open_with(subscriber(sqn=5), subscriber("001010000000002", sqn=7))
        server.sql(f"UPDATE subscriber SET sqn = {1 << 48} WHERE imsi = '001010000000002'", name)
        calls = [store.reserve_sqns("001010000000002", sqns(1)), store.reserve_sqns(IMSI, sqns(1)),
                 store.reserve_sqns(IMSI, sqns(1))]
        results = yield defer.DeferredList(calls, consumeErrors=True)
        self.assertFalse(results[0][0])
        self.assertTrue(results[0][1].check(ValidationError))
        self.assertEqual([pair for _, (_, pair) in results[1:]], [[6], [7]])
        self.assertEqual(store.sqn_batcher.largest_seen, 2)

    @defer.inlineCallbacks
    def test_queued_calls_fail_when_the_store_closes(self):
        _, _, store = yield self.open_with(subscriber(sqn=5))
        calls = [store.reserve_sqns(IMSI, sqns(1)) for _ in range(3)]
        yield store.close()
        for call in calls:
            yield self.assertFailure(call, StoreError)
        self.assertEqual(store.sqn_batcher.batches, 0)


class MariaDbSqnBatchTests(SqnBatchMixin, unittest.TestCase):
    kind = "mariadb"


class PostgresSqnBatchTests(SqnBatchMixin, unittest.TestCase):
    kind = "postgresql"
