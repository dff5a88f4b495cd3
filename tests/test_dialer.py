"""
The peers the node connects to itself (pyhss.node.dialer): attempts,
backoff with jitter, the election with the peer's own connection, and
requests that wait for the connection.  Connections are stand-ins here;
tests/test_tap.py dials a real node over TCP and tests/sctp_stack.py over
SCTP inside user-mode Linux.
"""

from twisted.internet import defer, task
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.trial import unittest

from pyhss.node import PeerDialer, PeerNotConnected
from pyhss.node.dialer import CONNECTING, OPEN, STOPPED, WAITING
from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_S6A
from tests.peer_helpers import PEER_HOST, cer, connect, make_node, open_connection, read_messages


class MiddleRandom(object):
    """No jitter: every delay exactly its base."""

    def random(self):
        return 0.5


class Attempts(object):
    """connect() for a dialer: each call a Deferred the test decides."""

    def __init__(self):
        self.made = []

    def __call__(self):
        d = defer.Deferred()
        self.made.append(d)
        return d


class FakePeer(object):

    def __init__(self, origin_host=PEER_HOST):
        self.origin_host = origin_host
        self.disconnected = False
        self.connection = self

    def disconnect(self):
        self.disconnected = True


def warnings(testcase):
    events = []
    globalLogPublisher.addObserver(events.append)
    testcase.addCleanup(globalLogPublisher.removeObserver, events.append)
    return lambda: [formatEvent(e) for e in events
                    if e.get("log_namespace") == "pyhss.dialer" and e["log_level"] == LogLevel.warn]


