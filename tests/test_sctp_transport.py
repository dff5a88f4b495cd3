"""
The SCTP transport's own logic on a fake socket (tests/sctp_fakes.py):
queueing with streams and PPIDs, flow control, reading and reassembly,
notifications (malformed ones included), closing and aborting, and the
client's connection attempt.  The kernel's side is tested for real inside
user-mode Linux (tests/test_sctp_uml.py).
"""

import errno
import socket
import struct

from twisted.internet import error, protocol
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python import failure
from twisted.trial import unittest
from zope.interface import implementer

from pyhss.sctp import ISCTPMessageReceiver, SctpOptions, wire
from pyhss.sctp.client import SCTPClient, SCTPConnector
from pyhss.sctp.connection import SCTPConnection
from pyhss.sctp.endpoints import SCTPClientEndpoint, SCTPServerEndpoint
from tests import sctp_fakes
from tests.sctp_fakes import FakeReactor, FakeSctpSocket, association_change


class Recorder(protocol.Protocol):
    """A stream protocol: what it is given, and how it ended."""

    def __init__(self):
        self.received = []
        self.reasons = []

    def dataReceived(self, data):
        self.received.append((data, self.transport.received_stream, self.transport.received_ppid))

    def connectionLost(self, reason):
        self.reasons.append(reason)


@implementer(ISCTPMessageReceiver)
class MessageRecorder(Recorder):

    def message_received(self, data, stream, ppid):
        self.received.append((data, stream, ppid))


def connect(protocol_=None, options=None, streams=(10, 10)):
    reactor = FakeReactor()
    connection = SCTPConnection(options or SctpOptions(), reactor)
    sctp_socket = FakeSctpSocket(streams=streams)
    connection.attach(sctp_socket)
    protocol_ = protocol_ or Recorder()
    connection.start(protocol_)
    return connection, sctp_socket.sock(), protocol_, reactor


class LogCatcher(object):

    def __init__(self, testcase):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        testcase.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def texts(self, level=None):
        from twisted.logger import formatEvent
        return [formatEvent(event) for event in self.events
                if event.get("log_namespace") == "pyhss.sctp"
                and (level is None or event["log_level"] == level)]


class StartTests(unittest.TestCase):

    def test_negotiated_streams_and_addresses(self):
        connection, sock, recorder, reactor = connect(streams=(4, 6))
        self.assertEqual((connection.inbound_streams, connection.outbound_streams), (4, 6))
        self.assertEqual(connection.getPeer().type, "SCTP")
        self.assertEqual((connection.getPeer().host, connection.getPeer().port), ("127.0.0.2", 3868))
        self.assertEqual(connection.getHost().port, 40000)
        self.assertIs(recorder.transport, connection)
        self.assertIn(connection, reactor.readers)
        self.assertFalse(sock.blocking)

    def test_multi_homed_peer(self):
        reactor = FakeReactor()
        connection = SCTPConnection(SctpOptions(), reactor)
        connection.attach(FakeSctpSocket(peers=(("10.0.0.1", 3868), ("10.0.1.1", 3868))))
        connection.start(Recorder())
        self.assertEqual(connection.getPeer().addresses, ("10.0.0.1", "10.0.1.1"))


