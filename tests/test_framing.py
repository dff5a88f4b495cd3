"""L{pyhss.protocols.framing.StreamFramer}, without a connection."""

import struct

from twisted.trial import unittest

from pyhss.protocols.framing import FramingError, StreamFramer


def message(size, fill=b"x"):
    """A Diameter header of ``size`` bytes and a body of ``fill``."""
    return struct.pack("!IIIII", 0x01000000 | size, 0x80000118, 0, 1, 1) + fill * (size - 20)


class StreamFramerTests(unittest.TestCase):

    def setUp(self):
        self.framer = StreamFramer(1000)

    def test_whole_read_not_copied(self):
        data = message(64)
        (found,) = list(self.framer.messages(data))
        self.assertIs(found, data)

    def test_several_and_a_half(self):
        data = message(24) + message(28) + message(40)[:30]
        self.assertEqual([len(m) for m in self.framer.messages(data)], [24, 28])
        self.assertEqual(self.framer.buffered, 30)
        self.assertEqual(self.framer.partial_header(), message(40)[:20])
        self.assertEqual(list(self.framer.messages(message(40)[30:])), [message(40)])
        self.assertEqual(self.framer.buffered, 0)

    def test_byte_by_byte(self):
        data = message(32) + message(24)
        found = []
        for index in range(len(data)):
            found.extend(self.framer.messages(data[index:index + 1]))
        self.assertEqual(found, [message(32), message(24)])

    def test_limits(self):
        self.assertRaises(FramingError, list, self.framer.messages(message(1004)[:20]))
        self.assertRaises(FramingError, list, StreamFramer(1000).messages(b"\x02\x00\x00\x14"))
        self.assertRaises(FramingError, list, StreamFramer(1000).messages(b"\x01\x00\x00\x13"))
