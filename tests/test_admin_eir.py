"""``pyhss-admin eir``, in-process against a temporary SQLite store."""

import datetime
import os
import sqlite3
import sys

from twisted.internet import defer, reactor, utils
from twisted.trial import unittest

from pyhss.admin_eir import parse_since
from pyhss.config import load_config
from pyhss.storage.errors import ValidationError
from pyhss.storage.records_eir import BLACKLISTED, GREYLISTED, WHITELISTED, EquipmentRule, HistoryLimit
from pyhss.storage.sqlite import SqliteStore
from tests.store_contract_eir import check
from tests.test_admin import ROOT, AdminFixture

IMEI15 = "490154203237518"     # TS 23.003 Annex B, with its check digit
IMEI = IMEI15[:14]
IMSI = "001010000000001"


class EirAdminTests(AdminFixture, unittest.TestCase):

    @defer.inlineCallbacks
    def test_add_list_delete(self):
        out = yield self.admin("eir", "add", "--imei", IMEI15, "--status", "blacklisted", "--imsi", IMSI,
                               "--note", "stolen, case 42")
        self.assertEqual(out, f"added the rule for IMEI {IMEI}: blacklisted, bound to IMSI {IMSI}\n")
        added = yield self.json("eir", "add", "--tac", "35123456", "--status", "greylisted")
        self.assertEqual((added["tac"], added["imei"], added["status"], added["imsi"]),
                         ("35123456", None, "greylisted", None))
        rules = yield self.json("eir", "list")
        self.assertEqual([(r["tac"], r["imei"], r["status"], r["imsi"], r["note"]) for r in rules],
                         [("35123456", None, "greylisted", None, None),
                          (None, IMEI, "blacklisted", IMSI, "stolen, case 42")])
        self.assertTrue(rules[0]["updated_at"].endswith("Z"))
        table = yield self.admin("eir", "list", "--limit", "1")
        self.assertEqual(table.splitlines()[0].split(), ["TAC", "IMEI", "STATUS", "IMSI", "NOTE", "UPDATED_AT"])
        self.assertEqual(len(table.splitlines()), 2)
        out = yield self.admin("eir", "delete", "--imei", IMEI)
        self.assertEqual(out, f"deleted the rule for IMEI {IMEI}\n")
        err = yield self.admin("eir", "delete", "--imei", IMEI, status=1)
        self.assertIn(f"no rule for {IMEI}", err)
        self.assertEqual((yield self.json("eir", "delete", "--tac", "35123456")), {"tac": "35123456", "deleted": True})
        self.assertEqual((yield self.json("eir", "list")), [])

    @defer.inlineCallbacks
    def test_replace(self):
        yield self.admin("eir", "add", "--imei", IMEI, "--status", "whitelisted")
        err = yield self.admin("eir", "add", "--imei", IMEI, "--status", "blacklisted", status=2)
        self.assertIn(f"a rule for IMEI {IMEI} already exists", err)
        yield self.admin("eir", "add", "--imei", IMEI, "--status", "blacklisted", "--replace")
        self.assertEqual([r["status"] for r in (yield self.json("eir", "list"))], ["blacklisted"])

    @defer.inlineCallbacks
    def test_refused_input(self):
        for argv, text in (
                (("eir", "add", "--imei", IMEI + "0", "--status", "blacklisted"), "check digit of"),
                (("eir", "add", "--imei", "4901542032375", "--status", "blacklisted"), "IMEI must be"),
                (("eir", "add", "--tac", "4901542", "--status", "blacklisted"), "TAC must be 8 digits"),
                (("eir", "add", "--tac", "49015420", "--status", "blacklisted", "--imsi", IMSI), "needs an IMEI"),
                (("eir", "add", "--imei", IMEI, "--status", "blacklisted", "--imsi", "12"), "IMSI must be"),
                (("eir", "add", "--imei", IMEI, "--status", "black"), "invalid choice"),
                (("eir", "add", "--imei", IMEI, "--tac", "49015420", "--status", "blacklisted"), "not allowed"),
                (("eir", "add", "--status", "blacklisted"), "one of the arguments --imei --tac is required"),
                (("eir", "add", "--imei", IMEI, "--status", "blacklisted", "--note", "a\nb"), "note must be"),
                (("eir", "history", "--since", "yesterday"), "--since"),
                (("eir", "history", "--imei", "12"), "IMEI must be"),
                (("eir", "history", "--limit", "-1"), "must not be negative"),
                (("eir", "check", "4901542032375X"), "IMEI must be digits"),
                (("eir", "check", IMEI, "--imsi", "x"), "User-Name must be an IMSI")):
            err = yield self.admin(*argv, status=2)
            self.assertIn(text, err, argv)

    @defer.inlineCallbacks
    def test_check_says_what_the_server_answers(self):
        yield self.admin("eir", "add", "--imei", IMEI, "--status", "whitelisted", "--imsi", IMSI)
        yield self.admin("eir", "add", "--tac", "35123456", "--status", "greylisted")
        out = yield self.admin("eir", "check", IMEI15, "--imsi", IMSI)
        self.assertEqual(out, f"IMEI {IMEI}: whitelisted, by the rule for IMEI {IMEI}\n")
        found = yield self.json("eir", "check", IMEI + "0", "--imsi", "001010000000002")
        self.assertEqual(found, {"imei": IMEI, "imsi": "001010000000002", "result_code": 2001,
                                 "status": "blacklisted", "reason": "imsi-mismatch"})
        found = yield self.json("eir", "check", "35123456000001")
        self.assertEqual((found["status"], found["reason"]), ("greylisted", "tac"))
        out = yield self.admin("eir", "check", "01020304050607")
        self.assertEqual(out, "IMEI 01020304050607: DIAMETER_ERROR_EQUIPMENT_UNKNOWN (5422), "
                              "by no rule: s13.unknown_status\n")

    @defer.inlineCallbacks
    def test_history(self):
        # As the server writes them (its history goes through the same store).
        path = load_config(self.config).database.sqlite.path
        store = SqliteStore(path, reactor)
        now = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=datetime.timezone.utc).timestamp()
        yield store.record_equipment_checks([
            check(now - 7200), check(now - 60, imsi="001010000000002"), check(now, imei="35123456000001")],
            HistoryLimit())
        yield store.close()
        everything = yield self.json("eir", "history")
        self.assertEqual([c["time"] for c in everything],
                         ["2026-12-06T08:00:00.000Z", "2026-12-06T09:59:00.000Z", "2026-12-06T10:00:00.000Z"])
        self.assertEqual(everything[0], {
            "time": "2026-12-06T08:00:00.000Z", "imei": "49015420323751", "software_version": "07",
            "imsi": IMSI, "mme": "mme1.test", "result_code": 2001, "status": "whitelisted", "reason": "imei"})
        by_imei = yield self.json("eir", "history", "--imei", IMEI15)
        self.assertEqual(len(by_imei), 2)
        by_imsi = yield self.json("eir", "history", "--imsi", "001010000000002")
        self.assertEqual([c["time"] for c in by_imsi], ["2026-12-06T09:59:00.000Z"])
        since = yield self.json("eir", "history", "--since", "2026-12-06T09:30")
        self.assertEqual(len(since), 2)
        since = yield self.json("eir", "history", "--imei", IMEI, "--since", "2026-12-06T11:30+02:00")
        self.assertEqual(len(since), 1)
        newest = yield self.json("eir", "history", "--limit", "1")
        self.assertEqual([c["imei"] for c in newest], ["35123456000001"])
        table = yield self.admin("eir", "history")
        self.assertEqual(table.splitlines()[0].split(),
                         ["TIME", "IMEI", "SOFTWARE_VERSION", "IMSI", "MME", "RESULT_CODE", "STATUS", "REASON"])
        self.assertEqual(len(table.splitlines()), 4)

    @defer.inlineCallbacks
    def test_version_1_database_upgraded_with_a_warning(self):
        import io
        import os
        from pyhss import admin
        from tests.test_store_sqlite_eir import write_version_1
        path = load_config(self.config).database.sqlite.path
        os.makedirs(os.path.dirname(path), mode=0o700)
        write_version_1(path)
        stdout, stderr = io.StringIO(), io.StringIO()
        code = yield admin.run(reactor, ["--config", self.config, "eir", "list"], stdout, stderr)
        self.assertEqual(code, 0)
        self.assertEqual(stderr.getvalue(),
                         f"pyhss-admin: warning: {path}: database schema upgraded from version 1 to 3\n")
        self.assertEqual([s["imsi"] for s in (yield self.json("subscriber", "list"))], [IMSI])

    def test_parse_since(self):
        now = 1_000_000.0
        self.assertEqual(parse_since("90s", now), now - 90)
        self.assertEqual(parse_since("30m", now), now - 1800)
        self.assertEqual(parse_since("1.5h", now), now - 5400)
        self.assertEqual(parse_since("7d", now), now - 7 * 86400)
        self.assertEqual(parse_since("1970-01-02", now), 86400.0)
        self.assertEqual(parse_since("1970-01-02T00:00:00Z", now), 86400.0)
        self.assertEqual(parse_since("1970-01-02T02:00:00+02:00", now), 86400.0)
        for text in ("", "7w", "-5m", "tomorrow", "1970-13-01"):
            self.assertRaises(ValidationError, parse_since, text, now)