class WriteTests(unittest.TestCase):

    def test_each_write_is_one_message_on_the_defaults(self):
        connection, sock, _, reactor = connect(options=SctpOptions(ppid=46))
        connection.write(b"one")
        connection.writeSequence([b"two", b"three"])
        self.assertEqual(sock.sent, [])          # queued until writable
        self.assertIn(connection, reactor.writers)
        connection.doWrite()
        self.assertEqual(sock.sent, [(b"one", 0, 46), (b"two", 0, 46), (b"three", 0, 46)])
        self.assertNotIn(connection, reactor.writers)

    def test_a_batch_is_bundled_by_the_kernel(self):
        # MSG_MORE on all but the last: the kernel packs their chunks into
        # as few packets as it can and sends them with the last.
        connection, sock, _, _ = connect()
        connection.writeSequence([b"a", b"b", b"c"])
        connection.doWrite()
        self.assertEqual(sock.more, [True, True, False])
        connection.write(b"alone")
        connection.doWrite()
        self.assertEqual(sock.more[3:], [False])

    def test_a_batch_cut_short_ends_without_more_later(self):
        connection, sock, _, _ = connect()
        sock.send_room = 2
        connection.writeSequence([b"a", b"b", b"c", b"d"])
        connection.doWrite()
        self.assertEqual((sock.more, connection.queued_bytes), ([True, True], 2))
        sock.send_room = None
        connection.doWrite()
        self.assertEqual(sock.more, [True, True, True, False])

    def test_write_message_names_stream_and_ppid(self):
        connection, sock, _, _ = connect()
        connection.write_message(b"m3ua", stream=9, ppid=3)
        connection.doWrite()
        self.assertEqual(sock.sent, [(b"m3ua", 9, 3)])

    def test_stream_policy_is_built_with_the_outbound_streams(self):
        seen = []

        def policy(outbound):
            seen.append(outbound)
            return lambda data: len(data) % outbound

        connection, sock, _, _ = connect(options=SctpOptions(stream_policy=policy), streams=(10, 4))
        connection.writeSequence([b"a", b"bb", b"ccccc"])
        connection.doWrite()
        self.assertEqual(seen, [4])
        self.assertEqual([stream for _, stream, _ in sock.sent], [1, 2, 1])

    def test_stream_beyond_the_association_is_refused(self):
        connection, _, _, _ = connect(streams=(10, 2))
        self.assertRaises(ValueError, connection.write_message, b"x", stream=2)
        self.assertRaises(ValueError, connection.write_message, b"x", stream=-1)

    def test_text_is_refused_and_empty_ignored(self):
        connection, sock, _, _ = connect()
        self.assertRaises(TypeError, connection.write, "text")
        connection.write(b"")
        self.assertEqual(connection.queued_bytes, 0)

    def test_full_send_buffer_keeps_the_rest_queued(self):
        connection, sock, _, reactor = connect()
        sock.send_room = 1
        connection.writeSequence([b"a", b"b", b"c"])
        self.assertIsNone(connection.doWrite())
        self.assertEqual([data for data, _, _ in sock.sent], [b"a"])
        self.assertEqual(connection.queued_bytes, 2)
        self.assertIn(connection, reactor.writers)
        sock.send_room = None
        connection.doWrite()
        self.assertEqual([data for data, _, _ in sock.sent], [b"a", b"b", b"c"])

    def test_producer_paused_past_buffer_size_resumed_when_drained(self):
        connection, sock, recorder, reactor = connect()
        events = []

        class Producer(object):
            def pauseProducing(self):
                events.append("pause")

            def resumeProducing(self):
                events.append("resume")

            def stopProducing(self):
                events.append("stop")

        connection.bufferSize = 10
        connection.registerProducer(Producer(), True)
        sock.send_room = 0
        connection.write(b"x" * 8)
        self.assertEqual(events, [])
        connection.write(b"x" * 8)
        self.assertEqual(events, ["pause"])
        connection.doWrite()
        self.assertEqual(events, ["pause"])
        sock.send_room = None
        connection.doWrite()
        self.assertEqual(events, ["pause", "resume"])

    def test_send_error_loses_the_connection(self):
        connection, sock, _, _ = connect()
        sock.send_error = OSError(errno.EPIPE, "broken pipe")
        connection.write(b"x")
        result = connection.doWrite()
        self.assertIsInstance(result, error.ConnectionLost)

    def test_message_too_large_for_the_socket(self):
        connection, sock, _, _ = connect()
        sock.send_error = OSError(errno.EMSGSIZE, "message too long")
        connection.write(b"x" * 100)
        self.assertIn("100 bytes", str(connection.doWrite()))


