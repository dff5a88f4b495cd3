"""
pyhss Diameter nodes listening on 127.0.0.1 inside the test process, for
the interoperability tests (freeDiameter, tshark).  Running in-process keeps
them deterministic: timers are set per node (a 1 s Tw, say) and handlers can
be registered for error paths.
"""

from twisted.internet import defer, protocol, reactor

from pyhss.node import DiameterNode, Timers
from pyhss.protocols.dictionary import APP_S6A, VENDOR_3GPP
from pyhss.protocols.peer import DiameterProtocol


class _NodeFactory(protocol.ServerFactory):

    def __init__(self, node):
        self.node = node

    def buildProtocol(self, address):
        connection = DiameterProtocol(self.node)
        connection.factory = self
        return connection


class RunningNode(object):
    """A L{DiameterNode} with a TCP listener on 127.0.0.1:C{port}."""

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
               watchdog_timeout=5.0, handlers=None, clock=reactor):
    """
    Start a node serving S6a (C{handlers}: command code -> handler) on a
    free 127.0.0.1 port; it is stopped (DPR to its peers) at test cleanup.

    @return: a Deferred firing with a L{RunningNode}.
    """
    node = DiameterNode(
        origin_host, origin_realm, clock,
        timers=Timers(watchdog=watchdog, watchdog_timeout=watchdog_timeout,
                      cer_timeout=5.0, dpa_timeout=2.0, request_timeout=5.0))
    node.register_application(APP_S6A, VENDOR_3GPP, handlers or {})
    listener = reactor.listenTCP(0, _NodeFactory(node), interface="127.0.0.1")
    running = RunningNode(node, listener)
    testcase.addCleanup(running.stop)
    return defer.succeed(running)
