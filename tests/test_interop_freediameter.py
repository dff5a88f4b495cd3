"""
Interoperability with a real Diameter peer: Debian's freeDiameterd connects
to pyhss nodes on 127.0.0.1 over TCP (TLS off), completes the capabilities
exchange, and keeps the connection alive through DWR/DWA rounds in both
directions; on shutdown our DPR is answered.

freeDiameterd without dictionary extensions serves no application, but its
Relay function (on by default) makes its CER announce Auth-Application-Id
0xffffffff, which RFC 6733 section 5.3 counts as common with anything.

Two nodes run in this process at once so that the test lasts one
freeDiameter watchdog period, not two:
 - "fast": our Tw is 1 s, so we probe freeDiameter and it answers DWAs;
 - "slow": our Tw is far above freeDiameter's (6 s, its minimum, +-2 s of
   jitter), so freeDiameter probes us and we answer.

Each node answers freeDiameterd's CER only once freeDiameterd has logged
its move to STATE_WAITCEA (FreeDiameterProcess.cea_gate): freeDiameter
1.2.1 can lose a CEA that comes sooner, a race of its own that a loaded
machine makes likely enough to fail a test run.
"""

import os

from twisted.internet import defer, reactor
from twisted.trial import unittest

from tests import interop_helpers as helpers
from tests.interop_nodes import start_node, node_peer_state

SKIP_NO_FREEDIAMETER = (
    None if helpers.FREEDIAMETERD else
    "freeDiameterd is not installed (Debian package freediameter; the test"
    " command installs it)")

REALM = "interop.test"
FD_IDENTITY = "fd-client.interop.test"
FAST_HOST = "hss-fast.interop.test"
SLOW_HOST = "hss-slow.interop.test"

OPEN_TRANSITION = "-> 'STATE_OPEN'"
# Upper bounds for each wait; the whole test stays under ~30 s.
OPEN_TIMEOUT = 8.0
ROUNDS_TIMEOUT = 20.0


def _sent(peer, command):
    """freeDiameter -dd log line fragments of a message it sent to peer."""
    return ("SENT to '%s'" % (peer,), "'%s'" % (command,))