class ReadTests(unittest.TestCase):

    def test_stream_protocol_gets_one_turns_bytes_at_once(self):
        # As TCP would give them: one call per turn of the reactor, the
        # messages in order; stream and PPID of the last.
        connection, sock, recorder, _ = connect()
        sock.message(b"first", stream=2, ppid=46)
        sock.message(b"second", stream=5, ppid=46)
        self.assertIsNone(connection.doRead())
        self.assertEqual(recorder.received, [(b"firstsecond", 5, 46)])
        sock.message(b"third", stream=1, ppid=3)
        connection.doRead()
        self.assertEqual(recorder.received[1], (b"third", 1, 3))

    def test_stream_protocol_gets_parts_as_they_come(self):
        connection, sock, recorder, _ = connect()
        sock.message(b"par", flags=0)
        sock.message(b"ts")
        connection.doRead()
        self.assertEqual([data for data, _, _ in recorder.received], [b"parts"])

    def test_message_receiver_gets_whole_messages(self):
        connection, sock, recorder, _ = connect(MessageRecorder())
        sock.message(b"a" * 3, stream=1, ppid=3, flags=0)
        sock.message(b"b" * 3, stream=1, ppid=3, flags=0)
        sock.message(b"c", stream=1, ppid=3)
        sock.message(b"next", stream=0, ppid=3)
        connection.doRead()
        self.assertEqual(recorder.received, [(b"aaabbbc", 1, 3), (b"next", 0, 3)])

    def test_message_past_the_limit_aborts(self):
        connection, sock, recorder, reactor = connect(MessageRecorder(), SctpOptions(max_message_size=5))
        logs = LogCatcher(self)
        sock.message(b"abc", flags=0)
        sock.message(b"def", flags=0)
        sock.message(b"never read")
        connection.doRead()
        self.assertEqual(recorder.received, [])
        reactor.advance(0)
        self.assertTrue(recorder.reasons[0].check(error.ConnectionAborted))
        self.assertEqual(sock.options[socket.SOL_SOCKET, socket.SO_LINGER], struct.pack("ii", 1, 0))
        self.assertIn("passed 5 bytes", logs.texts(LogLevel.warn)[0])

    def test_reading_stops_when_the_protocol_pauses(self):
        class Pausing(MessageRecorder):
            def message_received(self, data, stream, ppid):
                MessageRecorder.message_received(self, data, stream, ppid)
                self.transport.pauseProducing()

        connection, sock, recorder, reactor = connect(Pausing())
        sock.message(b"one")
        sock.message(b"two")
        connection.doRead()
        self.assertEqual(len(recorder.received), 1)
        self.assertNotIn(connection, reactor.readers)
        connection.resumeProducing()
        self.assertIn(connection, reactor.readers)
        connection.doRead()
        self.assertEqual(len(recorder.received), 2)

    def test_one_turn_reads_about_buffer_size(self):
        # Reading stops once bufferSize bytes came: the last message read
        # may pass it.
        connection, sock, recorder, _ = connect()
        connection.bufferSize = 10
        for _ in range(4):
            sock.message(b"x" * 6)
        connection.doRead()
        self.assertEqual([len(data) for data, _, _ in recorder.received], [12])
        connection.doRead()
        self.assertEqual([len(data) for data, _, _ in recorder.received], [12, 12])

    def test_end_of_file_is_a_clean_close(self):
        connection, sock, _, _ = connect()
        sock.incoming.append((b"", [], 0))
        self.assertIsInstance(connection.doRead(), error.ConnectionDone)

    def test_reset_is_the_peer_aborting(self):
        connection, sock, _, _ = connect()
        sock.incoming.append(ConnectionResetError(errno.ECONNRESET, "reset"))
        result = connection.doRead()
        self.assertIsInstance(result, error.ConnectionLost)
        self.assertIn("aborted", str(result))