class RuleCopyTests(AdminFixture, unittest.TestCase):
    """The SQLite store answers ECRs from an in-memory copy of the rules
    (sqlite_eir.RuleIndex): a rule that ``pyhss-admin eir`` writes from
    another process, or this process writes through the store, is what
    the next match finds."""

    def admin_process(self, *argv):
        env = dict(os.environ, PYTHONPATH=ROOT)
        return utils.getProcessOutputAndValue(
            sys.executable, ["-m", "pyhss.admin", "--config", self.config] + list(argv), env=env, path=ROOT)

    @defer.inlineCallbacks
    def loaded(self, store):
        """The copy, once loaded (a match starts its load)."""
        index = store._rule_index
        index._next_load = 0.0      # no wait since the last load (RELOAD_DUTY)
        yield store.match_equipment(IMEI)
        if index.loading is not None:
            yield index.loading
        self.assertIsNotNone(index.current(), "the copy is current")

    @defer.inlineCallbacks
    def test_rules_written_elsewhere_apply_to_the_next_match(self):
        store = SqliteStore(load_config(self.config).database.sqlite.path, reactor)
        self.addCleanup(store.close)
        tac = yield store.add_equipment_rule(EquipmentRule(IMEI[:8], GREYLISTED))
        yield self.loaded(store)
        self.assertEqual((yield store.match_equipment(IMEI)), (None, tac))

        # Another process adds an IMEI rule: the copy is stale at once and
        # the next match reads SQLite.
        out, err, code = yield self.admin_process("eir", "add", "--imei", IMEI, "--status", "blacklisted")
        self.assertEqual(code, 0, err)
        imei_rule = yield store.get_equipment_rule(IMEI)
        self.assertEqual((yield store.match_equipment(IMEI)), (imei_rule, tac))
        yield self.loaded(store)
        self.assertEqual((yield store.match_equipment(IMEI)), (imei_rule, tac))

        # ... and deletes it.
        out, err, code = yield self.admin_process("eir", "delete", "--imei", IMEI)
        self.assertEqual(code, 0, err)
        self.assertEqual((yield store.match_equipment(IMEI)), (None, tac))

        # This process's own writes (the REST API's) count too, and so does
        # any other connection's.
        yield self.loaded(store)
        replaced = yield store.add_equipment_rule(EquipmentRule(IMEI[:8], WHITELISTED), replace=True)
        self.assertEqual((yield store.match_equipment(IMEI)), (None, replaced))
        yield self.loaded(store)
        conn = sqlite3.connect(store.path, isolation_level=None)
        self.addCleanup(conn.close)
        conn.execute("UPDATE equipment_rule SET status = 1")
        conn.close()
        self.assertEqual((yield store.match_equipment(IMEI))[1].status, BLACKLISTED)

    @defer.inlineCallbacks
    def test_store_without_rules_table_changes_falls_back(self):
        # A reader that cannot read (the file's version row gone, as if an
        # older tool dropped it) leaves every match to SQL, which still answers.
        store = SqliteStore(load_config(self.config).database.sqlite.path, reactor)
        self.addCleanup(store.close)
        tac = yield store.add_equipment_rule(EquipmentRule(IMEI[:8], GREYLISTED))
        yield self.loaded(store)
        conn = sqlite3.connect(store.path, isolation_level=None)
        self.addCleanup(conn.close)
        conn.execute("DROP TABLE equipment_rule_version")
        conn.close()
        self.assertIsNone(store._rule_index.current())
        self.assertEqual((yield store.match_equipment(IMEI)), (None, tac))

    @defer.inlineCallbacks
    def test_close_waits_for_a_load(self):
        store = SqliteStore(load_config(self.config).database.sqlite.path, reactor)
        self.addCleanup(store.close)
        yield store.add_equipment_rule(EquipmentRule(IMEI[:8], GREYLISTED))
        matched = store.match_equipment(IMEI)     # starts the load (its thread may end it soon)
        loading = store._rule_index.loading
        self.assertIsNotNone(loading)
        fired = []
        loading.addBoth(fired.append)
        closed = store.close()
        yield matched
        yield closed
        self.assertEqual(len(fired), 1)
        self.assertIsNone(store._rule_index.reader)

    @defer.inlineCallbacks
    def test_a_bad_row_is_refused_from_sql_and_from_the_copy(self):
        store = SqliteStore(load_config(self.config).database.sqlite.path, reactor)
        self.addCleanup(store.close)
        yield store.add_equipment_rule(EquipmentRule(IMEI[:8], GREYLISTED))
        yield self.loaded(store)
        conn = sqlite3.connect(store.path, isolation_level=None)
        self.addCleanup(conn.close)
        conn.execute("INSERT INTO equipment_rule VALUES ('35780502398494', 7, NULL, NULL, 0.0)")
        conn.close()
        for _ in range(2):      # stale: read by SQL; then from the copy
            e = yield self.assertFailure(store.match_equipment("35780502398494"), ValidationError)
            self.assertIn("equipment status", str(e))
            yield self.loaded(store)
