"""
Tests for L{pyhss.protocols.peer}'s reading: framing a byte stream into
messages, bounded buffers, and what a closed connection keeps, on a
StringTransport and a task.Clock.
"""

import struct

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial import unittest

from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_S6A, CMD_DWR
from pyhss.protocols.peer import session_id_avp

from tests.peer_helpers import dwr, make_node, open_connection, read_messages

DONE = Failure(ConnectionDone())


class FramingTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.connection, self.transport = open_connection(self.node)

    def _dwas(self):
        messages = read_messages(self.transport)
        for message in messages:
            self.assertEqual(message.command_code, CMD_DWR)
            self.assertFalse(message.is_request)
        return [message.hop_by_hop for message in messages]

    def test_many_messages_in_one_read(self):
        data = b"".join(dwr(hop_by_hop=n).encode() for n in range(1, 51))
        self.connection.dataReceived(data)
        self.assertEqual(self._dwas(), list(range(1, 51)))

    def test_answers_of_one_read_written_at_once(self):
        # One writeSequence, one element per message: one send over TCP,
        # one SCTP message each over SCTP.
        writes = []
        self.transport.writeSequence = writes.append
        self.connection.dataReceived(
            dwr(hop_by_hop=1).encode() + dwr(hop_by_hop=2).encode())
        self.assertEqual(len(writes), 1)
        self.assertEqual([codec.decode_message(answer).hop_by_hop for answer in writes[0]], [1, 2])

    def test_one_message_across_reads(self):
        data = dwr(hop_by_hop=5).encode()
        self.connection.dataReceived(data[:3])
        self.connection.dataReceived(data[3:21])
        self.assertEqual(self._dwas(), [])
        self.connection.dataReceived(data[21:])
        self.assertEqual(self._dwas(), [5])

    def test_one_byte_at_a_time(self):
        data = b"".join(dwr(hop_by_hop=n).encode() for n in (7, 8, 9))
        for index in range(len(data)):
            self.connection.dataReceived(data[index:index + 1])
        self.assertEqual(self._dwas(), [7, 8, 9])

    def test_message_and_a_half(self):
        first, second = dwr(hop_by_hop=1).encode(), dwr(hop_by_hop=2).encode()
        self.connection.dataReceived(first + second[:10])
        self.assertEqual(self._dwas(), [1])
        self.connection.dataReceived(second[10:])
        self.assertEqual(self._dwas(), [2])

    def test_large_message_in_small_reads_is_linear(self):
        # 60 kB in 1-byte reads: the partial message is only joined when
        # complete (a quadratic copy would take minutes here).
        big = dwr(hop_by_hop=3)
        big.append(codec.Avp(99999, 0, 0, b"x" * 60000))
        data = big.encode()
        for index in range(len(data)):
            self.connection.dataReceived(data[index:index + 1])
        self.assertEqual(self._dwas(), [3])

    def test_partial_message_held_in_one_buffer(self):
        # 60 kB held one byte at a time costs about a byte per byte, not
        # a list of 60,000 small bytes objects (~19 bytes per byte).
        import tracemalloc
        big = dwr(hop_by_hop=3)
        big.append(codec.Avp(99999, 0, 0, b"x" * 60000))
        data = big.encode()[:-1]
        reads = [data[index:index + 1] for index in range(len(data))]
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        before = tracemalloc.get_traced_memory()[0]
        for read in reads:
            self.connection.dataReceived(read)
        held = tracemalloc.get_traced_memory()[0] - before
        self.assertLess(held, 2 * len(data))
        self.assertEqual(self._dwas(), [])

    def test_closed_connection_freed_without_the_collector(self):
        # A dropped peer's connection (and the answers its transport still
        # holds) must not wait for a full collection: no reference cycle.
        import gc
        import weakref
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)
        connection, transport = open_connection(make_node())
        transport.write(b"x" * 100000)
        alive = weakref.ref(connection)
        connection.connectionLost(DONE)
        transport.unregisterProducer()      # as Twisted's transports do
        del connection, transport
        self.assertIsNone(alive())

    def test_oversized_message_closes_connection(self):
        header = struct.pack("!IIIII", 0x01000000 | 70000, 0x80000118, 0, 1, 1)
        self.connection.dataReceived(header)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.transport.value(), b"")
        self.flushLoggedErrors()

    def test_garbage_header_closes_connection(self):
        self.connection.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        self.assertTrue(self.transport.disconnecting)

    def test_bad_length_closes_connection(self):
        self.connection.dataReceived(struct.pack("!I", 0x01000013))
        self.assertTrue(self.transport.disconnecting)

    def test_messages_before_garbage_are_answered(self):
        self.connection.dataReceived(dwr(hop_by_hop=4).encode() + b"\x02" * 20)
        self.assertEqual(self._dwas(), [4])
        self.assertTrue(self.transport.disconnecting)

    def test_nothing_handled_after_close(self):
        self.connection.dataReceived(b"\x02" * 20 + dwr(hop_by_hop=4).encode())
        self.assertEqual(self.transport.value(), b"")
        self.connection.dataReceived(dwr(hop_by_hop=5).encode())
        self.assertEqual(self.transport.value(), b"")

    def test_other_connections_unaffected(self):
        other, other_transport = open_connection(
            self.node, origin_host="other.test.realm")
        self.connection.dataReceived(b"\xff" * 20)
        other.dataReceived(dwr(hop_by_hop=6).encode())
        self.assertEqual(len(read_messages(other_transport)), 1)
        self.assertFalse(other_transport.disconnecting)

    def test_session_id_avp(self):
        request = codec.Message.request(APP_S6A, 316).add(
            "Session-Id", "abc;1").add("Origin-Host", "x")
        data = request.encode()
        self.assertEqual(session_id_avp(data),
                         codec.Avp.new("Session-Id", "abc;1").encode())
        self.assertIsNone(session_id_avp(dwr().encode()))
        self.assertIsNone(session_id_avp(data[:24]))
        # Never echo a Session-Id our own decoder would refuse.
        bad_utf8 = codec.Message.request(APP_S6A, 316).add(
            "Session-Id", "abc;1").encode().replace(b"abc;1", b"\xff\xfe;;1")
        self.assertIsNone(session_id_avp(bad_utf8))
        bad_padding = bytearray(data)
        bad_padding[20 + 13] = 1
        self.assertIsNone(session_id_avp(bytes(bad_padding)))
