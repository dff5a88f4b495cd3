"""
bench/diameter_load.py: its cheap answer parsing, its request templates, and
a short real run against an in-process node on 127.0.0.1.
"""

import argparse
import importlib.util
import io
import os
import struct
import sys

from twisted.internet import defer, reactor
from twisted.trial import unittest

from pyhss.protocols.codec import Avp, Message, decode_message
from tests.interop_helpers import wait_until

_BENCH = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "bench")


def _load_bench():
    if _BENCH not in sys.path:
        sys.path.insert(0, _BENCH)
    spec = importlib.util.spec_from_file_location(
        "diameter_load", os.path.join(_BENCH, "diameter_load.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


load = _load_bench()


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
