"""
Tests for L{pyhss.node}: dispatch to handlers and error answers, requests
we send, and an end-to-end exchange over a real TCP socket.
"""

import struct

from twisted.internet import defer, reactor, task
from twisted.internet.error import ConnectionDone
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial import unittest

from pyhss.node import (
    DiameterNode, PeerDisconnected, RequestTimeout, Timers, UnknownPeer)
from pyhss.protocols import codec
from pyhss.protocols.dictionary import (
    APP_BASE, APP_CX, APP_S6A, CMD_AIR, CMD_CLR, CMD_ULR, VENDOR_3GPP)
from pyhss.protocols.peer import CLOSED, OPEN
from pyhss.protocols.transport import (
    DiameterServerFactory, TransportUnavailable, connect_peer, listen)
from pyhss.sctp import unavailable_reason as sctp_unavailable_reason
from pyhss.storage.errors import StoreError

from tests.peer_helpers import (
    OUR_HOST, OUR_REALM, PEER_HOST, make_node, open_connection,
    read_messages)

DONE = Failure(ConnectionDone())


def air(hop_by_hop=10, session="mme;1;10"):
    """An S6a AIR carrying every AVP its ABNF requires."""
    message = codec.Message.request(APP_S6A, CMD_AIR, hop_by_hop=hop_by_hop,
                                    end_to_end=hop_by_hop)
    message.add("Session-Id", session)
    message.add("Auth-Session-State", 1)
    message.add("Origin-Host", PEER_HOST).add("Origin-Realm", "test.realm")
    message.add("Destination-Realm", OUR_REALM)
    message.add("User-Name", "001010000000001")
    message.add("Visited-PLMN-Id", b"\x00\xf1\x10")
    return message


def handler_answering(node, code=2001):
    def handler(request, peer):
        handler.calls.append((request, peer))
        return node.answer(request, code).add("Auth-Session-State", 1)
    handler.calls = []
    return handler


def _from_node(event):
    return event.get("log_namespace", "").startswith("pyhss.node")


def capture_node_events(test):
    """The node's log events (warnings and above) from now on."""
    events = []

    def observe(event):
        if _from_node(event) and event["log_level"] >= LogLevel.warn:
            events.append(event)
    globalLogPublisher.addObserver(observe)
    test.addCleanup(globalLogPublisher.removeObserver, observe)
    return events


class DispatchTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)
        self.connection, self.transport = open_connection(self.node)

    def _register(self, handler, command=CMD_AIR):
        self.node.register_application(APP_S6A, VENDOR_3GPP,
                                       {command: handler})

    def _answer(self):
        (answer,) = read_messages(self.transport)
        self.assertFalse(answer.is_request)
        self.assertFalse(self.transport.disconnecting)
        return answer

    def test_handler_answer(self):
        handler = handler_answering(self.node)
        self._register(handler)
        self.connection.dataReceived(air().encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 2001)
        self.assertEqual(answer.get("Session-Id"), "mme;1;10")
        self.assertEqual(answer.hop_by_hop, 10)
        self.assertEqual(answer.get("Origin-Host"), OUR_HOST)
        (request, peer), = handler.calls
        self.assertEqual(request.get("User-Name"), "001010000000001")
        self.assertIs(peer, self.node.peer(PEER_HOST))

    def test_unknown_command_3001(self):
        self._register(handler_answering(self.node))
        request = air()
        request.command_code = CMD_ULR
        self.connection.dataReceived(request.encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 3001)
        self.assertTrue(answer.is_error)
        self.assertEqual(answer.command_code, CMD_ULR)
        self.assertEqual(answer.get("Session-Id"), "mme;1;10")
        self.assertEqual(codec.validate(answer), [])

    def test_unknown_base_command_3001(self):
        # Command 271 (Accounting) in application 0, which every peer serves.
        request = codec.Message.request(APP_BASE, 271, [
            ("Session-Id", "mme;1;11"), ("Origin-Host", PEER_HOST), ("Origin-Realm", "peer.realm")])
        self.connection.dataReceived(request.encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 3001)
        self.assertTrue(answer.is_error)
        self.assertEqual(answer.application_id, APP_BASE)

    def test_unknown_application_3007(self):
        request = air()
        request.application_id = APP_CX
        self.connection.dataReceived(request.encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 3007)
        self.assertTrue(answer.is_error)

    def test_missing_avp_5005(self):
        handler = handler_answering(self.node)
        self._register(handler)
        request = air()
        request.avps = [a for a in request.avps if a.name != "User-Name"]
        self.connection.dataReceived(request.encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 5005)
        self.assertFalse(answer.is_error)
        self.assertEqual(answer.find("Failed-AVP").value[0].code, 1)
        self.assertEqual(handler.calls, [])

    def test_unknown_mandatory_avp_5001(self):
        handler = handler_answering(self.node)
        self._register(handler)
        request = air()
        request.append(codec.Avp(65000, 0, codec.AVP_MANDATORY, b"abcd"))
        self.connection.dataReceived(request.encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 5001)
        failed = answer.find("Failed-AVP").value[0]
        self.assertEqual((failed.code, failed.value), (65000, b"abcd"))
        self.assertEqual(handler.calls, [])

    def test_unknown_optional_avp_accepted(self):
        self._register(handler_answering(self.node))
        request = air()
        request.append(codec.Avp(65000, 0, 0, b"abcd"))
        self.connection.dataReceived(request.encode())
        self.assertEqual(self._answer().get("Result-Code"), 2001)

    def test_handler_raises_5012(self):
        def handler(request, peer):
            raise RuntimeError("boom")
        self._register(handler)
        self.connection.dataReceived(air().encode())
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 5012)
        self.assertEqual(answer.hop_by_hop, 10)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(self.node.dispatcher.pending(self.connection), 0)
        self.assertEqual(self.connection.state, OPEN)

    def test_handler_fails_later_5012(self):
        d = defer.Deferred()
        self._register(lambda request, peer: d)
        self.connection.dataReceived(air().encode())
        self.assertEqual(self.transport.value(), b"")
        self.assertEqual(self.node.dispatcher.pending(self.connection), 1)
        d.errback(ValueError("store down"))
        self.assertEqual(self._answer().get("Result-Code"), 5012)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.assertEqual(self.node.dispatcher.pending(self.connection), 0)

    def test_failing_store_logs_one_traceback_per_cause(self):
        # A full disk fails every request: each is answered 5012, but the
        # traceback is logged once per cause, the rest counted.
        events = capture_node_events(self)

        def handler(request, peer):
            raise StoreError("disk I/O error at page %d" % (request.hop_by_hop,))
        self._register(handler)
        self.connection.dataReceived(b"".join(
            air(n, "s;%d" % n).encode() for n in range(1, 3601)))
        answers = read_messages(self.transport)
        self.assertEqual([a.get("Result-Code") for a in answers], [5012] * 3600)
        self.assertEqual(len(self.flushLoggedErrors(StoreError)), 1)
        self.clock.advance(10)
        (summary,) = [e for e in events if "repeats" in e]
        self.assertEqual(summary["repeats"], 3599)
        self.assertIn("disk I/O error", summary["summary"])
        self.assertLessEqual(len(events), 3)
        # Another cause gets its own traceback.
        self.connection.dataReceived(air(1).encode())
        self._register(lambda request, peer: 1 / 0)
        self.connection.dataReceived(air(2).encode())
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(len(self.flushLoggedErrors(StoreError)), 0)

    def test_handler_returns_non_answer_5012(self):
        self._register(lambda request, peer: "nonsense")
        self.connection.dataReceived(air().encode())
        self.assertEqual(self._answer().get("Result-Code"), 5012)
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)
        self.assertEqual(self.node.dispatcher.pending(self.connection), 0)

    def test_concurrent_requests_answer_in_completion_order(self):
        waiting = {}

        def handler(request, peer):
            waiting[request.hop_by_hop] = d = defer.Deferred()
            return d.addCallback(lambda _: self.node.answer(request, 2001))
        self._register(handler)
        self.connection.dataReceived(
            air(1, "s;1").encode() + air(2, "s;2").encode()
            + air(3, "s;3").encode())
        self.assertEqual(sorted(waiting), [1, 2, 3])
        self.assertEqual(self.node.dispatcher.pending(self.connection), 3)
        for hop_by_hop in (3, 1, 2):
            waiting[hop_by_hop].callback(None)
        answers = read_messages(self.transport)
        self.assertEqual([a.hop_by_hop for a in answers], [3, 1, 2])
        self.assertEqual([a.get("Session-Id") for a in answers],
                         ["s;3", "s;1", "s;2"])
        self.assertEqual(self.node.dispatcher.pending(self.connection), 0)

    def test_too_busy_3004(self):
        self.node.dispatcher.max_pending = 2
        self._register(lambda request, peer: defer.Deferred())
        self.connection.dataReceived(b"".join(
            air(n, "s;%d" % n).encode() for n in (1, 2, 3)))
        (answer,) = read_messages(self.transport)
        self.assertEqual(answer.hop_by_hop, 3)
        self.assertEqual(answer.get("Result-Code"), 3004)
        self.assertTrue(answer.is_error)

    def test_reading_stops_while_handlers_hold_the_limit(self):
        # A peer cannot have more than max_pending_requests answers made for
        # it before it reads some: we stop reading it until half are answered.
        self.node.dispatcher.max_pending = 4
        waiting = []
        self._register(lambda request, peer: waiting.append(defer.Deferred()) or waiting[-1])
        self.connection.dataReceived(b"".join(
            air(n, "s;%d" % n).encode() for n in range(1, 5)))
        self.assertEqual(self.transport.producerState, "paused")
        self.assertFalse(self.connection.reading)
        waiting[0].callback(self.node.answer(air(1, "s;1"), 2001))
        self.assertEqual(self.transport.producerState, "paused")
        waiting[1].callback(self.node.answer(air(2, "s;2"), 2001))
        self.assertEqual(self.transport.producerState, "producing")
        self.assertTrue(self.connection.reading)
        self.assertEqual(len(read_messages(self.transport)), 2)

    def test_bad_avp_length_answered_and_connection_kept(self):
        self._register(handler_answering(self.node))
        data = bytearray(air(5).encode())
        # Visited-PLMN-Id is last: give it a length running past the end.
        offset = len(data) - 16
        code, word = struct.unpack_from("!II", data, offset)
        self.assertEqual(code, 1407)
        struct.pack_into("!I", data, offset + 4, word + 40)
        self.connection.dataReceived(bytes(data))
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 5014)
        self.assertEqual(answer.hop_by_hop, 5)
        self.assertEqual(answer.get("Session-Id"), "mme;1;10")
        self.assertEqual(answer.find("Failed-AVP").value[0].code, 1407)
        self.connection.dataReceived(air(6).encode())
        self.assertEqual(self._answer().get("Result-Code"), 2001)

    def test_reserved_header_bits_3008(self):
        data = bytearray(air(5).encode())
        data[4] |= 0x01
        self.connection.dataReceived(bytes(data))
        answer = self._answer()
        self.assertEqual(answer.get("Result-Code"), 3008)
        self.assertTrue(answer.is_error)

    def test_undecodable_answer_dropped(self):
        data = bytearray(air(5).answer(2001).encode())
        data[4] |= 0x01
        self.connection.dataReceived(bytes(data))
        self.assertEqual(self.transport.value(), b"")
        self.assertFalse(self.transport.disconnecting)

    def test_debug_logging(self):
        events = []
        from twisted.logger import globalLogPublisher
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self._register(handler_answering(self.node))
        self.connection.dataReceived(air().encode())
        self.assertEqual([e for e in events if _from_node(e)], [])
        self.node.settings.debug = True
        self.connection.dataReceived(air().encode())
        lines = [e["log_format"] for e in events if _from_node(e)]
        self.assertEqual(len(lines), 2)


class SendRequestTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)
        self.connection, self.transport = open_connection(self.node)

    def _clr(self):
        return codec.Message.request(APP_S6A, CMD_CLR).add(
            "Session-Id", "hss;1").add("Origin-Host", OUR_HOST)

    def test_answer_matched_by_hop_by_hop(self):
        first = self.node.send_request(PEER_HOST, self._clr())
        second = self.node.send_request(PEER_HOST.upper(), self._clr())
        requests = read_messages(self.transport)
        self.assertEqual(len(requests), 2)
        self.assertNotEqual(requests[0].hop_by_hop, requests[1].hop_by_hop)
        self.connection.dataReceived(requests[1].answer(2001).encode())
        self.assertNoResult(first)
        answer = self.successResultOf(second)
        self.assertEqual(answer.hop_by_hop, requests[1].hop_by_hop)
        self.connection.dataReceived(requests[0].answer(5012).encode())
        self.assertEqual(self.successResultOf(first).get("Result-Code"), 5012)
        self.assertEqual(len(self.node.pending), 0)
        self.assertEqual(self.clock.getDelayedCalls()[0].func.__name__,
                         "_watchdog")

    def test_timeout(self):
        d = self.node.send_request(PEER_HOST, self._clr())
        (request,) = read_messages(self.transport)
        self.clock.advance(10.1)
        self.failureResultOf(d, RequestTimeout)
        # A late answer is dropped.
        self.connection.dataReceived(request.answer(2001).encode())
        self.assertFalse(self.transport.disconnecting)

    def test_unknown_hop_by_hop_dropped(self):
        d = self.node.send_request(PEER_HOST, self._clr())
        (request,) = read_messages(self.transport)
        stray = request.answer(2001)
        stray.hop_by_hop ^= 0xFFFF
        self.connection.dataReceived(stray.encode())
        self.assertNoResult(d)
        self.assertEqual(self.transport.value(), b"")
        self.assertEqual(self.connection.state, OPEN)

    def test_unknown_hop_by_hop_flood_is_summarised(self):
        # 100,000 stray answers over 30 s: a bounded number of lines whose
        # counts add up to every answer dropped.
        events = capture_node_events(self)
        stray = self._clr().answer(2001)
        stray.hop_by_hop = 0x5151
        chunk = stray.encode() * 1000
        for _ in range(100):
            self.connection.dataReceived(chunk)
            self.clock.advance(0.3)
        self.clock.advance(10)
        self.assertLessEqual(len(events), 5)
        self.assertEqual(len(events) - len([e for e in events if "repeats" in e])
                         + sum(e.get("repeats", 0) for e in events), 100000)
        self.assertIn("unknown hop-by-hop 0x5151", events[0]["log_format"].format(**events[0]))
        self.assertEqual(self.connection.state, OPEN)

    def test_unknown_peer(self):
        self.failureResultOf(self.node.send_request("nobody", self._clr()),
                             UnknownPeer)

    def test_disconnect_fails_pending(self):
        d = self.node.send_request(PEER_HOST, self._clr())
        self.connection.connectionLost(DONE)
        self.failureResultOf(d, PeerDisconnected)
        self.assertEqual(len(self.node.pending), 0)