class DialerTests(unittest.TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)
        self.attempts = Attempts()
        self.dialer = PeerDialer(self.node, PEER_HOST, self.attempts, self.clock,
                                 reconnect_min=1.0, reconnect_max=30.0, rng=MiddleRandom(),
                                 describe="over sctp to 192.0.2.9 port 3868")
        self.node.dialers.add(self.dialer)

    def fail_attempt(self, why="Connection refused"):
        self.attempts.made[-1].errback(ConnectionRefusedError(why))

    def test_connects_at_start(self):
        self.dialer.start()
        self.assertEqual((len(self.attempts.made), self.dialer.state), (1, CONNECTING))
        self.attempts.made[0].callback(FakePeer())
        self.assertEqual((self.dialer.state, self.dialer.failures), (OPEN, 0))

    def test_backoff_doubles_up_to_the_maximum(self):
        self.dialer.start()
        delays = []
        for _ in range(7):
            self.fail_attempt()
            delays.append(self.clock.getDelayedCalls()[0].getTime() - self.clock.seconds())
            self.clock.advance(delays[-1])
        self.assertEqual(delays, [1, 2, 4, 8, 16, 30, 30])
        self.assertEqual(len(self.attempts.made), 8)

    def test_jitter_stays_within_a_quarter(self):
        class Edges(object):
            values = [0.0, 0.999999]

            def random(self):
                return self.values.pop(0)

        self.dialer.rng = Edges()
        self.dialer.start()
        self.fail_attempt()
        self.assertAlmostEqual(self.clock.getDelayedCalls()[0].getTime(), 0.75)
        self.clock.advance(0.75)
        self.fail_attempt()
        self.assertAlmostEqual(self.clock.getDelayedCalls()[0].getTime() - 0.75, 2.5, places=4)

    def test_one_warning_per_cause(self):
        logged = warnings(self)
        self.dialer.start()
        for cause in ("refused", "refused", "refused", "timed out"):
            self.fail_attempt(cause)
            self.clock.advance(60)
        texts = logged()
        self.assertEqual(len(texts), 2, texts)
        self.assertIn("connection to %s over sctp to 192.0.2.9 port 3868 failed" % (PEER_HOST,), texts[0])
        self.assertIn("trying again in 1.0 s", texts[0])

    def test_success_resets_the_backoff_and_a_loss_reconnects(self):
        self.dialer.start()
        self.fail_attempt()
        self.clock.advance(1)
        self.fail_attempt()
        self.clock.advance(2)
        self.attempts.made[-1].callback(FakePeer())
        self.assertEqual(self.dialer.failures, 0)
        self.dialer.lost()
        self.assertEqual(self.dialer.state, WAITING)
        self.clock.advance(1)
        self.assertEqual(len(self.attempts.made), 4)

    def test_peer_connected_to_us_first_is_not_dialled(self):
        open_connection(self.node)
        self.dialer.start()
        self.assertEqual((self.attempts.made, self.dialer.state), ([], OPEN))

    def test_losing_the_election_to_the_peers_own_connection(self):
        self.dialer.start()
        open_connection(self.node)          # its CER arrives while we dial
        self.fail_attempt("CEA with Result-Code 4003")
        self.assertEqual(self.dialer.state, OPEN)
        self.clock.advance(60)
        self.assertEqual(len(self.attempts.made), 1)

    def test_a_peer_answering_under_another_name_is_dropped(self):
        logged = warnings(self)
        self.dialer.start()
        impostor = FakePeer("other.test.realm")
        self.attempts.made[0].callback(impostor)
        self.assertTrue(impostor.disconnected)
        self.assertEqual(self.dialer.state, WAITING)
        self.assertIn("it answered as other.test.realm", logged()[0])

    def test_a_request_cuts_the_wait_short(self):
        self.dialer.start()
        self.fail_attempt()
        self.assertEqual(len(self.attempts.made), 1)
        waiting = self.dialer.when_open(5)
        self.assertEqual((len(self.attempts.made), self.dialer.state), (2, CONNECTING))
        peer = FakePeer()
        self.attempts.made[-1].callback(peer)
        self.assertIs(self.successResultOf(waiting), peer)

    def test_a_request_waits_at_most_its_timeout(self):
        self.dialer.start()
        waiting = self.dialer.when_open(5)
        self.fail_attempt("no route to host")
        self.clock.advance(5)
        failure = self.failureResultOf(waiting, PeerNotConnected)
        self.assertIn("did not connect within 5 s (no route to host)", str(failure.value))

    def test_stop_gives_up_attempt_timers_and_waiters(self):
        self.dialer.start()
        attempt = self.attempts.made[0]
        waiting = self.dialer.when_open(5)
        self.node.dialers.stop()
        self.assertEqual(self.dialer.state, STOPPED)
        self.assertTrue(attempt.called)     # cancelled
        self.failureResultOf(waiting, PeerNotConnected)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.dialer.lost()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class NodeRequestTests(unittest.TestCase):
    """node.send_request to a peer of connect_peers that is not connected."""

    def setUp(self):
        self.clock = task.Clock()
        self.node = make_node(self.clock)
        self.attempts = Attempts()
        self.node.dialers.add(PeerDialer(self.node, PEER_HOST, self.attempts, self.clock,
                                         1.0, 30.0, MiddleRandom()))
        self.node.dialers.start()

    def test_request_goes_out_once_the_peer_is_open(self):
        request = codec.Message.request(APP_S6A, 317).add("Session-Id", "hss;1")
        answered = self.node.send_request(PEER_HOST.upper(), request)
        self.assertNoResult(answered)
        connection, transport = connect(self.node)
        connection.dataReceived(cer().encode())
        cea, sent = read_messages(transport)
        self.assertEqual(cea.get("Result-Code"), 2001)
        self.assertEqual((sent.command_code, sent.get("Session-Id")), (317, "hss;1"))

    def test_request_to_an_unconfigured_peer_fails_at_once(self):
        from pyhss.node import UnknownPeer
        request = codec.Message.request(APP_S6A, 317).add("Session-Id", "hss;2")
        self.failureResultOf(self.node.send_request("nobody.test.realm", request), UnknownPeer)

    def test_connection_lost_redials(self):
        self.attempts.made[0].errback(ConnectionRefusedError())
        connection, transport = open_connection(self.node)
        self.assertEqual(self.node.dialers[PEER_HOST].state, OPEN)
        self.clock.advance(60)
        self.assertEqual(len(self.attempts.made), 1)
        connection.connectionLost(None)
        self.clock.advance(1)
        self.assertEqual(len(self.attempts.made), 2)
