"""
pyhss Diameter nodes listening on 127.0.0.1 inside the test process, for
the interoperability tests (freeDiameter, tshark).  Running in-process keeps
them deterministic: timers are set per node (a 1 s Tw, say) and handlers can
be registered for error paths.
"""

from twisted.internet import defer, protocol, reactor

from pyhss.node import DiameterNode, Timers
from pyhss.protocols.dictionary import APP_S6A, VENDOR_3GPP
from pyhss.protocols.peer import CLOSED, DiameterProtocol

# At most this long (seconds) a connection's first bytes wait for hold_cer.
HOLD_LIMIT = 4.0


class _HeldProtocol(DiameterProtocol):
    """
    A L{DiameterProtocol} that keeps what the peer sends until C{hold}
    (a Deferred) fires, or for L{HOLD_LIMIT} seconds at most, and then
    handles it as it came: the CER is answered that much later.  Only the
    test harness differs; the node and its protocol are the real ones.
    """

    def __init__(self, node, hold):
        DiameterProtocol.__init__(self, node)
        self._hold = hold
        self._held = []
        self._hold_limit = None

    def connectionMade(self):
        DiameterProtocol.connectionMade(self)
        self._hold_limit = reactor.callLater(HOLD_LIMIT, self._hold.cancel)
        self._hold.addErrback(lambda failure: failure.trap(defer.CancelledError))
        self._hold.addCallback(self._release)

    def dataReceived(self, data):
        if self._held is not None:
            self._held.append(data)
        else:
            DiameterProtocol.dataReceived(self, data)

    def _release(self, _):
        if self._hold_limit is not None and self._hold_limit.active():
            self._hold_limit.cancel()
        held, self._held = self._held, None
        if held and self.state != CLOSED:
            DiameterProtocol.dataReceived(self, b"".join(held))

    def connectionLost(self, reason=protocol.connectionDone):
        self._held = None
        if self._hold_limit is not None and self._hold_limit.active():
            self._hold_limit.cancel()
        self._hold.cancel()
        DiameterProtocol.connectionLost(self, reason)


class _NodeFactory(protocol.ServerFactory):

    def __init__(self, node, hold_cer=None):
        self.node = node
        self.hold_cer = hold_cer
        self.accepted = 0

    def buildProtocol(self, address):
        self.accepted += 1
        if self.hold_cer is None:
            connection = DiameterProtocol(self.node)
        else:
            connection = _HeldProtocol(self.node, self.hold_cer(self.accepted))
        connection.factory = self
        return connection


class RunningNode(object):
    """A L{DiameterNode} with a TCP or SCTP listener on 127.0.0.1:C{port}."""

    def __init__(self, node, listener):
        self.node = node
        self.listener = listener
        self.port = listener.getHost().port
        self.origin_host = node.origin_host
        self._stopped = None

    def peer(self, origin_host):
        return self.node.peer(origin_host)

    def counters(self, origin_host):
        """The connection counters of the open peer C{origin_host}."""
        peer = self.node.peer(origin_host)
        if peer is None:
            return {}
        return dict(peer.counters)

    def stop(self):
        """Graceful stop (DPR to every peer), then stop listening."""
        if self._stopped is None:
            self._stopped = self.node.stop()
            self._stopped.addCallback(
                lambda _: self.listener.stopListening())
        return self._stopped


def node_peer_state(running, origin_host):
    """The state of C{origin_host}'s connection to us, or None."""
    peer = running.peer(origin_host)
    return None if peer is None else peer.state


def start_node(testcase, origin_host, origin_realm, watchdog=30.0,
               watchdog_timeout=5.0, handlers=None, clock=reactor,
               hold_cer=None, transport="tcp"):
    """
    Start a node serving S6a (C{handlers}: command code -> handler) on a
    free 127.0.0.1 port, over TCP or (C{transport="sctp"}, where the kernel
    has it) SCTP; it is stopped (DPR to its peers) at test cleanup.

    @param hold_cer: C{None}, or a callable C{(n) -> Deferred}, n counting
        the connections accepted from 1: what the n-th connection receives
        is handed to the node once that Deferred fires (at most
        L{HOLD_LIMIT} s later), for a peer that must not get its CEA too
        soon (L{tests.interop_helpers.FreeDiameterProcess.cea_gate}).

    @return: a Deferred firing with a L{RunningNode}.
    """
    node = DiameterNode(
        origin_host, origin_realm, clock,
        timers=Timers(watchdog=watchdog, watchdog_timeout=watchdog_timeout,
                      cer_timeout=5.0, dpa_timeout=2.0, request_timeout=5.0))
    node.register_application(APP_S6A, VENDOR_3GPP, handlers or {})
    if transport == "sctp":
        from pyhss.protocols.transport import diameter_sctp_options
        from pyhss.sctp.port import listen_sctp
        listener = listen_sctp(reactor, 0, _NodeFactory(node, hold_cer), ("127.0.0.1",),
                               diameter_sctp_options())
    else:
        listener = reactor.listenTCP(0, _NodeFactory(node, hold_cer),
                                     interface="127.0.0.1")
    running = RunningNode(node, listener)
    testcase.addCleanup(running.stop)
    return defer.succeed(running)
