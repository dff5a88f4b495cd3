"""pyhss-admin, run in-process against a temporary SQLite store."""

import io
import json
import os
import sys

import yaml
from twisted.internet import defer, reactor, utils
from twisted.trial import unittest

from pyhss import admin
from pyhss.config import load_config
from pyhss.storage.sqlite import SqliteStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMSI = "001010000000001"
K = "465B5CE8B199B49FAA5F0A2EE238A6BC"
OPC = "CD63CB71954A9F4E48A5994E37A02BAF"


class AdminTests(unittest.TestCase):
    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        with open(os.path.join(ROOT, "config.yaml")) as handle:
            data = yaml.safe_load(handle)
        data["database"]["sqlite"]["path"] = "store/pyhss.sqlite3"   # relative to the config file
        self.config = os.path.join(directory, "config.yaml")
        with open(self.config, "w") as handle:
            yaml.safe_dump(data, handle)
        self.directory = directory

    @defer.inlineCallbacks
    def admin(self, *argv, status=0):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = yield admin.run(reactor, ["--config", self.config] + list(argv), stdout, stderr)
        self.assertEqual(code, status, f"stdout: {stdout.getvalue()!r} stderr: {stderr.getvalue()!r}")
        if status:
            lines = stderr.getvalue().splitlines()
            self.assertEqual(len(lines), 1, lines)
            self.assertTrue(lines[0].startswith("pyhss-admin: error: "), lines[0])
        else:
            self.assertEqual(stderr.getvalue(), "")
        return stdout.getvalue() if not status else stderr.getvalue()

    @defer.inlineCallbacks
    def json(self, *argv):
        return json.loads((yield self.admin("--json", *argv)))

    def add_apn(self, name="internet"):
        return self.admin("apn", "add", name, "--qci", "9", "--arp", "8", "--ambr-ul", "50000000",
                          "--ambr-dl", "100000000", "--pdn-type", "ipv4v6")

    def add(self, *extra, imsi=IMSI, status=0):
        return self.admin("subscriber", "add", "--imsi", imsi, "--k", K, "--opc", OPC, *extra, status=status)

    @defer.inlineCallbacks
    def test_add_show_list_delete(self):
        yield self.add_apn()
        out = yield self.add("--amf", "8000", "--sqn", "5", "--msisdn", "15551230001", "--apn", "internet")
        self.assertIn(IMSI, out)
        shown = yield self.json("subscriber", "show", IMSI)
        self.assertEqual((shown["k"], shown["opc"], shown["op"]), (K, OPC, None))
        self.assertEqual((shown["sqn"], shown["msisdn"], shown["apns"], shown["amf"]),
                         (5, "15551230001", ["internet"], "8000"))
        text = yield self.admin("subscriber", "show", IMSI)
        self.assertIn(K, text)
        listed = yield self.json("subscriber", "list")
        self.assertEqual([row["imsi"] for row in listed], [IMSI])
        self.assertNotIn("k", listed[0])
        table = yield self.admin("subscriber", "list")
        self.assertNotIn(K, table)
        self.assertNotIn(OPC, table)
        self.assertIn(IMSI, table)
        yield self.admin("subscriber", "delete", IMSI)
        self.assertEqual((yield self.json("subscriber", "list")), [])
        yield self.admin("subscriber", "delete", IMSI, status=1)
        yield self.admin("subscriber", "show", IMSI, status=1)

    @defer.inlineCallbacks
    def test_json_flag_after_command(self):
        yield self.add()
        self.assertEqual(json.loads((yield self.admin("subscriber", "list", "--json")))[0]["imsi"], IMSI)

    @defer.inlineCallbacks
    def test_stored_in_configured_file(self):
        yield self.add("--op", OPC, status=2)   # --opc and --op together is refused
        yield self.add()
        store = SqliteStore(load_config(self.config).database.sqlite.path, reactor)
        self.addCleanup(store.close)
        self.assertTrue(os.path.exists(os.path.join(self.directory, "store", "pyhss.sqlite3")))
        sub = yield store.get_subscriber(IMSI)
        self.assertEqual((sub.k.hex().upper(), sub.amf), (K, b"\x80\x00"))

    @defer.inlineCallbacks
    def test_if_missing_is_idempotent(self):
        yield self.add("--sqn", "7")
        result = yield self.json("subscriber", "add", "--imsi", IMSI, "--k", K, "--opc", OPC, "--sqn", "1",
                                 "--if-missing")
        self.assertEqual(result, {"imsi": IMSI, "created": False})
        self.assertEqual((yield self.json("subscriber", "show", IMSI))["sqn"], 7)
        error = yield self.add(status=2)
        self.assertIn("already exists", error)
        yield self.add_apn()
        again = yield self.json("apn", "add", "internet", "--qci", "5", "--if-missing")
        self.assertEqual((again["created"], again["qci"]), (False, 9))

    @defer.inlineCallbacks
    def test_invalid_input_refused(self):
        cases = [
            (["--imsi", "0010100000001"], "IMSI"),                      # 13 digits
            (["--imsi", "0010100000000012"], "IMSI"),                   # 16 digits
            (["--imsi", "00101000000000a"], "IMSI"),
        ]
        for extra, word in cases:
            error = yield self.admin("subscriber", "add", *extra, "--k", K, "--opc", OPC, status=2)
            self.assertIn(word, error)
        for option, value, word in [("--k", K[:-2] + "ZZ", "hexadecimal"), ("--k", K[:-2], "16 bytes"),
                                    ("--opc", OPC + "00", "16 bytes"), ("--amf", "800", "hexadecimal"),
                                    ("--amf", "800000", "2 bytes"), ("--msisdn", "+1555", "MSISDN"),
                                    ("--apn", "internet", "unknown APN"), ("--sqn", "-1", "negative")]:
            argv = {"--k": K, "--opc": OPC}
            argv[option] = value
            flat = [item for pair in argv.items() for item in pair]
            error = yield self.admin("subscriber", "add", "--imsi", IMSI, *flat, status=2)
            self.assertIn(word, error)
        yield self.admin("subscriber", "add", "--imsi", IMSI, "--k", K, status=2)   # no OPc/OP
        yield self.admin("subscriber", "show", "12", status=2)
        yield self.admin("nothing", status=2)
        self.assertEqual((yield self.json("subscriber", "list")), [])

    @defer.inlineCallbacks
    def test_bad_config(self):
        with open(self.config, "a") as handle:
            handle.write("typo: 1\n")
        error = yield self.admin("subscriber", "list", status=2)
        self.assertIn(f"{self.config}: typo: unknown key", error)

    @defer.inlineCallbacks
    def test_update(self):
        yield self.add_apn()
        yield self.add_apn("ims")
        yield self.add("--apn", "internet")
        updated = yield self.json("subscriber", "update", IMSI, "--apn", "ims", "internet", "--sqn", "99",
                                  "--op", OPC, "--disable")
        self.assertEqual((updated["apns"], updated["sqn"], updated["enabled"]), (["ims", "internet"], 99, False))
        shown = yield self.json("subscriber", "show", IMSI)
        self.assertEqual((shown["op"], shown["opc"]), (OPC, None))
        yield self.admin("subscriber", "update", IMSI, status=2)                  # nothing to change
        yield self.admin("subscriber", "update", IMSI, "--apn", "nope", status=2)
        yield self.admin("subscriber", "update", "001010000000002", "--sqn", "1", status=1)

    @defer.inlineCallbacks
    def test_apn_commands(self):
        added = yield self.json("apn", "add", "Internet", "--qci", "8", "--arp", "2", "--ambr-ul", "1000",
                                "--ambr-dl", "2000", "--pdn-type", "ipv6", "--preemption-capability", "enabled")
        self.assertEqual((added["name"], added["context_id"], added["arp_preemption_capability"]),
                         ("internet", 1, "enabled"))
        shown = yield self.json("apn", "show", "INTERNET")
        self.assertEqual((shown["qci"], shown["arp_priority"], shown["pdn_type"], shown["ambr_dl"]),
                         (8, 2, "ipv6", 2000))
        yield self.admin("apn", "add", "internet", status=2)
        yield self.admin("apn", "add", "other", "--qci", "0", status=2)
        yield self.admin("apn", "add", "other", "--arp", "16", status=2)
        yield self.admin("apn", "add", "other", "--pdn-type", "ipx", status=2)
        yield self.admin("apn", "add", "bad name!", status=2)
        table = yield self.admin("apn", "list")
        self.assertIn("internet", table)
        yield self.add("--apn", "internet")
        self.assertIn("used by subscriber", (yield self.admin("apn", "delete", "internet", status=2)))
        yield self.admin("subscriber", "delete", IMSI)
        yield self.admin("apn", "delete", "internet")
        yield self.admin("apn", "show", "internet", status=1)
        self.assertEqual((yield self.json("apn", "list")), [])

    def write_csv(self, text):
        path = os.path.join(self.directory, "subs.csv")
        with open(path, "w") as handle:
            handle.write(text)
        return path

    @defer.inlineCallbacks
    def test_import(self):
        yield self.add_apn()
        yield self.add_apn("ims")
        rows = ["imsi,k,opc,op,amf,sqn,msisdn,apns"]
        for i in range(1000):
            apns = "internet;ims" if i % 2 else "internet ims"
            rows.append(f"00101{i:010d},{K},{OPC if i % 3 else ''},{'' if i % 3 else OPC},8000,{i},"
                        f"1555{i:07d},{apns}")
        path = self.write_csv("\n".join(rows) + "\n")
        result = yield self.json("import", path)
        self.assertEqual(result, {"imported": 1000, "skipped": 0})
        shown = yield self.json("subscriber", "show", "001010000000003")
        self.assertEqual((shown["op"], shown["sqn"], shown["apns"]), (OPC, 3, ["internet", "ims"]))
        self.assertEqual(len((yield self.json("subscriber", "list", "--limit", "10", "--offset", "995"))), 5)
        self.assertIn("already exists", (yield self.admin("import", path, status=2)))
        self.assertEqual((yield self.json("import", path, "--skip-existing")), {"imported": 0, "skipped": 1000})

    @defer.inlineCallbacks
    def test_import_minimal_columns_and_errors(self):
        path = self.write_csv(f"IMSI,K,OPC\n{IMSI},{K},{OPC}\n\n")
        self.assertIn("imported 1 subscribers", (yield self.admin("import", path)))
        for text, fragment in [
            ("imsi,k,colour\n", ":1: header"),
            ("", "empty file"),
            (f"imsi,k,opc\n001010000000002,{K},{OPC}\n001010000000003,{K[:4]},{OPC}\n", ":3: K must be 16 bytes"),
            (f"imsi,k,opc\n001010000000002,{K}\n", ":2: 2 fields"),
            (f"imsi,k,opc,apns\n001010000000002,{K},{OPC},nope\n", "unknown APN 'nope'"),
            (f"imsi,k,opc,sqn\n001010000000002,{K},{OPC},x\n", ":2: SQN"),
        ]:
            error = yield self.admin("import", self.write_csv(text), status=2)
            self.assertIn(fragment, error)
        yield self.admin("import", os.path.join(self.directory, "missing.csv"), status=2)
        self.assertEqual(len((yield self.json("subscriber", "list"))), 1)   # nothing half-imported

    @defer.inlineCallbacks
    def test_console_script(self):
        """main() through task.react in a real process: exit statuses and streams."""
        env = dict(os.environ, PYTHONPATH=ROOT)
        out, err, code = yield utils.getProcessOutputAndValue(
            sys.executable, ["-m", "pyhss.admin", "--config", self.config, "--json", "subscriber", "list"],
            env=env, path=ROOT)
        self.assertEqual((code, json.loads(out), err), (0, [], b""))
        out, err, code = yield utils.getProcessOutputAndValue(
            sys.executable, ["-m", "pyhss.admin", "--config", self.config, "subscriber", "show", "1"],
            env=env, path=ROOT)
        self.assertEqual((code, out), (2, b""))
        self.assertEqual(err.count(b"\n"), 1)
