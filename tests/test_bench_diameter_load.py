"""
bench/diameter_load.py: its cheap answer parsing, its request templates, and
a short real run against an in-process node on 127.0.0.1.
"""

import argparse
import io
import os
import struct
import sys

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.protocols.codec import Avp, Message, decode_message
from tests.bench_helpers import load_bench
from tests.interop_helpers import wait_until

load = load_bench("diameter_load")


def _answer(*avps):
    message = Message.request(16777251, 318).answer()
    for avp in avps:
        message.append(avp)
    return message.encode()


class AnswerResultCodeTests(unittest.TestCase):

    def test_result_code(self):
        data = b"junk" + _answer(Avp.new("Session-Id", "a;b"),
                                 Avp.new("Result-Code", 5012))
        self.assertEqual(load.answer_result_code(data, 4, len(data)), 5012)

    def test_experimental_result_code(self):
        data = _answer(Avp.new("Experimental-Result", [
            ("Vendor-Id", 10415), ("Experimental-Result-Code", 5001)]))
        self.assertEqual(load.answer_result_code(data, 0, len(data)), 5001)

    def test_no_result(self):
        data = _answer(Avp.new("Origin-Host", "h.example"))
        self.assertEqual(load.answer_result_code(data, 0, len(data)),
                         load.NO_RESULT_CODE)

    def test_bad_avp_length_stops(self):
        data = bytearray(_answer(Avp.new("Result-Code", 2001)))
        struct.pack_into("!I", data, 24, 0x40000004)   # length 4 < 8
        self.assertEqual(load.answer_result_code(bytes(data), 0, len(data)),
                         load.NO_RESULT_CODE)


class RequestTemplateTests(unittest.TestCase):

    def test_ids_and_session_counter_are_patched(self):
        kind = load.RequestKind(None, "bench.example", "example")
        session = kind.session_id(0)
        message = Message.request(16777251, 318).add("Session-Id", session)
        template = load.RequestTemplate(message.encode(), session,
                                        kind.SESSION_COUNTER_DIGITS)
        first = decode_message(template.render(1, 2, 41))
        second = decode_message(template.render(3, 4, 42))
        self.assertEqual((first.hop_by_hop, first.end_to_end), (1, 2))
        self.assertEqual((second.hop_by_hop, second.end_to_end), (3, 4))
        self.assertTrue(first.get("Session-Id").endswith(";000000000041"))
        self.assertTrue(second.get("Session-Id").endswith(";000000000042"))

    def test_dwr_kind_is_in_the_table(self):
        self.assertIs(load.REQUEST_KINDS["dwr"], load.DeviceWatchdogKind)
        templates = load.build_templates(
            load.DeviceWatchdogKind(None, "bench.example", "example"))
        dwr = decode_message(templates[0].render(9, 9, 0))
        self.assertEqual((dwr.name, dwr.get("Origin-Host")),
                         ("DWR", "bench.example"))


class LoadRunTests(unittest.TestCase):
    """A real, short run: two connections, CER, 600 DWRs, DPR."""

    timeout = 20

    @defer.inlineCallbacks
    def test_run_against_a_node(self):
        from tests.interop_nodes import start_node
        node = yield start_node(self, origin_host="hss.bench.test",
                                origin_realm="bench.test")
        options = load.parse_arguments([
            "--port", str(node.port), "--connections", "2", "--window", "7",
            "--requests", "600", "--origin-host", "bench.test",
            "--origin-realm", "bench.test"])
        self.assertIsInstance(options, argparse.Namespace)
        run = load.LoadRun(reactor, options, load.DeviceWatchdogKind(
            options, options.origin_host, options.origin_realm),
            output=io.StringIO())
        summary = yield run.run()
        self.assertEqual((summary["sent"], summary["answered"]), (600, 600))
        self.assertEqual(summary["errors"]["result_codes"], {})
        self.assertEqual(summary["errors"]["timeouts"], 0)
        self.assertEqual(summary["errors"]["disconnects"], 0)
        self.assertEqual(len(run.stats.latencies), 600)
        self.assertIsNotNone(summary["latency_ms"]["p99"])
        # Both connections were distinct peers, and both said goodbye.
        yield defer.DeferredList([c.closed for c in run.connections])
        self.assertEqual(len(run.connections), 2)
        yield wait_until(lambda: not node.node.peers, 5.0,
                         "the node to forget both peers")


def _kind_options(*argv):
    return load.parse_arguments(["--origin-host", "mme.bench.test",
                                 "--origin-realm", "bench.test"]
                                + list(argv))


