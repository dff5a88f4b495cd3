"""
pyhss.sctp.mmsg: many messages per sendmmsg/recvmmsg, with their own
ancillary data, flags and lengths.  A UNIX seqpacket pair keeps message
boundaries as SCTP does and needs no kernel SCTP; the SCTP side is
tested inside user-mode Linux.
"""

import socket
import struct

from twisted.trial import unittest

from pyhss.sctp import mmsg, wire


class ControlTests(unittest.TestCase):

    def test_round_trip(self):
        item = wire.send_info(5, 46)
        data = mmsg.control(*item)
        self.assertEqual(len(data), socket.CMSG_SPACE(32))
        self.assertEqual(mmsg.parse_control(data), [item])
        self.assertEqual(wire.received_info(mmsg.parse_control(data)), (5, 46))

    def test_two_items_and_a_bad_length(self):
        first = mmsg.control(socket.SOL_SOCKET, 1, b"\x01\x02\x03")
        second = mmsg.control(132, 1, bytes(32))
        self.assertEqual(mmsg.parse_control(first + second),
                         [(socket.SOL_SOCKET, 1, b"\x01\x02\x03"), (132, 1, bytes(32))])
        broken = bytearray(first)
        struct.pack_into("=Q", broken, 0, 1000)         # longer than the buffer
        self.assertEqual(mmsg.parse_control(bytes(broken)), [])
        self.assertEqual(mmsg.parse_control(b"\0" * 7), [])


class BatchTests(unittest.TestCase):

    skip = None if mmsg.AVAILABLE else "the C library has no sendmmsg/recvmmsg"

    def setUp(self):
        self.left, self.right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for sock in (self.left, self.right):
            sock.setblocking(False)
            self.addCleanup(sock.close)

    def test_many_messages_each_call(self):
        messages = [(b"message %d" % (n,), b"") for n in range(10)]
        self.assertEqual(mmsg.send(self.left.fileno(), messages), 10)
        receiver = mmsg.Receiver(slots=4, size=64)
        got = []
        while True:
            batch = receiver.receive(self.right.fileno())
            self.assertLessEqual(len(batch), 4)
            if not batch:
                break
            got.extend(batch)
        self.assertEqual([data for data, _, _ in got], [data for data, _ in messages])
        self.assertEqual({(tuple(ancillary), flags) for _, ancillary, flags in got}, {((), 0)})

    def test_a_full_buffer_takes_some_then_none(self):
        self.left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        big = [(b"x" * 1000, b"")] * 200
        first = mmsg.send(self.left.fileno(), big)
        self.assertGreater(first, 0)
        self.assertLess(first, 200)
        self.assertEqual(mmsg.send(self.left.fileno(), big), 0)

    def test_nothing_waiting_and_errors(self):
        receiver = mmsg.Receiver(slots=2, size=16)
        self.assertEqual(receiver.receive(self.right.fileno()), [])
        self.left.close()
        self.assertEqual(receiver.receive(self.right.fileno()), [(b"", [], 0), (b"", [], 0)])
        self.assertRaises(OSError, mmsg.send, self.right.fileno(), [(b"to nobody", b"")])
