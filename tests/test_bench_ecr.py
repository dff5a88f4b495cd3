"""bench/diameter_load.py's ECR kind and the bench EIR it runs against."""

import io
import os
import sys

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.protocols.codec import decode_message, validate
from tests.bench_helpers import load_bench

load = load_bench("diameter_load")

ARGV = ("--origin-host", "mme.bench.test", "--origin-realm", "bench.test", "--imsi-first", "001010000000100",
        "--subscribers", "40", "--variants", "60", "--eir-rules", "50", "--mcc", "001", "--mnc", "01",
        "--destination-realm", "hss.realm.test")


def ecr_kind(*argv):
    options = load.parse_arguments(list(ARGV) + ["--spawn-server"] + list(argv))
    load.server_identity(options)
    return load.REQUEST_KINDS["ecr"](options, options.origin_host, options.origin_realm)


class EcrKindTests(unittest.TestCase):

    def test_requests(self):
        import request_kinds
        kind = ecr_kind()
        self.assertIs(load.REQUEST_KINDS["ecr"], request_kinds.EquipmentCheckKind)
        messages = [decode_message(t.render(i, i, 1000 + i)) for i, t in enumerate(load.build_templates(kind))]
        self.assertEqual(len(messages), 60)
        listed = covered = 0
        for message in messages:
            self.assertEqual((message.application_id, message.name), (16777252, "ECR"))
            self.assertEqual(validate(message), [])
            imei = message.get("Terminal-Information/IMEI")
            self.assertEqual(len(imei), 14)
            self.assertEqual(len(message.get("Terminal-Information/Software-Version")), 2)
            self.assertTrue(100 <= int(message.get("User-Name")) - 1010000000000 < 140)
            listed += imei.startswith(request_kinds.LISTED_TAC_PREFIX)
            covered += imei.startswith(request_kinds.TAC_RULE_PREFIX)
        self.assertEqual(listed + covered, 60)
        self.assertTrue(listed and covered)
        self.assertEqual(len({m.get("Session-Id") for m in messages}), 60)

    def test_bench_imei(self):
        import request_kinds
        self.assertEqual(request_kinds.bench_imei(0, 50), "35000000000000")
        self.assertEqual(request_kinds.bench_imei(1234, 5000), "35000001000234")
        self.assertEqual(request_kinds.bench_imei(5000, 5000), "86000000000000")

    def test_option_checks(self):
        self.patch(sys, "stderr", io.StringIO())
        self.assertRaises(SystemExit, load.parse_arguments, ["--eir-rules", "10"])     # no --spawn-server
        self.assertRaises(SystemExit, load.parse_arguments, ["--spawn-server", "--eir-rules", "0"])


class BenchEirTests(unittest.TestCase):

    timeout = 30

    @defer.inlineCallbacks
    def test_provision_eir_then_every_ecr_answers_2001(self):
        import provision
        from pyhss.apps.s13 import S13Application
        from pyhss.storage.sqlite import SqliteStore
        from tests.interop_nodes import start_node
        path = self.mktemp() + ".sqlite3"
        self.assertEqual((yield provision.provision_eir(reactor, path, 50, "001010000000100", 40)), 51)
        self.assertEqual((yield provision.provision_eir(reactor, path, 50, "001010000000100", 40)), 51)
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        rules = yield store.list_equipment_rules()
        self.assertEqual(len(rules), 51)
        self.assertEqual(len([r for r in rules if r.imsi]), 5)      # every tenth IMEI rule is bound
        node = yield start_node(self, origin_host="hss.bench.test",
                                origin_realm="epc.mnc001.mcc001.3gppnetwork.org")
        S13Application(node.node, store).register()
        options = load.parse_arguments([
            "--port", str(node.port), "--window", "10", "--requests", "200", "--request", "ecr",
            "--origin-host", "mme.bench.test", "--origin-realm", "bench.test", "--imsi-first", "001010000000100",
            "--subscribers", "40", "--variants", "100", "--mcc", "001", "--mnc", "01", "--config", os.devnull])
        options.eir_rules = 50      # as --spawn-server --eir-rules 50 provisioned it
        load.server_identity(options)
        kind = load.REQUEST_KINDS["ecr"](options, options.origin_host, options.origin_realm)
        run = load.LoadRun(reactor, options, kind, output=io.StringIO())
        summary = yield run.run()
        yield defer.DeferredList([c.closed for c in run.connections])
        self.assertEqual((summary["sent"], summary["answered"]), (200, 200))
        self.assertEqual(summary["errors"]["result_codes"], {})