class NotificationTests(unittest.TestCase):

    def test_malformed_notification_is_logged_and_reading_goes_on(self):
        connection, sock, recorder, _ = connect()
        logs = LogCatcher(self)
        sock.notification(association_change(0)[:12])
        sock.notification(b"\x01\x80")
        sock.message(b"still served")
        self.assertIsNone(connection.doRead())
        self.assertEqual([data for data, _, _ in recorder.received], [b"still served"])
        warnings = logs.texts(LogLevel.warn)
        self.assertEqual(len(warnings), 2)
        self.assertIn("malformed SCTP notification", warnings[0])

    def test_notification_in_parts_is_reassembled(self):
        connection, sock, _, _ = connect()
        logs = LogCatcher(self)
        data = association_change(0, outbound=3, inbound=4)
        sock.notification(data[:10], flags=0)
        sock.notification(data[10:])
        connection.doRead()
        self.assertIn("communication up (4 inbound, 3 outbound streams)", logs.texts(LogLevel.info)[0])

    def test_unknown_notification_is_passed_over(self):
        connection, sock, recorder, _ = connect()
        sock.notification(wire.notification_bytes(0x800C, 0, b"\0" * 8))
        sock.message(b"after")
        connection.doRead()
        self.assertEqual(len(recorder.received), 1)

    def test_restart_renews_the_streams_and_the_policy(self):
        built = []
        connection, sock, _, _ = connect(
            options=SctpOptions(stream_policy=lambda n: built.append(n) or (lambda data: n - 1)))
        logs = LogCatcher(self)
        sock.notification(association_change(wire.AssociationChange.RESTART, outbound=3, inbound=5))
        connection.doRead()
        self.assertEqual((connection.inbound_streams, connection.outbound_streams), (5, 3))
        self.assertEqual(built, [10, 3])
        self.assertIn("restarted", logs.texts(LogLevel.warn)[0])

    def test_partial_delivery_aborted_drops_the_part(self):
        connection, sock, recorder, _ = connect(MessageRecorder())
        sock.message(b"half of a", flags=0)
        sock.notification(wire.notification_bytes(wire.PartialDelivery.TYPE, 0, struct.pack("=IiII", 0, 1, 0, 0)))
        sock.message(b"whole")
        connection.doRead()
        self.assertEqual(recorder.received, [(b"whole", 0, 0)])

    def test_shutdown_and_address_changes_are_logged(self):
        connection, sock, _, _ = connect()
        logs = LogCatcher(self)
        sock.notification(wire.notification_bytes(wire.ShutdownEvent.TYPE, 0, struct.pack("=i", 1)))
        address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 3868) + socket.inet_aton("10.0.1.1")
        sock.notification(wire.notification_bytes(
            wire.PeerAddressChange.TYPE, 0, address + bytes(128 - len(address)) + struct.pack("=iii", 3, 0, 1)))
        connection.doRead()
        texts = logs.texts(LogLevel.info)
        self.assertIn("the peer shut down", texts[0])
        self.assertIn("peer address 10.0.1.1:3868 added", texts[1])


class CloseTests(unittest.TestCase):

    def test_lose_connection_sends_the_queue_then_closes(self):
        connection, sock, recorder, reactor = connect()
        connection.write(b"last words")
        connection.loseConnection()
        self.assertNotIn(connection, reactor.readers)
        result = connection.doWrite()
        self.assertEqual([data for data, _, _ in sock.sent], [b"last words"])
        self.assertIsInstance(result, error.ConnectionDone)
        connection.connectionLost(failure.Failure(result))
        self.assertTrue(sock.closed)
        self.assertNotIn((socket.SOL_SOCKET, socket.SO_LINGER), sock.options)
        self.assertTrue(recorder.reasons[0].check(error.ConnectionDone))

    def test_abort_drops_the_queue_and_sends_abort(self):
        connection, sock, recorder, reactor = connect()
        connection.write(b"never sent")
        connection.abortConnection()
        connection.abortConnection()
        reactor.advance(0)
        self.assertEqual(sock.sent, [])
        self.assertTrue(sock.closed)
        self.assertEqual(sock.options[socket.SOL_SOCKET, socket.SO_LINGER], struct.pack("ii", 1, 0))
        self.assertEqual(len(recorder.reasons), 1)
        self.assertTrue(recorder.reasons[0].check(error.ConnectionAborted))
        connection.write(b"after the end")
        self.assertEqual(connection.queued_bytes, 0)

    def test_connection_lost_twice_is_once(self):
        connection, sock, recorder, _ = connect()
        connection.connectionLost(failure.Failure(error.ConnectionDone()))
        connection.connectionLost(failure.Failure(error.ConnectionDone()))
        self.assertEqual(len(recorder.reasons), 1)