class FreeDiameterInteropTests(unittest.TestCase):
    """Over TCP; tests/test_freediameter_sctp_stack.py runs the same over
    SCTP (C{transport})."""

    skip = SKIP_NO_FREEDIAMETER
    timeout = 45
    transport = "tcp"

    @defer.inlineCallbacks
    def setUp(self):
        self.fast = yield start_node(
            self, origin_host=FAST_HOST, origin_realm=REALM, watchdog=1.0,
            hold_cer=self._cea_gate(FAST_HOST), transport=self.transport)
        self.slow = yield start_node(
            self, origin_host=SLOW_HOST, origin_realm=REALM, watchdog=120.0,
            hold_cer=self._cea_gate(SLOW_HOST), transport=self.transport)
        directory = self.mktemp()
        os.makedirs(directory)
        config = os.path.join(directory, "freeDiameter.conf")
        with open(config, "w") as handle:
            handle.write(helpers.freediameter_config(
                identity=FD_IDENTITY, realm=REALM, tw_timer=6, tc_timer=1,
                peers=[(FAST_HOST, "127.0.0.1", self.fast.port),
                       (SLOW_HOST, "127.0.0.1", self.slow.port)],
                transport=self.transport))
        self.freediameter = helpers.FreeDiameterProcess.spawn(reactor, config)
        self.addCleanup(self.freediameter.stop, reactor)

    def _cea_gate(self, host):
        """start_node's hold_cer for our node C{host}: its CEA goes out
        once freeDiameterd (started after the nodes) is ready for it."""
        return lambda index: self.freediameter.cea_gate(host)(index)

    def _explain(self):
        return "freeDiameterd output:\n" + self.freediameter.text()[-6000:]

    def _wait_for(self, predicate, timeout, description):
        return helpers.wait_or_fail(self, predicate, timeout, description, self._explain)

    @defer.inlineCallbacks
    def test_capabilities_exchange_and_watchdog_rounds(self):
        fd = self.freediameter
        # CER/CEA with both nodes: freeDiameter says OPEN, and so do we.
        for node in (self.fast, self.slow):
            yield self._wait_for(
                lambda: node_peer_state(node, FD_IDENTITY) == "open",
                OPEN_TIMEOUT, "%s to see %s open" % (
                    node.origin_host, FD_IDENTITY))
        yield self._wait_for(
            lambda: fd.count(OPEN_TRANSITION, FAST_HOST)
            and fd.count(OPEN_TRANSITION, SLOW_HOST),
            OPEN_TIMEOUT, "freeDiameterd to log STATE_OPEN for both nodes")

        # Several rounds each way, on live connections.
        yield self._wait_for(
            lambda: fd.count(*_sent(FAST_HOST, "Device-Watchdog-Answer")) >= 3,
            ROUNDS_TIMEOUT, "freeDiameterd to answer 3 of our DWRs")
        yield self._wait_for(
            lambda: fd.count(*_sent(SLOW_HOST, "Device-Watchdog-Request")) >= 2
            and self.slow.counters(FD_IDENTITY)["dwa_sent"] >= 2,
            ROUNDS_TIMEOUT, "2 DWRs from freeDiameterd, answered by us")

        fast = self.fast.counters(FD_IDENTITY)
        slow = self.slow.counters(FD_IDENTITY)
        self.assertGreaterEqual(fast["dwa_received"], 3, fast)
        self.assertGreaterEqual(slow["dwr_received"], 2, slow)
        # Each DWR we answered reached freeDiameter as a DWA it accepted:
        # its log shows a receive line per answer and the peer never left
        # STATE_OPEN.
        self.assertEqual(fd.count("'STATE_OPEN'\t->"), 0, self._explain())
        self.assertEqual(fd.count("ERROR"), 0, self._explain())
        for node in (self.fast, self.slow):
            self.assertEqual(node_peer_state(node, FD_IDENTITY), "open")
            self.assertEqual(node.peer(FD_IDENTITY).connection.transport_name, self.transport)

    @defer.inlineCallbacks
    def test_disconnect_peer_on_shutdown(self):
        fd = self.freediameter
        yield self._wait_for(
            lambda: fd.count(OPEN_TRANSITION, FAST_HOST),
            OPEN_TIMEOUT, "freeDiameterd to open the connection")
        # Our graceful stop sends DPR; freeDiameter answers DPA and closes.
        yield self.fast.stop()
        yield self._wait_for(
            lambda: fd.count(*_sent(FAST_HOST, "Disconnect-Peer-Answer")),
            OPEN_TIMEOUT, "freeDiameterd to answer our DPR")
        self.assertEqual(fd.count("ERROR"), 0, self._explain())


class FreeDiameterNoCommonApplicationTests(unittest.TestCase):
    """
    With its Relay function off, freeDiameterd announces no application:
    our CEA says 5010, and freeDiameter decodes that CEA (every AVP, the
    grouped Vendor-Specific-Application-Id included) and gives up.
    """

    skip = SKIP_NO_FREEDIAMETER
    timeout = 30

    @defer.inlineCallbacks
    def test_cea_no_common_application(self):
        node = yield start_node(
            self, origin_host=FAST_HOST, origin_realm=REALM,
            hold_cer=lambda index: fd.cea_gate(FAST_HOST)(index))
        directory = self.mktemp()
        os.makedirs(directory)
        config = os.path.join(directory, "freeDiameter.conf")
        with open(config, "w") as handle:
            handle.write(helpers.freediameter_config(
                identity=FD_IDENTITY, realm=REALM, relay=False,
                peers=[(FAST_HOST, "127.0.0.1", node.port)]))
        fd = helpers.FreeDiameterProcess.spawn(reactor, config)
        self.addCleanup(fd.stop, reactor)
        try:
            yield helpers.wait_until(
                lambda: fd.count("Connection to '%s' failed" % (FAST_HOST,)),
                OPEN_TIMEOUT, "freeDiameterd to reject our 5010 CEA")
        except helpers.ConditionTimeout as failure:
            self.fail("%s\n%s" % (failure, fd.text()[-6000:]))
        dump = "\n".join(fd.lines("Capabilities-Exchange-Answer(257)"))
        for decoded in ("DIAMETER_NO_COMMON_APPLICATION",
                        'Origin-Host(264)[-M]="%s"' % (FAST_HOST,),
                        "Vendor-Specific-Application-Id(260)",
                        "Auth-Application-Id(258)[-M]=16777251"):
            self.assertIn(decoded, dump, fd.text()[-6000:])
        self.assertEqual(fd.count(OPEN_TRANSITION), 0)
        self.assertIsNone(node_peer_state(node, FD_IDENTITY))
