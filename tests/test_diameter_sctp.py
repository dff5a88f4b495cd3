"""
Diameter over SCTP without a kernel: the stream policy, the options, the
refusals where SCTP is missing, and a node's connection on the SCTP
transport over a fake socket (one SCTP message per Diameter message, PPID
46, base messages on stream 0).  The real stack: tests/test_sctp_uml.py.
"""

from twisted.trial import unittest

from pyhss import sctp
from pyhss.protocols import codec, transport
from pyhss.protocols.dictionary import APP_S6A
from pyhss.protocols.peer import DiameterProtocol, OPEN
from pyhss.sctp.connection import SCTPConnection
from tests.peer_helpers import cer, dwr, make_node
from tests.sctp_fakes import FakeReactor, FakeSctpSocket

NO_SCTP = "the kernel has no SCTP support (Protocol not supported)"


def air(hop_by_hop):
    return codec.Message.request(APP_S6A, 318, hop_by_hop=hop_by_hop, end_to_end=hop_by_hop).add(
        "Session-Id", "mme;%d" % (hop_by_hop,)).encode()


class StreamPolicyTests(unittest.TestCase):

    def test_base_messages_on_stream_zero_others_in_turn(self):
        choose = transport.diameter_streams(4)
        streams = [choose(data) for data in (
            cer().encode(), air(1), air(2), dwr().encode(), air(3), air(4), air(5))]
        self.assertEqual(streams, [0, 1, 2, 0, 3, 1, 2])

    def test_one_stream_carries_everything(self):
        choose = transport.diameter_streams(1)
        self.assertEqual({choose(air(1)), choose(cer().encode())}, {0})

    def test_options(self):
        options = transport.diameter_sctp_options(max_message_size=1000, streams=16, rto_min=0.5)
        self.assertEqual((options.ppid, options.streams, options.rto_min, options.max_message_size),
                         (transport.DIAMETER_PPID, 16, 0.5, 1000))
        self.assertIs(options.stream_policy, transport.diameter_streams)
        self.assertEqual(transport.DIAMETER_PPID, 46)


class RefusalTests(unittest.TestCase):

    def setUp(self):
        self.patch(sctp, "unavailable_reason", lambda: NO_SCTP)

    def test_listen(self):
        error = self.assertRaises(transport.TransportUnavailable, transport.listen,
                                  make_node(), ["127.0.0.1"], 3868, ["sctp"], FakeReactor())
        self.assertEqual(str(error), "cannot listen on SCTP 127.0.0.1 port 3868: " + NO_SCTP)

    def test_connect(self):
        failure = self.failureResultOf(transport.connect_peer(
            make_node(), "127.0.0.1", 3868, FakeReactor(), transport="sctp"))
        self.assertIn("cannot connect over SCTP to 127.0.0.1: " + NO_SCTP, str(failure.value))

    def test_unknown_transport(self):
        self.assertEqual(transport.unavailable("udp"), "unknown transport 'udp' (expected one of sctp, tcp)")


class NodeOverSctpTransportTests(unittest.TestCase):
    """The unchanged DiameterProtocol on the SCTP transport."""

    def setUp(self):
        self.node = make_node(FakeReactor())
        self.connection = SCTPConnection(transport.diameter_sctp_options(), FakeReactor())
        self.fake = FakeSctpSocket(streams=(10, 4))
        self.connection.attach(self.fake)
        self.protocol = DiameterProtocol(self.node)
        self.connection.start(self.protocol)
        self.sock = self.fake.sock()

    def exchange(self, *messages, stream=0):
        for data in messages:
            self.sock.message(data, stream=stream, ppid=46)
        self.connection.doRead()
        self.connection.doWrite()
        sent, self.sock.sent[:] = list(self.sock.sent), []
        return [(codec.decode_message(data), stream, ppid) for data, stream, ppid in sent]

    def test_transport_is_named(self):
        self.assertEqual(self.protocol.transport_name, "sctp")

    def test_each_message_alone_with_ppid_46_base_on_stream_zero(self):
        ((cea, stream, ppid),) = self.exchange(cer().encode())
        self.assertEqual((cea.name, cea.get("Result-Code"), stream, ppid), ("CEA", 2001, 0, 46))
        self.assertEqual(self.protocol.state, OPEN)
        # Two DWRs in one SCTP message (a peer that packs them): framed
        # anyway, and answered as two SCTP messages.
        answers = self.exchange(dwr(hop_by_hop=8).encode() + dwr(hop_by_hop=9).encode(), stream=3)
        self.assertEqual([(a.name, a.hop_by_hop, stream, ppid) for a, stream, ppid in answers],
                         [("DWA", 8, 0, 46), ("DWA", 9, 0, 46)])

    def test_application_messages_spread_over_the_other_streams(self):
        self.exchange(cer().encode())
        answers = self.exchange(air(1), air(2), air(3), air(4))
        self.assertEqual([(a.hop_by_hop, stream) for a, stream, _ in answers],
                         [(1, 1), (2, 2), (3, 3), (4, 1)])
