"""bench/diameter_load.py's Cx kinds (uar, mar, sar): what they send, and
short real runs against an in-process node serving Cx over the memory
store provisioned as bench/provision.py does."""

import io
import os

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.protocols.codec import decode_message, validate
from tests.bench_helpers import load_bench

load = load_bench("diameter_load")


class CxLoadRunTests(unittest.TestCase):

    timeout = 30
    FIRST = "001010000000100"

    @defer.inlineCallbacks
    def start(self, provisioned):
        import provision
        from pyhss.apps.cx import CxApplication
        from pyhss.storage.memory import MemoryStore
        from tests.interop_nodes import start_node
        store = MemoryStore()
        yield store.add_apn(provision.bench_apn())
        yield store.add_ifc_template(provision.BENCH_IFC)
        for index in range(provisioned):
            imsi = "%015d" % (int(self.FIRST) + index)
            yield store.add_subscriber(provision.bench_subscriber(imsi, index))
            yield store.add_ims_subscription(provision.bench_ims_subscription(imsi, index))
        node = yield start_node(self, origin_host="hss.bench.test", origin_realm="ims.bench")
        CxApplication(node.node, store).register()
        return node, store

    def options(self, port, name, requests=200, subscribers=40):
        options = load.parse_arguments([
            "--port", str(port), "--window", "10", "--requests", str(requests), "--request", name,
            "--origin-host", "scscf.bench.test", "--origin-realm", "bench.test", "--imsi-first", self.FIRST,
            "--subscribers", str(subscribers), "--variants", "100", "--mcc", "001", "--mnc", "01",
            "--config", os.devnull])
        load.server_identity(options)
        return options

    def test_requests_are_valid_cx(self):
        for name, command in (("uar", "UAR"), ("mar", "MAR"), ("sar", "SAR")):
            options = self.options(3868, name)
            kind = load.REQUEST_KINDS[name](options, options.origin_host, options.origin_realm)
            message = decode_message(load.build_templates(kind)[0].render(1, 1, 0))
            self.assertEqual((message.name, message.application_id, validate(message)), (command, 16777216, []))
            self.assertTrue(message.get("Public-Identity").endswith("@ims.bench"))

    @defer.inlineCallbacks
    def test_uar_mar_sar_answer_2001(self):
        node, store = yield self.start(provisioned=40)
        for name in ("uar", "mar", "sar"):
            options = self.options(node.port, name)
            kind = load.REQUEST_KINDS[name](options, options.origin_host, options.origin_realm)
            run = load.LoadRun(reactor, options, kind, output=io.StringIO())
            summary = yield run.run()
            yield defer.DeferredList([c.closed for c in run.connections])
            self.assertEqual((summary["sent"], summary["answered"]), (200, 200))
            self.assertEqual(summary["errors"]["result_codes"], {}, name)
            self.assertEqual((summary["errors"]["timeouts"], summary["errors"]["disconnects"]), (0, 0))
        _, registration = yield store.ims_lookup(impi=kind.imsis[0] + "@ims.bench")
        self.assertEqual(registration.server_name, "sip:scscf.ims.bench:6060")
        self.assertEqual(registration.state("sip:%s@ims.bench" % kind.imsis[0]), "registered")
        subscriber = yield store.get_subscriber(kind.imsis[0])
        self.assertGreater(subscriber.sqn, 0)       # MAR used the S6a counter


class ProvisionImsTests(unittest.TestCase):

    timeout = 20

    @defer.inlineCallbacks
    def test_provision_adds_ims_subscriptions(self):
        import provision
        from pyhss.storage.sqlite import SqliteStore
        path = self.mktemp() + ".sqlite3"
        yield provision.provision(reactor, path, "001010000000100", 25)
        yield provision.provision(reactor, path, "001010000000100", 25)   # again: nothing new
        store = SqliteStore(path, reactor)
        yield store.opened
        try:
            self.assertEqual((yield store.count_ims_subscriptions()), 25)
            found = yield store.find_ims_subscription("sip:001010000000124@ims.bench")
            self.assertEqual((found.imsi, found.ifc), ("001010000000124", "bench"))
        finally:
            yield store.close()
