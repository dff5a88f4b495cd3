"""
Transports for Diameter connections: factories, listeners and dialling.

The node does not care how bytes travel; a transport only has to deliver a
stream to a L{DiameterProtocol}.  Listeners are chosen by name from
L{LISTENERS} (the config's C{hss.transports}): C{tcp} here; C{sctp} is the
seam where the SCTP listener plugs in.  Until it exists, asking for it fails
start-up with a message that says why (no kernel support, no pysctp, or not
implemented yet) instead of silently serving TCP only.
"""

from twisted.internet import defer, protocol
from twisted.logger import Logger

from pyhss import sctp
from pyhss.protocols.peer import (
    DiameterProtocol, ROLE_INITIATOR, ROLE_RESPONDER)


class TransportUnavailable(Exception):
    """A configured transport cannot be used on this system."""


class DiameterServerFactory(protocol.Factory):
    """Accepted connections become responder-role L{DiameterProtocol}s of
    C{node}; beyond the node's max_connections new ones are refused."""

    log = Logger(namespace="pyhss.transport")
    noisy = False

    def __init__(self, node):
        self.node = node

    def buildProtocol(self, addr):
        node = self.node
        host = getattr(addr, "host", None)
        accept, evict = node.admission.admit(host)
        summary = node.log_summary(self.log)
        for unopened in evict:
            summary.info(("evicted", unopened.remote_host),
                         "closing {remote}, not open after {t:.1f}s, to admit"
                         " a new connection from {host}",
                         remote=unopened.remote, host=host,
                         t=node.clock.seconds() - unopened.connected_at)
            unopened.abort()
        if not accept:
            summary.warn(("refused",),
                         "refusing connection from {host}: {n} peers open"
                         " (limits.max_connections)", host=host,
                         n=len(node.connections))
            return None
        connection = DiameterProtocol(node, ROLE_RESPONDER)
        connection.factory = self
        return connection


class DiameterClientFactory(protocol.ClientFactory):
    """
    Dials one peer as the initiator; C{self.capabilities} fires with the
    L{pyhss.node.Peer} once the CEA is accepted, or fails
    (L{pyhss.protocols.peer.CapabilitiesExchangeFailed}, connection errors).
    """

    noisy = False

    def __init__(self, node):
        self.node = node
        self.capabilities = defer.Deferred()
        self.connection = None

    def buildProtocol(self, addr):
        connection = DiameterProtocol(self.node, ROLE_INITIATOR)
        connection.factory = self
        connection.capabilities = self.capabilities
        self.connection = connection
        return connection

    def clientConnectionFailed(self, connector, reason):
        if not self.capabilities.called:
            self.capabilities.errback(reason)


def connect_peer(node, host, port, reactor=None, timeout=30):
    """
    Connect C{node} to a Diameter peer over TCP and run the capabilities
    exchange as initiator.

    @return: L{Deferred} firing with the open L{pyhss.node.Peer}.
    """
    if reactor is None:
        from twisted.internet import reactor
    factory = DiameterClientFactory(node)
    reactor.connectTCP(host, port, factory, timeout=timeout)
    return factory.capabilities


def listen_tcp(node, address, port, reactor):
    """One TCP listening port for C{node} on C{address}."""
    return reactor.listenTCP(port, DiameterServerFactory(node),
                             interface=address)


def listen_sctp(node, address, port, reactor):
    raise TransportUnavailable(
        "cannot listen on SCTP %s:%d: %s" % (address, port, unavailable("sctp")))


LISTENERS = {
    "tcp": listen_tcp,
    "sctp": listen_sctp,
}


def unavailable(name):
    """Why transport C{name} cannot serve here, or C{None}: the one place a
    transport is refused, for start-up checks and listeners alike."""
    if name not in LISTENERS:
        return "unknown transport %r (expected one of %s)" % (
            name, ", ".join(sorted(LISTENERS)))
    if name == "sctp":
        return sctp.unavailable_reason() or (
            "the SCTP listener is not part of this version of pyhss;"
            " use transports: [tcp]")
    return None


def listen(node, addresses, port, transports, reactor):
    """
    Start one listener per (transport, address).  If one fails, those
    already started are stopped and the error is raised.

    @return: list of L{IListeningPort}.
    """
    ports = []
    try:
        for transport in transports:
            listener = LISTENERS.get(transport)
            if listener is None:
                raise TransportUnavailable(unavailable(transport))
            for address in addresses:
                ports.append(listener(node, address, port, reactor))
    except BaseException:
        for started in ports:
            started.stopListening()
        raise
    return ports
