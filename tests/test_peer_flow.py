"""
Flow control of a peer connection (issue 10, item 2): a peer that sends
requests and never reads our answers is not read any more once
max_write_buffer bytes wait for it, is read again once it reads them, and
is dropped if it stays stuck for write_stall_timeout seconds.
"""

import socket

from twisted.internet import defer, protocol, reactor, task
from twisted.trial import unittest

from pyhss.protocols.transport import DiameterServerFactory

from tests.peer_helpers import cer, dwr, make_node, open_connection


class FlowControlUnitTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock, max_write_buffer=4096,
                              write_stall_timeout=30.0)
        self.connection, self.transport = open_connection(self.node)

    def test_registered_as_streaming_producer(self):
        self.assertIs(self.transport.producer, self.connection)
        self.assertTrue(self.transport.streaming)
        self.assertEqual(self.transport.bufferSize, 4096)

    def test_default_limit_is_also_a_read_size(self):
        # Twisted reads bufferSize bytes at a time: a larger write limit
        # would let one flooding peer hold the reactor for a whole read.
        connection, transport = open_connection(make_node(self.clock))
        self.assertEqual(transport.bufferSize, 65536)

    def test_pause_stops_reading_and_resume_reads_again(self):
        self.connection.pauseProducing()
        self.assertEqual(self.transport.producerState, "paused")
        self.connection.pauseProducing()        # Twisted repeats it per write
        self.clock.advance(29)
        self.connection.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")
        self.clock.advance(60)
        self.assertFalse(self.transport.disconnecting)

    def test_stuck_peer_dropped_once(self):
        self.connection.pauseProducing()
        self.clock.advance(29.9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(0.2)
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(len(self.flushLoggedErrors()), 0)


class _Server(DiameterServerFactory):
    """Our server, its send buffer made small so that the test fills it
    with a few hundred kilobytes rather than the kernel's megabytes."""

    def buildProtocol(self, addr):
        connection = DiameterServerFactory.buildProtocol(self, addr)
        self.connection = connection
        return connection


class _NonReader(protocol.Protocol):
    """Sends what it is given and reads nothing until told to."""

    def __init__(self):
        self.received = b""
        self.made = defer.Deferred()

    def connectionMade(self):
        self.transport.pauseProducing()
        self.made.callback(self)

    def dataReceived(self, data):
        self.received += data


class FlowControlTCPTests(unittest.TestCase):
    """Over real loopback TCP."""

    timeout = 30

    @defer.inlineCallbacks
    def test_reading_stops_while_answers_wait_then_resumes(self):
        node = make_node(reactor, max_write_buffer=32768,
                         write_stall_timeout=20.0)
        factory = _Server(node)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = _NonReader()
        creator = protocol.ClientCreator(reactor, lambda: client)
        yield creator.connectTCP("127.0.0.1", port.getHost().port)
        client.transport.getHandle().setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        server = factory.connection
        self.addCleanup(server.when_closed)
        self.addCleanup(client.transport.loseConnection)
        server.transport.getHandle().setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        client.transport.write(cer().encode())
        count = 20000
        requests = b"".join(dwr(hop_by_hop=n).encode() for n in range(count))
        client.transport.write(requests)
        # Wait until the server stops reading.
        for _ in range(500):
            if not server.reading:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.assertFalse(server.reading)
        transport = server.transport
        queued = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        # At most the limit plus the answers to one read: Twisted reads 64 kB
        # at a time, 64-byte DWRs each answered by an 88-byte DWA.
        self.assertEqual(len(dwr().encode()), 64)
        self.assertLessEqual(queued, 32768 + (65536 // 64 + 1) * 88)
        handled = server.counters["dwa_sent"]
        self.assertLess(handled, count)
        # The peer reads: the server reads again and answers everything.
        client.transport.resumeProducing()
        for _ in range(1000):
            if server.counters["dwa_sent"] == count:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(server.counters["dwa_sent"], count)
        self.assertTrue(server.reading)