class TransportTests(unittest.TestCase):

    def test_max_connections(self):
        node = make_node(task.Clock(), max_connections=1)
        factory = DiameterServerFactory(node)
        open_connection(node)
        self.assertIsNone(factory.buildProtocol(None))
        self.flushLoggedErrors()

    def test_unknown_transport(self):
        node = make_node(task.Clock())
        self.assertRaises(TransportUnavailable, listen, node, ["127.0.0.1"],
                          0, ["quic"], reactor)

    def test_sctp_fails_clearly(self):
        node = make_node(task.Clock())
        ports = []
        try:
            listen(node, ["127.0.0.1"], 0, ["tcp", "sctp"], reactor)
        except TransportUnavailable as e:
            self.assertIn("SCTP", str(e))
        else:
            self.fail("sctp listener started")
        reason = sctp_unavailable_reason()
        self.assertTrue(reason is None or isinstance(reason, str))
        self.assertEqual(ports, [])


@defer.inlineCallbacks
def _wait_until(predicate, timeout=10.0, step=0.02):
    """Poll C{predicate} on the real reactor until it holds (or fail)."""
    waited = 0.0
    while not predicate():
        if waited >= timeout:
            raise AssertionError("condition not met within %ss" % (timeout,))
        yield task.deferLater(reactor, step, lambda: None)
        waited += step


