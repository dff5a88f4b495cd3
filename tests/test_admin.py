"""pyhss-admin, run in-process against a temporary SQLite store."""

import io
import json
import os
import sys

import yaml
from twisted.internet import defer, reactor, task, utils
from twisted.trial import unittest

from pyhss import admin, control
from pyhss.apps.s6a import OPERATOR_DETERMINED_BARRING, SUBSCRIPTION_WITHDRAWAL, S6aApplication, encode_msisdn
from pyhss.config import load_config
from pyhss.node import DiameterNode
from pyhss.protocols.dictionary import CMD_CLR, CMD_IDR
from pyhss.storage.sqlite import SqliteStore
from tests.peer_helpers import PEER_HOST
from tests.test_control import connect_answering_mme
from tests.test_s6a_location import ulr
from tests.test_tap import short_directory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMSI = "001010000000001"
K = "465B5CE8B199B49FAA5F0A2EE238A6BC"
OPC = "CD63CB71954A9F4E48A5994E37A02BAF"


class AdminFixture:
    """A config.yaml in a temporary directory; admin() runs pyhss-admin in-process."""

    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        with open(os.path.join(ROOT, "config.yaml")) as handle:
            data = yaml.safe_load(handle)
        data["database"]["sqlite"]["path"] = "store/pyhss.sqlite3"   # relative to the config file
        # No server listens here unless a test starts one (serve()).
        self.control_socket = os.path.join(short_directory(self), "control")
        data["control"]["socket"] = self.control_socket
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


class AdminTests(AdminFixture, unittest.TestCase):
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
    def test_import_row_errors_name_file_and_line(self):
        yield self.add_apn()
        yield self.add()
        header = "imsi,k,opc,apns\n"
        row = "{imsi},%s,%s,{apns}\n" % (K, OPC)
        for text, line, fragment in [
            (header + row.format(imsi="001010000000002", apns="internet")
             + row.format(imsi="001010000000003", apns="internet;nope"), 3, "unknown APN 'nope'"),
            (header + row.format(imsi="001010000000002", apns="") + "\n"
             + row.format(imsi="001010000000002", apns="internet"), 4,
             "IMSI 001010000000002 already on line 2"),
            (header + row.format(imsi="001010000000002", apns="") + row.format(imsi=IMSI, apns=""), 3,
             f"subscriber {IMSI} already exists"),
            (header + row.format(imsi="0010100000000", apns=""), 2, "IMSI must be"),
            (header.encode() + row.format(imsi="001010000000002", apns="").encode()
             + b"001010000000003,\xff\n", 3, "not UTF-8 text"),
        ]:
            path = os.path.join(self.directory, "subs.csv")
            with open(path, "wb") as handle:
                handle.write(text if isinstance(text, bytes) else text.encode())
            error = yield self.admin("import", path, status=2)
            self.assertTrue(error.startswith(f"pyhss-admin: error: {path}:{line}: "), error)
            self.assertIn(fragment, error)
        path = self.write_csv(header + row.format(imsi="001010000000002", apns="")
                              + row.format(imsi="001010000000002", apns=""))
        error = yield self.admin("import", path, "--skip-existing", status=2)   # ambiguous, not "existing"
        self.assertIn(f"{path}:3: IMSI 001010000000002 already on line 2", error)
        self.assertEqual(len((yield self.json("subscriber", "list"))), 1)   # nothing half-imported

    @defer.inlineCallbacks
    def test_import_accepts_a_byte_order_mark(self):
        # Spreadsheets save "CSV UTF-8" with a BOM before the header.
        path = os.path.join(self.directory, "bom.csv")
        with open(path, "w", encoding="utf-8-sig") as handle:
            handle.write(f"imsi,k,opc\n{IMSI},{K},{OPC}\n")
        with open(path, "rb") as handle:
            self.assertTrue(handle.read().startswith(b"\xef\xbb\xbfimsi,"))
        self.assertEqual((yield self.json("import", path)), {"imported": 1, "skipped": 0})

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