class ClientTests(unittest.TestCase):
    """The connector's side, up to the point where a kernel is needed."""

    def test_timeout_fails_the_attempt_once(self):
        reactor = FakeReactor()
        failures = []

        class Factory(protocol.ClientFactory):
            def clientConnectionFailed(self, connector, reason):
                failures.append(reason)

        # An attempt that never ends (no kernel needed): the connector's
        # timeout ends it.
        self.patch(SCTPClient, "_resolve", lambda client: None)
        connector = SCTPConnector("192.0.2.1", 3868, Factory(), timeout=5, reactor=reactor)
        connector.connect()
        reactor.advance(4)
        self.assertEqual(failures, [])
        reactor.advance(1)
        self.assertEqual(len(failures), 1)
        self.assertTrue(failures[0].check(error.TimeoutError))
        self.assertEqual(connector.state, "disconnected")

    def test_needs_an_address(self):
        self.assertRaises(ValueError, SCTPConnector, (), 3868, protocol.ClientFactory())


class OptionsTests(unittest.TestCase):

    def test_defaults_are_rfc_4960s(self):
        options = SctpOptions()
        self.assertEqual((options.rto_initial, options.rto_min, options.rto_max), (3.0, 1.0, 60.0))
        self.assertEqual((options.max_retransmissions, options.path_max_retransmissions,
                          options.init_max_retransmissions, options.heartbeat_interval), (10, 5, 8, 30.0))

    def test_bad_values_are_named(self):
        for bad, word in (({"streams": 0}, "streams"), ({"rto_min": 5.0}, "rto_min"),
                          ({"heartbeat_interval": -1}, "heartbeat_interval"),
                          ({"ppid": -1}, "ppid"), ({"path_max_retransmissions": 0}, "path_max")):
            e = self.assertRaises(ValueError, SctpOptions, **bad)
            self.assertIn(word, str(e))


class EndpointStringTests(unittest.TestCase):

    def test_server(self):
        endpoint = serverFromString(None, "sctp:3868:interface=127.0.0.1")
        self.assertIsInstance(endpoint, SCTPServerEndpoint)
        self.assertEqual((endpoint.port, endpoint.interfaces, endpoint.options), (3868, ("127.0.0.1",), None))

    def test_multi_homed_server_with_options(self):
        endpoint = serverFromString(
            None, "sctp:2905:interface=127.0.0.1,127.0.0.2:ppid=3:streams=16:rto_min=0.2:backlog=5")
        self.assertEqual(endpoint.interfaces, ("127.0.0.1", "127.0.0.2"))
        self.assertEqual((endpoint.options.ppid, endpoint.options.streams, endpoint.options.rto_min,
                          endpoint.backlog), (3, 16, 0.2, 5))

    def test_ipv6_interface_is_escaped(self):
        self.assertEqual(serverFromString(None, r"sctp:3868:interface=\:\:1").interfaces, ("::1",))

    def test_client(self):
        endpoint = clientFromString(None, "sctp:host=127.0.0.1:port=2905")
        self.assertIsInstance(endpoint, SCTPClientEndpoint)
        self.assertEqual((endpoint.hosts, endpoint.port, endpoint.local_addresses), (("127.0.0.1",), 2905, ()))

    def test_multi_homed_client(self):
        endpoint = clientFromString(
            None, "sctp:host=10.0.0.1,10.0.1.1:port=2905:local=10.0.0.9,10.0.1.9:timeout=3:heartbeat_interval=5")
        self.assertEqual((endpoint.hosts, endpoint.local_addresses, endpoint.timeout),
                         (("10.0.0.1", "10.0.1.1"), ("10.0.0.9", "10.0.1.9"), 3.0))
        self.assertEqual(endpoint.options.heartbeat_interval, 5.0)

    def test_mistakes_are_named(self):
        for text, word in (("sctp:host=127.0.0.1", "port"), ("sctp:port=1", "host"),
                           ("sctp:host=127.0.0.1:port=1:streemz=2", "streemz"),
                           ("sctp:host=127.0.0.1:port=1:streams=many", "streams")):
            e = self.assertRaises(ValueError, clientFromString, None, text)
            self.assertIn(word, str(e))


sctp_fakes  # the module documents the fakes these tests use
