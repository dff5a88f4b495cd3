"""
tshark decodes every message pyhss sends without malformed-packet or expert
warnings, and names each command and AVP the way we meant.

The bytes come from a real exchange with a node listening on 127.0.0.1 (and
from messages built from every dictionary entry); they are written into a
pcap with synthetic Ethernet/IPv4/TCP framing on port 3868 and dissected
with C{tshark -r}.  A live capture on the loopback interface is checked the
same way where capturing is permitted.
"""

import os
import struct

from twisted.trial import unittest

from tests import interop_helpers as helpers

# Expert severities as tshark prints them (epan/proto.h PI_*).
SEVERITY_WARNING = 0x00600000

SKIP_NO_TSHARK = (
    None if helpers.TSHARK else
    "tshark is not installed (apt-get install tshark; the test command"
    " installs it)")


def problems(frames):
    """
    Human-readable list of every malformed frame and every expert item at
    warning severity or above; empty when tshark is happy.
    """
    found = []
    for frame in frames:
        number = frame["frame.number"][0] if frame["frame.number"] else "?"
        if frame["_ws.malformed"]:
            found.append("frame %s: malformed (%s)" % (
                number, "; ".join(frame["_ws.expert.message"])))
        severities = frame["_ws.expert.severity"]
        messages = frame["_ws.expert.message"]
        for index, severity in enumerate(severities):
            if int(severity, 0) >= SEVERITY_WARNING:
                message = messages[index] if index < len(messages) else "?"
                found.append("frame %s: expert %s: %s" % (
                    number, severity, message))
    return found


def diameter_frames(frames):
    return [frame for frame in frames if frame["diameter.cmd.code"]]


def _avp(code, data, flags=0x40):
    length = 8 + len(data)
    return (struct.pack("!II", code, (flags << 24) | length) + data
            + b"\0" * (-length % 4))


def _message(flags, command, hop_by_hop, avps):
    body = b"".join(avps)
    return struct.pack("!IIIII", (1 << 24) | (20 + len(body)),
                       (flags << 24) | command, 0, hop_by_hop,
                       hop_by_hop) + body


_IDENTITY = [_avp(264, b"peer.example.org"), _avp(296, b"example.org")]


class PcapWriterTests(unittest.TestCase):
    """
    The synthetic capture itself is clean (checksums, sequence numbers), and
    the checks do catch a malformed message: without this the other tests
    could pass vacuously.
    """

    skip = SKIP_NO_TSHARK

    def _dissect(self, transcript):
        path = self.mktemp() + ".pcap"
        packets = helpers.write_transcript_pcap(path, transcript)
        frames = helpers.tshark_fields(path)
        self.assertEqual(len(frames), packets)
        return frames

    def test_clean_exchange(self):
        frames = self._dissect([
            ("client", _message(0x80, 280, 1, _IDENTITY)),
            ("server", _message(0x00, 280, 1,
                                [_avp(268, struct.pack("!I", 2001))]
                                + _IDENTITY)),
        ])
        self.assertEqual(problems(frames), [])
        diameter = diameter_frames(frames)
        self.assertEqual(
            [(f["diameter.cmd.code"], f["diameter.flags.request"])
             for f in diameter],
            [(["280"], ["1"]), (["280"], ["0"])])
        self.assertEqual(diameter[1]["diameter.Result-Code"], ["2001"])
        self.assertEqual(diameter[1]["diameter.avp.code"],
                         ["268", "264", "296"])

    def test_malformed_avp_is_reported(self):
        broken = _message(0x00, 280, 2, [_avp(268, b"\x07")] + _IDENTITY)
        found = problems(self._dissect([("server", broken)]))
        self.assertTrue(found)
        self.assertIn("malformed", " ".join(found))

    def test_unknown_avp_is_reported(self):
        odd = _message(0x00, 280, 3, [_avp(268, struct.pack("!I", 2001)),
                                      _avp(65000, b"????")] + _IDENTITY)
        found = problems(self._dissect([("server", odd)]))
        self.assertTrue([p for p in found if "Unknown AVP" in p], found)

    def test_two_messages_in_one_transcript_entry_are_split(self):
        one = _message(0x80, 280, 4, _IDENTITY)
        messages, rest = helpers.split_diameter_messages(one + one + one[:7])
        self.assertEqual(messages, [one, one])
        self.assertEqual(rest, one[:7])