class ServerNotificationTests(AdminFixture, unittest.TestCase):
    """update and cancel tell the running server (control socket) about it."""

    @defer.inlineCallbacks
    def serve(self):
        """A server on the control socket: S6a over the same SQLite file, with
        MME PEER_HOST connected and answering 2001."""
        config = load_config(self.config)
        store = SqliteStore(config.database.sqlite.path, reactor)
        self.addCleanup(store.close)
        yield store.opened
        node = DiameterNode(config.hss.origin_host, config.hss.origin_realm, task.Clock())
        self.s6a = S6aApplication(node, store, "001", "01")
        port = control.listen(reactor, self.control_socket, control.ControlLocator([self.s6a]))
        self.addCleanup(port.stopListening)
        self.mme = connect_answering_mme(node)

    @defer.inlineCallbacks
    def attach(self, imsi=IMSI):
        yield self.s6a.update_location(ulr(mme=PEER_HOST, imsi=imsi), None)

    @defer.inlineCallbacks
    def test_update_without_server(self):
        yield self.add()
        out = yield self.admin("subscriber", "update", IMSI, "--msisdn", "4915112345678")
        self.assertEqual(out.splitlines(), [
            f"updated subscriber {IMSI}",
            f"server not running (no control socket at {self.control_socket}): store updated, no IDR sent"])
        updated = yield self.json("subscriber", "update", IMSI, "--ue-ambr-ul", "1000", "--ue-ambr-dl", "2000")
        self.assertEqual((updated["ue_ambr_dl"], updated["idr"]["sent"], updated["idr"]["reason"]),
                         (2000, False, "server-unreachable"))
        out = yield self.admin("subscriber", "update", IMSI, "--sqn", "40")
        self.assertIn("Subscription-Data unchanged: no IDR needed", out)

    @defer.inlineCallbacks
    def test_roaming_flag(self):
        yield self.add()
        shown = yield self.json("subscriber", "show", IMSI)
        self.assertTrue(shown["roaming_allowed"])
        out = yield self.admin("subscriber", "update", IMSI, "--no-roaming")
        self.assertIn("Subscription-Data unchanged: no IDR needed", out)
        shown = yield self.json("subscriber", "show", IMSI)
        self.assertFalse(shown["roaming_allowed"])
        yield self.admin("subscriber", "update", IMSI, "--roaming")
        shown = yield self.json("subscriber", "show", IMSI)
        self.assertTrue(shown["roaming_allowed"])
        yield self.admin("subscriber", "update", IMSI, "--roaming", "--no-roaming", status=2)

    @defer.inlineCallbacks
    def test_cancel_without_server(self):
        yield self.add()
        error = yield self.admin("subscriber", "cancel", IMSI, status=1)
        self.assertIn(f"server not running (no control socket at {self.control_socket}): no CLR sent", error)
        yield self.admin("subscriber", "cancel", "12", status=2)
        with open(self.config) as handle:
            text = handle.read()
        with open(self.config, "w") as handle:
            handle.write(text.replace(self.control_socket, "''"))
        error = yield self.admin("subscriber", "cancel", IMSI, status=1)
        self.assertIn("no control socket configured (control.socket in", error)

    @defer.inlineCallbacks
    def test_update_sends_idr(self):
        yield self.add_apn()
        yield self.add("--apn", "internet", "--msisdn", "3361234567")
        yield self.add(imsi="001010000000002")
        yield self.serve()
        yield self.attach()
        out = yield self.admin("subscriber", "update", IMSI, "--msisdn", "4915112345678")
        self.assertEqual(out.splitlines()[1], f"IDR sent to {PEER_HOST}: 2001")
        (idr,) = self.mme.received
        self.assertEqual(idr.command_code, CMD_IDR)
        self.assertEqual(idr.get("Subscription-Data/MSISDN"), encode_msisdn("4915112345678"))
        updated = yield self.json("subscriber", "update", IMSI, "--disable")
        self.assertEqual(updated["idr"], {"sent": True, "mme": PEER_HOST, "result_code": 2001, "reason": None,
                                          "message": f"IDR sent to {PEER_HOST}: 2001"})
        self.assertEqual(self.mme.received[1].get("Subscription-Data/Subscriber-Status"),
                         OPERATOR_DETERMINED_BARRING)
        out = yield self.admin("subscriber", "update", "001010000000002", "--msisdn", "15550001")
        self.assertIn("no IDR sent: no serving MME registered", out)
        self.assertEqual(len(self.mme.received), 2)

    @defer.inlineCallbacks
    def test_cancel(self):
        yield self.add()
        yield self.add(imsi="001010000000002")
        yield self.serve()
        yield self.attach()
        result = yield self.json("subscriber", "cancel", IMSI)
        message = f"CLR (subscription withdrawal) sent to {PEER_HOST}: 2001"
        self.assertEqual(result, {"imsi": IMSI, "clr": {"sent": True, "mme": PEER_HOST, "result_code": 2001,
                                                        "reason": None, "message": message}})
        (clr,) = self.mme.received
        self.assertEqual((clr.command_code, clr.get("Cancellation-Type")), (CMD_CLR, SUBSCRIPTION_WITHDRAWAL))
        self.mme.code = 5001
        error = yield self.admin("subscriber", "cancel", IMSI, status=1)
        self.assertIn(f"sent to {PEER_HOST}: 5001", error)
        out = yield self.admin("subscriber", "cancel", "001010000000002")   # nothing to withdraw
        self.assertEqual(out, "no CLR (subscription withdrawal) sent: no serving MME registered\n")
        error = yield self.admin("subscriber", "cancel", "001019999999999", status=1)
        self.assertIn("no subscriber 001019999999999", error)
        self.s6a.node.peers.clear()
        error = yield self.admin("subscriber", "cancel", IMSI, status=1)
        self.assertIn(f"serving MME {PEER_HOST} is not connected", error)
        self.assertEqual(len(self.mme.received), 2)
