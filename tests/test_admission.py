"""
Tests for L{pyhss.protocols.admission}, and the server factory that uses it:
connections that never send a CER cannot lock new peers out.
"""

from twisted.internet import address, task
from twisted.trial import unittest

from pyhss.node.admission import Admission
from pyhss.protocols.peer import OPEN
from pyhss.protocols.transport import DiameterServerFactory

from twisted.logger import LogLevel, globalLogPublisher

from tests.peer_helpers import cer, dwr, make_node, read_messages


def logged_and_counted(events):
    """Events logged in full, plus those the summaries counted."""
    return sum(event.get("repeats", 1) for event in events)


class AdmissionTests(unittest.TestCase):
    """The sans-IO bookkeeping."""

    def add(self, admission, name, address):
        accept, evict = admission.admit(address)
        self.assertTrue(accept)
        admission.added(name, address)
        return evict

    def test_unopened_limit_evicts_the_oldest(self):
        admission = Admission(100, 3, 10)
        for name in "abc":
            self.assertEqual(self.add(admission, name, "10.0.0.%s" % (name,)), [])
        self.assertEqual(self.add(admission, "d", "10.0.0.9"), ["a"])
        self.assertEqual(self.add(admission, "e", "10.0.0.9"), ["b"])
        self.assertEqual(admission.unopened, 3)
        self.assertEqual(admission.total, 3)

    def test_per_address_limit_evicts_that_address_only(self):
        admission = Admission(100, 50, 2)
        self.add(admission, "x", "192.0.2.1")
        self.add(admission, "a1", "198.51.100.7")
        self.add(admission, "a2", "198.51.100.7")
        self.assertEqual(self.add(admission, "a3", "198.51.100.7"), ["a1"])
        self.assertEqual(admission.unopened_from("198.51.100.7"), 2)
        self.assertEqual(admission.unopened_from("192.0.2.1"), 1)

    def test_open_peers_are_never_evicted(self):
        admission = Admission(2, 10, 10)
        self.add(admission, "peer", "192.0.2.1")
        admission.opened("peer")
        self.add(admission, "idle", "192.0.2.2")
        # Full: the unopened one makes room.
        self.assertEqual(self.add(admission, "new", "192.0.2.3"), ["idle"])
        admission.opened("new")
        # Full of open peers: refused.
        self.assertEqual(admission.admit("192.0.2.4"), (False, []))

    def test_evicted_connections_are_not_counted_twice(self):
        admission = Admission(100, 1, 10)
        self.add(admission, "a", "192.0.2.1")
        self.assertEqual(self.add(admission, "b", "192.0.2.1"), ["a"])
        admission.removed("a")      # its connectionLost arrives later
        self.assertEqual(admission.total, 1)
        admission.removed("b")
        self.assertEqual((admission.total, admission.unopened), (0, 0))
        self.assertEqual(admission.unopened_from("192.0.2.1"), 0)


class FactoryAdmissionTests(unittest.TestCase):
    """Idle connections do not keep an MME out (issue 10, item 3)."""

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock, max_connections=20,
                              max_unopened_connections=8,
                              max_unopened_per_address=4)
        self.factory = DiameterServerFactory(self.node)

    def connect(self, host, port):
        from twisted.internet.testing import StringTransport
        peer = address.IPv4Address("TCP", host, port)
        connection = self.factory.buildProtocol(peer)
        if connection is None:
            return None, None
        transport = StringTransport(peerAddress=peer)
        connection.makeConnection(transport)
        return connection, transport

    def test_idle_flood_does_not_lock_out_an_mme(self):
        idle = [self.connect("198.51.100.%d" % (n % 5,), 10000 + n)
                for n in range(1000)]
        self.assertTrue(all(connection is not None for connection, _ in idle))
        still_open = [t for _, t in idle if not t.disconnecting]
        self.assertLessEqual(len(still_open), 8)
        mme, transport = self.connect("192.0.2.10", 3868)
        self.assertIsNotNone(mme)
        mme.dataReceived(cer().encode())
        self.assertEqual(read_messages(transport)[0].get("Result-Code"), 2001)
        self.assertEqual(mme.state, OPEN)

    def test_one_address_evicts_only_its_own(self):
        other, other_transport = self.connect("192.0.2.10", 3868)
        for n in range(50):
            self.connect("198.51.100.1", 20000 + n)
        self.assertFalse(other_transport.disconnecting)
        self.assertEqual(self.node.admission.unopened_from("198.51.100.1"), 4)

    def test_refused_only_when_full_of_open_peers(self):
        node = make_node(self.clock, max_connections=1)
        self.factory = DiameterServerFactory(node)
        connection, transport = self.connect("192.0.2.10", 3868)
        connection.dataReceived(cer().encode())
        self.assertEqual(connection.state, OPEN)
        self.assertEqual(self.connect("192.0.2.11", 3868), (None, None))
        self.flushLoggedErrors()

    def test_connection_floods_are_summarised(self):
        # 7,067 refusal warnings in 30 s were logged before (issue 10,
        # item 3): one line per kind and source per interval now.
        events = []

        def observe(event):
            if event.get("log_namespace", "").startswith("pyhss.") \
                    and event["log_level"] >= LogLevel.info:
                events.append(event)
        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        node = make_node(self.clock, max_connections=1)
        self.factory = DiameterServerFactory(node)
        mme, _ = self.connect("192.0.2.10", 3868)
        mme.dataReceived(cer().encode())
        del events[:]
        for n in range(3000):
            self.connect("198.51.100.1", 20000 + n)
            self.clock.advance(0.01)
        self.clock.advance(10)
        refused = [e for e in events if "refusing" in e.get("summary", e["log_format"])]
        self.assertLessEqual(len(refused), 5)
        self.assertEqual(logged_and_counted(refused), 3000)
        # Connections that send something else than a CER first.
        node = make_node(self.clock, max_connections=5000)
        self.factory = DiameterServerFactory(node)
        del events[:]
        for n in range(3000):
            connection, _ = self.connect("198.51.100.2", 30000 + n)
            connection.dataReceived(dwr().encode())
            self.clock.advance(0.01)
        self.clock.advance(10)
        not_cer = [e for e in events if "not a CER" in e.get("summary", e["log_format"])]
        self.assertLessEqual(len(not_cer), 5)
        self.assertEqual(logged_and_counted(not_cer), 3000)