def _s6a_kind(name, *argv):
    options = _kind_options(*argv)
    load.server_identity(options)
    return load.REQUEST_KINDS[name](options, options.origin_host,
                                    options.origin_realm)


class S6aKindTests(unittest.TestCase):
    """The AIR and ULR kinds build valid S6a requests with the codec."""

    ARGV = ("--imsi-first", "001010000000100", "--subscribers", "40",
            "--variants", "30", "--mcc", "208", "--mnc", "95",
            "--destination-realm", "hss.realm.test")

    def decoded(self, name, *argv):
        kind = _s6a_kind(name, *(self.ARGV + argv))
        templates = load.build_templates(kind)
        self.assertEqual(len(templates), 30)
        return kind, [decode_message(t.render(i, i, 1000 + i))
                      for i, t in enumerate(templates)]

    def assert_common(self, kind, messages):
        from pyhss.auc.kdf import encode_plmn_id
        from pyhss.protocols.codec import validate
        sessions = set()
        for message in messages:
            self.assertEqual(message.application_id, 16777251)
            self.assertTrue(message.is_request)
            self.assertEqual(validate(message), [])
            self.assertEqual(message.get("Visited-PLMN-Id"),
                             encode_plmn_id("208", "95"))
            self.assertEqual(message.get("Destination-Realm"),
                             "hss.realm.test")
            self.assertEqual(message.get("Origin-Host"), "mme.bench.test")
            self.assertEqual(message.get("Auth-Session-State"), 1)
            imsi = message.get("User-Name")
            self.assertTrue(100 <= int(imsi) - 1010000000000 < 140, imsi)
            self.assertEqual(len(imsi), 15)
            sessions.add(message.get("Session-Id"))
        self.assertEqual(len(sessions), len(messages))
        # Random draws: several distinct IMSIs among the 30 requests.
        self.assertGreater(len({m.get("User-Name") for m in messages}), 10)

    def test_air(self):
        kind, messages = self.decoded("air")
        self.assertIs(load.REQUEST_KINDS["air"],
                      load.AuthenticationInformationKind)
        self.assert_common(kind, messages)
        for message in messages:
            self.assertEqual(message.name, "AIR")
            self.assertEqual(message.get(
                "Requested-EUTRAN-Authentication-Info/"
                "Number-Of-Requested-Vectors"), 1)

    def test_air_vectors_option(self):
        _, messages = self.decoded("air", "--vectors", "3")
        self.assertEqual(messages[0].get(
            "Requested-EUTRAN-Authentication-Info/"
            "Number-Of-Requested-Vectors"), 3)

    def test_ulr(self):
        kind, messages = self.decoded("ulr")
        self.assert_common(kind, messages)
        for message in messages:
            self.assertEqual(message.name, "ULR")
            self.assertEqual(message.get("RAT-Type"), 1004)    # EUTRAN
            self.assertEqual(message.get("ULR-Flags"), 1 << 1)  # S6a/S6d

    def test_seeded_draws(self):
        first = _s6a_kind("air", *self.ARGV).imsis
        self.assertEqual(first, _s6a_kind("air", *self.ARGV).imsis)
        self.assertNotEqual(
            first, _s6a_kind("air", *(self.ARGV + ("--seed", "2"))).imsis)

    def test_identity_from_config(self):
        path = self.mktemp()
        with open(path, "w") as handle:
            handle.write("hss: {MCC: '310', MNC: '260',"
                         " OriginRealm: realm.from.config}\n")
        options = _kind_options("--config", path)
        load.server_identity(options)
        self.assertEqual((options.mcc, options.mnc, options.destination_realm),
                         ("310", "260", "realm.from.config"))

    def test_cer_announces_s6a(self):
        from twisted.internet.testing import StringTransport
        kind = _s6a_kind("ulr", *self.ARGV)
        run = load.LoadRun(reactor, _kind_options(*self.ARGV), kind,
                           output=io.StringIO())
        cer = decode_message(run.build_cer(
            "mme.bench.test", StringTransport()).encode())
        self.assertEqual(cer.get("Supported-Vendor-Id"), 10415)
        application = cer.find("Vendor-Specific-Application-Id")
        self.assertEqual(
            (application.get("Vendor-Id"),
             application.get("Auth-Application-Id")), (10415, 16777251))

    def test_option_checks(self):
        self.patch(sys, "stderr", io.StringIO())   # argparse's messages
        self.assertEqual(_kind_options("--spawn-server", "--provision",
                                       "500").subscribers, 500)
        for argv in (["--provision", "10"],               # no --spawn-server
                     ["--spawn-server", "--provision", "10",
                      "--subscribers", "11"],
                     ["--imsi-first", "12345"],
                     ["--imsi-first", "999999999999999",
                      "--subscribers", "2"],
                     ["--vectors", "0"]):
            self.assertRaises(SystemExit, _kind_options, *argv)


