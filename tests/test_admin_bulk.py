"""``pyhss-admin import`` and ``export`` on every backend that runs here:
the export holds every field, importing it into an empty store gives the
same subscribers back (import after export is the identity), a failed
import stores nothing, the export file is new and private."""

import os
import stat

import yaml
from twisted.internet import defer
from twisted.trial import unittest

from tests import db_servers
from tests.test_admin import K, OPC, AdminFixture
from tests.test_store_sqlserver import server_or_skip

HEADER = ("imsi,k,opc,op,amf,sqn,msisdn,apns,enabled,roaming_allowed,ue_ambr_ul,ue_ambr_dl,"
          "network_access_mode,periodic_rau_tau_timer,access_restriction_data")


def varied_rows(count):
    """Rows exercising every column, each cell as export writes it."""
    rows = []
    for i in range(count):
        keys = f"{OPC}," if i % 3 else f",{OPC}"
        rows.append(",".join([
            f"00101{i:010d}", K + "," + keys, "8000" if i % 2 else "0001", str(i * 37 % 281474976710655),
            f"1555{i:07d}" if i % 4 else "", ["internet", "internet;ims", "", "ims;internet"][i % 4],
            "true" if i % 5 else "false", "false" if i % 7 == 0 else "true",
            str(i * 1000) if i % 2 else "", "4294967295" if i % 2 else "",
            "2" if i % 3 else "0", "3240" if i % 6 else "", str(i % 64)]))
    return rows


class _BulkTests(AdminFixture):
    def setUp(self):
        AdminFixture.setUp(self)
        self.use_new_database()

    def use_new_database(self):
        """Point the config at a new empty database."""
        with open(self.config) as handle:
            data = yaml.safe_load(handle)
        data["database"] = self.database()
        with open(self.config, "w") as handle:
            yaml.safe_dump(data, handle)

    def database(self):
        return {"backend": "sqlite", "sqlite": {"path": self.mktemp() + ".sqlite3"}}

    def export_path(self, name="export.csv"):
        return os.path.join(self.directory, name)

    def read(self, path):
        with open(path) as handle:
            return handle.read()

    @defer.inlineCallbacks
    def test_import_after_export_is_the_identity(self):
        yield self.add_apn()
        yield self.add_apn("ims")
        source = os.path.join(self.directory, "source.csv")
        text = HEADER + "\n" + "\n".join(varied_rows(120)) + "\n"
        with open(source, "w") as handle:
            handle.write(text)
        self.assertEqual((yield self.json("import", source)), {"imported": 120, "skipped": 0})
        first = self.export_path()
        self.assertEqual((yield self.json("export", first)), {"exported": 120, "file": first})
        self.assertEqual(self.read(first), text)   # every field, as written
        self.assertEqual(stat.S_IMODE(os.stat(first).st_mode), 0o600)
        # Into an empty store, and out again: the same file.
        self.use_new_database()
        yield self.add_apn()
        yield self.add_apn("ims")
        self.assertEqual((yield self.json("import", first)), {"imported": 120, "skipped": 0})
        second = self.export_path("again.csv")
        yield self.admin("export", second)
        self.assertEqual(self.read(second), text)
        self.assertIn("exists", (yield self.admin("export", second, status=2)))

    @defer.inlineCallbacks
    def test_failed_import_stores_nothing(self):
        yield self.add_apn()
        rows = varied_rows(60)
        rows[55] = rows[55].replace("8000", "80", 1)   # a bad AMF near the end
        source = os.path.join(self.directory, "bad.csv")
        with open(source, "w") as handle:
            handle.write(HEADER + "\n" + "\n".join(row.replace("ims;internet", "internet")
                                                   .replace("internet;ims", "internet") for row in rows) + "\n")
        error = yield self.admin("import", source, status=2)
        self.assertIn(f"{source}:57: AMF must be 2 bytes", error)
        self.assertEqual((yield self.json("subscriber", "list")), [])


class SqliteBulkTests(_BulkTests, unittest.TestCase):
    pass


class MariaDbBulkTests(_BulkTests, unittest.TestCase):
    def database(self):
        server = server_or_skip("mariadb")
        name = server.create_database()
        self.addCleanup(server.drop_database, name)
        return server.server_config(name)


class PostgresBulkTests(_BulkTests, unittest.TestCase):
    def database(self):
        server = server_or_skip("postgresql")
        name = server.create_database()
        self.addCleanup(server.drop_database, name)
        return server.server_config(name)


__all__ = ["db_servers"]
