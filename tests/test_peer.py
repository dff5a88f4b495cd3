"""
Tests for L{pyhss.protocols.peer}: capabilities exchange, watchdog and
disconnect, on a StringTransport and a task.Clock (framing:
tests/test_peer_framing.py).
"""

import ipaddress
import struct

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from pyhss.protocols import codec
from pyhss.protocols.dictionary import (
    APP_BASE, APP_CX, APP_RELAY, APP_S6A, CMD_CER, CMD_DPR, CMD_DWR,
    VENDOR_3GPP)
from pyhss.protocols.peer import (
    CLOSED, CLOSING, OPEN, ROLE_INITIATOR, WAIT_CEA, WAIT_CER,
    CapabilitiesExchangeFailed, DiameterProtocol)

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from tests.peer_helpers import (
    OUR_HOST, OUR_REALM, PEER_HOST, PEER_REALM, cer, connect, dpr, dwr, make_node,
    open_connection, read_messages)

DONE = Failure(ConnectionDone())


class CapabilitiesExchangeTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)

    def test_cer_success(self):
        connection, transport = connect(self.node)
        self.assertEqual(connection.state, WAIT_CER)
        connection.dataReceived(cer().encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.command_code, CMD_CER)
        self.assertFalse(cea.is_request)
        self.assertEqual(cea.hop_by_hop, 1)
        self.assertEqual(cea.end_to_end, 11)
        self.assertEqual(cea.get("Result-Code"), 2001)
        self.assertEqual(cea.get("Origin-Host"), OUR_HOST)
        self.assertEqual(cea.get("Origin-Realm"), OUR_REALM)
        self.assertEqual(cea.get("Host-IP-Address"),
                         transport.getHost().host)
        self.assertEqual(cea.get("Vendor-Id"), 0)
        self.assertEqual(cea.get("Product-Name"), "pyhss")
        self.assertEqual(cea.get("Origin-State-Id"), 7)
        self.assertEqual(cea.get("Supported-Vendor-Id"), VENDOR_3GPP)
        self.assertEqual(cea.get("Vendor-Specific-Application-Id/"
                                 "Auth-Application-Id"), APP_S6A)
        self.assertEqual(cea.get("Vendor-Specific-Application-Id/Vendor-Id"),
                         VENDOR_3GPP)
        self.assertEqual(codec.validate(cea), [])
        self.assertEqual(connection.state, OPEN)
        peer = self.node.peer(PEER_HOST.upper())
        self.assertIs(peer.connection, connection)
        self.assertEqual(peer.origin_realm, "test.realm")
        self.assertEqual(peer.applications, frozenset([APP_S6A]))
        self.assertEqual(peer.host_ip_addresses, ("192.0.2.1",))
        self.assertEqual(peer.state, OPEN)

    def test_plain_auth_application_id_accepted(self):
        connection, transport = connect(self.node)
        connection.dataReceived(cer(vendor_specific=(),
                                    auth=(APP_S6A,)).encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 2001)

    def test_relay_matches_everything(self):
        connection, transport = connect(self.node)
        connection.dataReceived(cer(vendor_specific=(),
                                    auth=(APP_RELAY,)).encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 2001)
        self.assertEqual(self.node.peer(PEER_HOST).applications,
                         frozenset([APP_S6A]))

    def test_no_common_application(self):
        connection, transport = connect(self.node)
        connection.dataReceived(cer(
            vendor_specific=((VENDOR_3GPP, APP_CX),)).encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 5010)
        self.assertEqual(cea.get("Origin-Host"), OUR_HOST)
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.node.peer(PEER_HOST))
        self.flushLoggedErrors()

    def test_first_message_not_cer_closes(self):
        connection, transport = connect(self.node)
        connection.dataReceived(dwr().encode())
        self.assertEqual(transport.value(), b"")
        self.assertTrue(transport.disconnecting)

    def test_undecodable_cer_answered_then_closed(self):
        # RFC 6733 5.3.2: the CEA carries the error, then we close.
        connection, transport = connect(self.node)
        data = bytearray(cer().encode())
        data[20 + 7] = 3        # first AVP length 3: below a header
        connection.dataReceived(bytes(data))
        (cea,) = read_messages(transport)
        self.assertEqual(cea.command_code, CMD_CER)
        self.assertEqual(cea.get("Result-Code"), 5014)
        self.assertTrue(transport.disconnecting)

    def test_identity_with_control_characters_refused(self):
        # A newline in Origin-Host would split log lines.
        connection, transport = connect(self.node)
        connection.dataReceived(cer(origin_host="mme.test\nforged").encode())
        # Read raw: the CEA's Failed-AVP holds the refused identity, which
        # our own decoder refuses too.
        cea = transport.value()
        self.assertEqual(struct.unpack_from("!I", cea, 4)[0] & 0xFFFFFF, CMD_CER)
        self.assertIn(codec.Avp.new("Result-Code", 5004).encode(), cea)
        self.assertIn(b"mme.test\nforged", cea)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.node.peers, {})

    def test_first_message_judged_by_its_header_alone(self):
        # Before the CER a message is refused once its header is in, not
        # once the peer has sent all of its 60 kB.
        connection, transport = connect(self.node)
        header = struct.pack("!IIIII", 0x01000000 | 60000, 0x80000118, 0, 1, 1)
        connection.dataReceived(header + b"\0" * 100)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(connection.framer.buffered, 120)

    def test_cer_arriving_slowly_is_waited_for(self):
        connection, transport = connect(self.node)
        data = cer().encode()
        connection.dataReceived(data[:30])
        self.assertFalse(transport.disconnecting)
        connection.dataReceived(data[30:])
        self.assertEqual(read_messages(transport)[0].get("Result-Code"), 2001)

    def test_first_message_not_cer_is_not_decoded(self):
        # Before the CER only the header is read: a flood of distinct
        # repeating AVPs from an unknown peer leaves the shared cache empty.
        from tests.test_codec_repeats import dwr_with_group
        codec._REPEAT_CACHES.clear()
        self.addCleanup(codec._REPEAT_CACHES.clear)
        decoded = []
        self.patch(codec, "decode_message",
                   lambda *a, **k: decoded.append(a))
        connection, transport = connect(self.node)
        connection.dataReceived(dwr_with_group(1, 4))
        self.assertEqual(decoded, [])
        self.assertTrue(transport.disconnecting)

    def test_cer_missing_origin_host(self):
        connection, transport = connect(self.node)
        message = cer()
        message.avps = [avp for avp in message.avps
                        if avp.name != "Origin-Host"]
        connection.dataReceived(message.encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 5005)
        self.assertTrue(transport.disconnecting)

    def test_allow_list_by_host_and_realm(self):
        self.node.allowed_peers = (
            lambda host, realm, address: host == PEER_HOST or realm == "good.realm")
        connection, transport = connect(self.node)
        connection.dataReceived(cer().encode())
        self.assertEqual(read_messages(transport)[0].get("Result-Code"), 2001)
        connection, transport = connect(self.node)
        connection.dataReceived(cer(origin_host="b.good.realm",
                                    origin_realm="good.realm").encode())
        self.assertEqual(read_messages(transport)[0].get("Result-Code"), 2001)
        connection, transport = connect(self.node)
        connection.dataReceived(cer(origin_host="evil.bad.realm",
                                    origin_realm="bad.realm").encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 3010)
        self.assertTrue(cea.is_error)
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.node.peer("evil.bad.realm"))

    def test_identity_pinned_to_its_address(self):
        # A peer holding an MME's Origin-Host from another address cannot
        # take its place (issue 10, item 6).
        from pyhss.config import AllowedPeer, HssConfig
        hss = HssConfig(origin_host=OUR_HOST, origin_realm=OUR_REALM, mcc="001", mnc="01",
                        allowed_peers=(AllowedPeer(PEER_HOST, addresses=(ipaddress.ip_network("192.0.2.10"),)),
                                       AllowedPeer(None, PEER_REALM)))
        self.node.allowed_peers = hss.peer_allowed
        impostor, transport = connect(self.node, peer=("198.51.100.66", 40000))
        impostor.dataReceived(cer().encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 3010)
        self.assertIn("198.51.100.66", cea.get("Error-Message"))
        self.assertTrue(transport.disconnecting)
        mme, transport = connect(self.node, peer=("192.0.2.10", 40001))
        mme.dataReceived(cer().encode())
        self.assertEqual(read_messages(transport)[0].get("Result-Code"), 2001)
        self.assertIs(self.node.peer(PEER_HOST).connection, mme)

    def test_cer_timeout(self):
        connection, transport = connect(self.node)
        self.clock.advance(9.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.2)
        self.assertTrue(transport.disconnecting)

    def test_cer_timer_cancelled_once_open(self):
        connection, transport = open_connection(self.node)
        self.clock.advance(11)
        self.assertFalse(transport.disconnecting)

    def test_second_connection_same_host_loses_election(self):
        first, first_transport = open_connection(self.node)
        second, transport = connect(self.node)
        second.dataReceived(cer().encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 4003)
        self.assertTrue(transport.disconnecting)
        self.assertIs(self.node.peer(PEER_HOST).connection, first)
        second.connectionLost(DONE)
        self.assertIs(self.node.peer(PEER_HOST).connection, first)

    def test_second_cer_on_open_connection_answered(self):
        # RFC 6733 5.6, R-Open + R-Rcv-CER: R-Snd-CEA, stay open.
        connection, transport = open_connection(self.node)
        connection.dataReceived(cer(hop_by_hop=77).encode())
        (cea,) = read_messages(transport)
        self.assertEqual((cea.command_code, cea.hop_by_hop), (CMD_CER, 77))
        self.assertEqual(cea.get("Result-Code"), 2001)
        self.assertEqual(connection.state, OPEN)
        self.assertIs(self.node.peer(PEER_HOST).connection, connection)

    def test_second_cer_with_another_identity_refused(self):
        connection, transport = open_connection(self.node)
        connection.dataReceived(cer(origin_host="other.test.realm").encode())
        (cea,) = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 3010)
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.node.peer("other.test.realm"))

    def test_close_removes_peer(self):
        connection, transport = open_connection(self.node)
        connection.connectionLost(DONE)
        self.assertEqual(connection.state, CLOSED)
        self.assertIsNone(self.node.peer(PEER_HOST))
        self.assertNotIn(connection, self.node.connections)


class InitiatorTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)

    def _dial(self):
        connection = DiameterProtocol(self.node, ROLE_INITIATOR)
        connection.capabilities = defer.Deferred()
        transport = StringTransport()
        connection.makeConnection(transport)
        return connection, transport

    def test_sends_cer_and_opens_on_cea(self):
        connection, transport = self._dial()
        self.assertEqual(connection.state, WAIT_CEA)
        (our_cer,) = read_messages(transport)
        self.assertEqual(our_cer.command_code, CMD_CER)
        self.assertTrue(our_cer.is_request)
        self.assertEqual(codec.validate(our_cer), [])
        self.assertEqual(our_cer.get("Host-IP-Address"),
                         transport.getHost().host)
        cea = our_cer.answer(2001)
        for avp in cer().avps:
            cea.append(avp)
        connection.dataReceived(cea.encode())
        peer = self.successResultOf(connection.capabilities)
        self.assertEqual(peer.origin_host, PEER_HOST)
        self.assertEqual(connection.state, OPEN)
        self.assertIs(self.node.peer(PEER_HOST), peer)

    def test_cea_failure(self):
        connection, transport = self._dial()
        (our_cer,) = read_messages(transport)
        cea = self.node.messages.capabilities_answer(our_cer, 5010, "no", connection.local_address)
        connection.dataReceived(cea.encode())
        failure = self.failureResultOf(connection.capabilities,
                                       CapabilitiesExchangeFailed)
        self.assertEqual(failure.value.result_code, 5010)
        self.assertTrue(transport.disconnecting)

    def test_cea_timeout(self):
        connection, transport = self._dial()
        self.clock.advance(10.5)
        self.failureResultOf(connection.capabilities,
                             CapabilitiesExchangeFailed)
        self.assertTrue(transport.disconnecting)

    def test_request_instead_of_cea(self):
        connection, transport = self._dial()
        read_messages(transport)
        connection.dataReceived(dwr().encode())
        self.failureResultOf(connection.capabilities,
                             CapabilitiesExchangeFailed)
        self.assertTrue(transport.disconnecting)


class WatchdogTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)
        self.connection, self.transport = open_connection(self.node)

    def test_dwr_answered(self):
        self.connection.dataReceived(dwr(hop_by_hop=0x1234).encode())
        (dwa,) = read_messages(self.transport)
        self.assertEqual(dwa.command_code, CMD_DWR)
        self.assertEqual(dwa.application_id, APP_BASE)
        self.assertFalse(dwa.is_request)
        self.assertEqual(dwa.hop_by_hop, 0x1234)
        self.assertEqual(dwa.end_to_end, 22)
        self.assertEqual(dwa.get("Result-Code"), 2001)
        self.assertEqual(dwa.get("Origin-Host"), OUR_HOST)
        self.assertEqual(dwa.get("Origin-Realm"), OUR_REALM)
        self.assertEqual(dwa.get("Origin-State-Id"), 7)
        self.assertEqual(codec.validate(dwa), [])
        self.assertEqual(self.connection.counters["dwr_received"], 1)
        self.assertEqual(self.connection.counters["dwa_sent"], 1)

    def test_dwr_missing_origin_host(self):
        self.connection.dataReceived(dwr(origin_host=None).encode())
        (answer,) = read_messages(self.transport)
        self.assertEqual(answer.get("Result-Code"), 5005)
        self.assertEqual(answer.find("Failed-AVP").value[0].code, 264)

    def test_sends_dwr_after_silence_and_keeps_open_on_dwa(self):
        self.clock.advance(29.9)
        self.assertEqual(self.transport.value(), b"")
        self.clock.advance(0.2)
        (request,) = read_messages(self.transport)
        self.assertEqual(request.command_code, CMD_DWR)
        self.assertTrue(request.is_request)
        self.assertEqual(codec.validate(request), [])
        self.clock.advance(5)
        answer = request.answer(2001).add("Origin-Host", PEER_HOST).add(
            "Origin-Realm", "test.realm")
        self.connection.dataReceived(answer.encode())
        self.clock.advance(20)
        self.assertFalse(self.transport.disconnecting)
        self.assertEqual(self.transport.value(), b"")
        self.clock.advance(10.1)      # Tw after the DWA
        (again,) = read_messages(self.transport)
        self.assertEqual(again.command_code, CMD_DWR)
        self.assertEqual(self.connection.counters["dwa_received"], 1)

    def test_traffic_postpones_dwr(self):
        self.clock.advance(20)
        self.connection.dataReceived(dwr().encode())
        read_messages(self.transport)
        self.clock.advance(20)
        self.assertEqual(self.transport.value(), b"")
        self.clock.advance(10.1)
        (request,) = read_messages(self.transport)
        self.assertTrue(request.is_request)

    def test_drops_peer_without_dwa(self):
        self.clock.advance(30)
        (request,) = read_messages(self.transport)
        self.clock.advance(9.9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(0.2)
        self.assertTrue(self.transport.disconnecting)
        self.connection.connectionLost(DONE)
        self.assertIsNone(self.node.peer(PEER_HOST))

    def test_jitter_bounds(self):
        node = make_node(task.Clock())
        node.settings.jitter = 2.0
        values = [node.settings.watchdog_interval() for _ in range(200)]
        self.assertTrue(all(28.0 <= v <= 32.0 for v in values))
        self.assertGreater(len(set(values)), 1)


class DisconnectTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)
        self.connection, self.transport = open_connection(self.node)

    def test_dpr_answered_then_closed_by_peer(self):
        self.connection.dataReceived(dpr(cause=1).encode())
        (dpa,) = read_messages(self.transport)
        self.assertEqual(dpa.command_code, CMD_DPR)
        self.assertFalse(dpa.is_request)
        self.assertEqual(dpa.hop_by_hop, 3)
        self.assertEqual(dpa.get("Result-Code"), 2001)
        self.assertEqual(dpa.get("Origin-Host"), OUR_HOST)
        self.assertEqual(codec.validate(dpa), [])
        self.assertEqual(self.connection.state, CLOSING)
        self.assertFalse(self.transport.disconnecting)
        self.connection.connectionLost(DONE)
        self.assertEqual(self.connection.state, CLOSED)
        self.assertIsNone(self.node.peer(PEER_HOST))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_dpr_answered_then_closed_by_us_after_timeout(self):
        self.connection.dataReceived(dpr().encode())
        read_messages(self.transport)
        self.clock.advance(5.1)
        self.assertTrue(self.transport.disconnecting)

    def test_disconnect_sends_dpr_and_closes_on_dpa(self):
        closed = self.connection.disconnect()
        (request,) = read_messages(self.transport)
        self.assertEqual(request.command_code, CMD_DPR)
        self.assertTrue(request.is_request)
        self.assertEqual(request.get("Disconnect-Cause"), 0)
        self.assertEqual(codec.validate(request), [])
        self.assertEqual(self.connection.state, CLOSING)
        self.assertNoResult(closed)
        answer = request.answer(2001).add("Origin-Host", PEER_HOST).add(
            "Origin-Realm", "test.realm")
        self.connection.dataReceived(answer.encode())
        self.assertTrue(self.transport.disconnecting)
        self.connection.connectionLost(DONE)
        self.successResultOf(closed)

    def test_disconnect_closes_after_dpa_timeout(self):
        closed = self.connection.disconnect(2)
        (request,) = read_messages(self.transport)
        self.assertEqual(request.get("Disconnect-Cause"), 2)
        self.clock.advance(4.9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(0.2)
        self.assertTrue(self.transport.disconnecting)
        self.connection.connectionLost(DONE)
        self.successResultOf(closed)

    def test_no_watchdog_while_closing(self):
        self.connection.disconnect()
        read_messages(self.transport)
        self.clock.advance(31)
        messages = read_messages(self.transport)
        self.assertEqual([m for m in messages if m.command_code == CMD_DWR],
                         [])

    def test_node_stop_sends_dpr_to_every_peer(self):
        other, other_transport = open_connection(
            self.node, origin_host="other.test.realm")
        waiting, waiting_transport = connect(self.node)
        stopped = self.node.stop()
        for connection, transport in ((self.connection, self.transport),
                                      (other, other_transport)):
            (request,) = read_messages(transport)
            self.assertEqual(request.command_code, CMD_DPR)
            self.assertEqual(request.get("Disconnect-Cause"), 0)
        self.assertTrue(waiting_transport.disconnecting)
        waiting.connectionLost(DONE)
        self.connection.connectionLost(DONE)
        self.assertNoResult(stopped)
        self.clock.advance(5.1)
        self.assertTrue(other_transport.disconnecting)
        other.connectionLost(DONE)
        self.successResultOf(stopped)
        self.assertEqual(self.node.peers, {})


class DebugLoggingTests(unittest.TestCase):

    def _events(self, debug):
        from twisted.logger import formatEvent, globalLogPublisher
        node = make_node(debug=debug)
        connection, transport = open_connection(node)
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        connection.dataReceived(dwr().encode())
        return [formatEvent(e) for e in events
                if "DiameterProtocol" in e.get("log_namespace", "")
                and e["log_level"].name == "debug"]

    def test_one_line_per_message_at_debug(self):
        lines = self._events(True)
        self.assertEqual(len(lines), 2, lines)      # the DWR and our DWA
        self.assertIn("-> DWR", lines[0])
        self.assertIn("<- DWA", lines[1])

    def test_silent_without_debug(self):
        self.assertEqual(self._events(False), [])