class ProvisionTests(unittest.TestCase):

    timeout = 20

    @defer.inlineCallbacks
    def test_provision_sqlite(self):
        import provision
        from pyhss.storage.sqlite import SqliteStore
        path = self.mktemp() + ".sqlite3"
        added = yield provision.provision(reactor, path, "001010000000100", 25)
        self.assertEqual(added, 25)
        # Again: nothing new, nothing lost.
        added = yield provision.provision(reactor, path, "001010000000100", 25)
        self.assertEqual(added, 0)
        store = SqliteStore(path, reactor)
        yield store.opened
        try:
            self.assertEqual((yield store.count_subscribers()), 25)
            last = yield store.get_subscriber("001010000000124")
            self.assertEqual(last.apns, ("internet",))
            self.assertEqual((last.k, last.opc),
                             provision.subscriber_keys("001010000000124"))
            first = yield store.get_subscriber("001010000000100")
            self.assertNotEqual(first.k, last.k)
            apn = yield store.get_apn("internet")
            self.assertIsNotNone(apn.ambr_ul)
        finally:
            yield store.close()


class S6aLoadRunTests(unittest.TestCase):
    """Short AIR and ULR runs against an in-process node serving S6a over
    the in-memory store."""

    timeout = 30
    FIRST = "001010000000100"

    @defer.inlineCallbacks
    def start(self, provisioned):
        import provision
        from pyhss.apps.s6a import S6aApplication
        from pyhss.storage.memory import MemoryStore
        from tests.interop_nodes import start_node
        store = MemoryStore()
        yield store.add_apn(provision.bench_apn())
        yield store.add_subscribers(
            [provision.bench_subscriber("%015d" % (int(self.FIRST) + i), i)
             for i in range(provisioned)])
        node = yield start_node(
            self, origin_host="hss.bench.test",
            origin_realm="epc.mnc001.mcc001.3gppnetwork.org")
        S6aApplication(node.node, store, "001", "01").register()
        return node, store

    @defer.inlineCallbacks
    def run_kind(self, node, name, subscribers, requests=300):
        options = load.parse_arguments([
            "--port", str(node.port), "--window", "10",
            "--requests", str(requests), "--request", name,
            "--origin-host", "mme.bench.test", "--origin-realm", "bench.test",
            "--imsi-first", self.FIRST, "--subscribers", str(subscribers),
            "--variants", "100", "--mcc", "001", "--mnc", "01",
            "--config", os.devnull])
        load.server_identity(options)
        kind = load.REQUEST_KINDS[name](options, options.origin_host,
                                        options.origin_realm)
        run = load.LoadRun(reactor, options, kind, output=io.StringIO())
        summary = yield run.run()
        yield defer.DeferredList([c.closed for c in run.connections])
        self.assertEqual((summary["sent"], summary["answered"]),
                         (requests, requests))
        self.assertEqual(summary["errors"]["timeouts"], 0)
        self.assertEqual(summary["errors"]["disconnects"], 0)
        return summary, kind

    @defer.inlineCallbacks
    def test_air_and_ulr_answer_2001(self):
        node, store = yield self.start(provisioned=60)
        summary, kind = yield self.run_kind(node, "air", 60)
        self.assertEqual(summary["errors"]["result_codes"], {})
        # Every AIR used an SQN of its subscriber.
        drawn = kind.imsis[:100] * 3
        for imsi in set(drawn):
            subscriber = yield store.get_subscriber(imsi)
            self.assertEqual(subscriber.sqn >> 5, drawn.count(imsi))
        summary, kind = yield self.run_kind(node, "ulr", 60)
        self.assertEqual(summary["errors"]["result_codes"], {})
        serving = yield store.get_serving_node(kind.imsis[0])
        self.assertEqual(serving.mme_host, "mme.bench.test")

    @defer.inlineCallbacks
    def test_unknown_subscribers_count_by_code(self):
        # Half the range is not provisioned: those AIRs get 5001
        # (DIAMETER_ERROR_USER_UNKNOWN) and are counted under that code.
        node, _ = yield self.start(provisioned=20)
        summary, kind = yield self.run_kind(node, "air", 40, requests=200)
        unknown = sum(1 for i in range(200)
                      if int(kind.imsis[i % 100]) - int(self.FIRST) >= 20)
        self.assertGreater(unknown, 0)
        self.assertEqual(summary["errors"]["result_codes"],
                         {"5001": unknown})