class EndToEndTests(unittest.TestCase):
    """A server node and a client node on a real 127.0.0.1 socket."""

    timeout = 20

    def setUp(self):
        timers = Timers(watchdog=0.3, watchdog_timeout=2.0, cer_timeout=5.0,
                        dpa_timeout=2.0, request_timeout=5.0)
        self.server = DiameterNode(OUR_HOST, OUR_REALM, reactor, timers=timers,
                                   watchdog_jitter=0)
        self.server.register_application(APP_S6A, VENDOR_3GPP, {
            CMD_AIR: lambda request, peer: self.server.answer(
                request, 2001).add("Auth-Session-State", 1)})
        self.client = DiameterNode(PEER_HOST, "test.realm", reactor,
                                   timers=timers, watchdog_jitter=0)
        self.client.register_application(APP_S6A, VENDOR_3GPP)
        (self.port,) = listen(self.server, ["127.0.0.1"], 0, ["tcp"], reactor)
        self.addCleanup(self.port.stopListening)

    @defer.inlineCallbacks
    def test_cer_dwr_request_dpr(self):
        peer = yield connect_peer(self.client, "127.0.0.1",
                                  self.port.getHost().port)
        self.assertEqual(peer.origin_host, OUR_HOST)
        self.assertEqual(peer.applications, frozenset([APP_S6A]))
        self.assertEqual(peer.host_ip_addresses, ("127.0.0.1",))
        client_side = peer.connection
        # Request/answer through the server's handler.
        answer = yield self.client.send_request(OUR_HOST, air())
        self.assertEqual(answer.get("Result-Code"), 2001)
        self.assertEqual(answer.get("Origin-Host"), OUR_HOST)
        # Watchdog rounds (Tw 0.3 s on both nodes, no traffic): DWRs are
        # sent and answered, and the connection stays open.
        server_peer = self.server.peer(PEER_HOST)
        yield _wait_until(lambda: client_side.counters["dwa_received"]
                          + server_peer.counters["dwa_received"] >= 2)
        self.assertEqual(server_peer.state, OPEN)
        self.assertEqual(client_side.state, OPEN)
        # Graceful stop of the server: DPR, the client's DPA, close.
        yield self.server.stop()
        self.assertEqual(self.server.peers, {})
        yield client_side.when_closed()
        self.assertEqual(client_side.state, CLOSED)
        self.assertIsNone(self.client.peer(OUR_HOST))

    @defer.inlineCallbacks
    def test_client_disconnects(self):
        peer = yield connect_peer(self.client, "127.0.0.1",
                                  self.port.getHost().port)
        (server_side,) = self.server.connections
        yield peer.connection.disconnect()
        self.assertEqual(self.client.peers, {})
        yield server_side.when_closed()
        self.assertEqual(server_side.counters["requests_received"], 0)
        self.assertEqual(self.server.peers, {})
        self.assertEqual(self.server.connections, set())
