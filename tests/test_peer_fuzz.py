"""
Property-based fuzzing of a connected L{DiameterProtocol}: random bytes and
mutated valid messages, split into arbitrary reads, never raise out of
C{dataReceived}; the connection either keeps answering well-formed messages
or closes cleanly.
"""

import struct

from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.internet import defer
from twisted.trial import unittest

from pyhss.protocols import codec
from pyhss.protocols.dictionary import (
    APP_S6A, CMD_AIR, CMD_ULR, VENDOR_3GPP)
from pyhss.protocols.errors import DecodeError
from pyhss.protocols.peer import CLOSED

from tests.peer_helpers import (
    PEER_HOST, cer, dpr, dwr, make_node, open_connection, read_messages)


def _air():
    return codec.Message.request(APP_S6A, CMD_AIR, hop_by_hop=9).add(
        "Session-Id", "mme;1;2").add("Auth-Session-State", 1).add(
        "Origin-Host", PEER_HOST).add("Origin-Realm", "test.realm").add(
        "Destination-Realm", "test.realm").add(
        "User-Name", "001010000000001").add(
        "Visited-PLMN-Id", b"\x00\xf1\x10").add(
        "Requested-EUTRAN-Authentication-Info", [
            ("Number-Of-Requested-Vectors", 1),
            ("Immediate-Response-Preferred", 0)])


FAILED_AVP = 279

SEEDS = [m.encode() for m in (
    dwr(), cer(), dpr(), _air(), _air().answer(2001),
    codec.Message.request(APP_S6A, CMD_ULR, hop_by_hop=4).add(
        "Session-Id", "x").add("Origin-Host", "a").add(
        "Subscription-Data", [("MSISDN", b"\x12\x34")]))]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("flip", "set", "cut", "insert")))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[position:position + draw(st.integers(1, 8))]
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


streams = st.lists(
    st.one_of(st.binary(max_size=64), mutated(), st.sampled_from(SEEDS)),
    min_size=1, max_size=6).map(b"".join)


def _split(data, cuts):
    points = sorted(set(c % (len(data) + 1) for c in cuts))
    pieces, start = [], 0
    for point in points + [len(data)]:
        pieces.append(data[start:point])
        start = point
    return [p for p in pieces if p]


class PeerFuzzTests(unittest.TestCase):

    def _feed(self, data, cuts):
        node = make_node()

        def handler(request, peer):
            if request.hop_by_hop % 3 == 0:
                raise RuntimeError("fuzz handler failure")
            return defer.succeed(node.answer(request, 2001))
        node.register_application(APP_S6A, VENDOR_3GPP, {CMD_AIR: handler})
        connection, transport = open_connection(node)
        for piece in _split(data, cuts):
            connection.dataReceived(piece)
        self.flushLoggedErrors(RuntimeError)
        if transport.disconnecting:
            return
        # Still open: everything we wrote is well framed and decodes, and the
        # connection still answers a clean DWR.
        data = transport.value()
        transport.clear()
        offset = 0
        while offset < len(data):
            length = codec.peek_message_length(data, offset)
            self.assertLessEqual(offset + length, len(data))
            raw = data[offset:offset + length]
            offset += length
            try:
                message = codec.decode_message(raw)
            except DecodeError:
                # Only an error answer echoing the offending AVP in
                # Failed-AVP (RFC 6733 7.5) may fail a strict decode.
                self.assertFalse(raw[4] & codec.FLAG_REQUEST)
                self.assertIn(struct.pack("!I", FAILED_AVP), raw)
                continue
            if message.is_request:
                # The only requests we originate here: DWR, DPR.
                self.assertIn(message.command_code, (280, 282))
        if connection.state == CLOSED or connection.framer.buffered:
            # Closed, or a partial message is waiting for more bytes (a
            # DWR now would be read as its continuation).
            return
        connection.dataReceived(dwr(hop_by_hop=0xABCD).encode())
        answers = read_messages(transport)
        if connection.state == "open":
            self.assertEqual([m.hop_by_hop for m in answers], [0xABCD])

    @settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(streams, st.lists(st.integers(0, 10000), max_size=8))
    def test_streams_never_raise(self, data, cuts):
        self._feed(data, cuts)

    @settings(max_examples=100, deadline=None)
    @given(st.binary(min_size=0, max_size=300))
    def test_random_bytes_after_cer(self, data):
        self._feed(data, [])
