"""
Transports for Diameter connections: factories, listeners and dialling,
over TCP and SCTP.

The node does not care how bytes travel; a transport only has to deliver
them to a L{DiameterProtocol}.  Listeners are chosen by name from
L{LISTENERS} (the config's C{hss.transports}); each is given every bind
address: TCP listens once per address, SCTP once on all of them (one
multi-homed endpoint, bindx).  Where the kernel has no SCTP, asking for it
fails start-up with a line that says why (L{unavailable}).

Diameter over SCTP (RFC 6733 section 2.1.1) uses the SCTP transport of
L{pyhss.sctp} unchanged: every Diameter message is one SCTP message with
PPID 46 (L{DIAMETER_PPID}); base protocol messages (CER/CEA, DWR/DWA,
DPR/DPA) go on stream 0 and the others are spread round-robin over the
other outbound streams (L{diameter_streams}), so that a slow or lost
message holds up only its own stream.  Incoming messages are read from
any stream; the framer still accepts a peer that splits or packs them.
"""

import itertools

from twisted.internet import defer, protocol
from twisted.logger import Logger

from pyhss import sctp
from pyhss.sctp import SctpOptions
from pyhss.protocols.peer import (
    DiameterProtocol, ROLE_INITIATOR, ROLE_RESPONDER)


# RFC 6733 section 2.1: the Payload Protocol Identifier of Diameter.
DIAMETER_PPID = 46
_BASE_APPLICATION = b"\0\0\0\0"


class TransportUnavailable(Exception):
    """A configured transport cannot be used on this system."""


def diameter_streams(outbound):
    """
    The stream policy of Diameter over SCTP, for an association with
    C{outbound} streams: base protocol messages (application 0) on stream
    0, every other message on the next of streams 1 to C{outbound - 1} in
    turn (everything on stream 0 when there is no other).
    """
    if outbound <= 1:
        return lambda data: 0
    turn = itertools.cycle(range(1, outbound)).__next__

    def choose(data):
        return 0 if data[8:12] == _BASE_APPLICATION else turn()
    return choose


def diameter_sctp_options(max_message_size=65536, **settings):
    """L{SctpOptions} for Diameter: PPID 46, L{diameter_streams}, and
    C{settings} (streams, RTO, heartbeat, retransmissions)."""
    return SctpOptions(ppid=DIAMETER_PPID, stream_policy=diameter_streams,
                       max_message_size=max_message_size, **settings)


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
        # Cancelling gives up: the attempt stops, the connection is aborted.
        self.capabilities = defer.Deferred(self._give_up)
        self.connection = None
        self.connector = None

    def _give_up(self, capabilities):
        if self.connection is not None:
            self.connection.abort()
        elif self.connector is not None and self.connector.state == "connecting":
            self.connector.stopConnecting()

    def buildProtocol(self, addr):
        connection = DiameterProtocol(self.node, ROLE_INITIATOR)
        connection.factory = self
        connection.capabilities = self.capabilities
        self.connection = connection
        return connection

    def clientConnectionFailed(self, connector, reason):
        if not self.capabilities.called:
            self.capabilities.errback(reason)


def connect_peer(node, host, port, reactor=None, timeout=30, transport="tcp",
                 local_addresses=(), sctp_options=None):
    """
    Connect C{node} to a Diameter peer and run the capabilities exchange as
    initiator.

    @param host: the peer's address; over SCTP a list of them may name
        every address of a multi-homed peer (over TCP the first is used).
    @param transport: C{"tcp"} or C{"sctp"}.
    @param local_addresses: ours to connect from (SCTP binds all of them,
        TCP the first); none: the kernel's choice.
    @return: L{Deferred} firing with the open L{pyhss.node.Peer}.
    """
    if reactor is None:
        from twisted.internet import reactor
    hosts = (host,) if isinstance(host, str) else tuple(host)
    factory = DiameterClientFactory(node)
    if transport == "sctp":
        reason = unavailable("sctp")
        if reason is not None:
            return defer.fail(TransportUnavailable(
                "cannot connect over SCTP to %s: %s" % (",".join(hosts), reason)))
        from pyhss.sctp.client import connect_sctp
        factory.connector = connect_sctp(reactor, hosts, port, factory, timeout, local_addresses,
                                         sctp_options or diameter_sctp_options())
    elif transport == "tcp":
        bind = (local_addresses[0], 0) if local_addresses else None
        factory.connector = reactor.connectTCP(hosts[0], port, factory, timeout=timeout,
                                               bindAddress=bind)
    else:
        return defer.fail(TransportUnavailable(unavailable(transport)))
    return factory.capabilities


def peer_dialling(node, addresses, port, transport="tcp", local_addresses=(),
                  sctp_options=None, timeout=30, reactor=None):
    """
    A function that starts a connection each time it is called and returns
    L{connect_peer}'s Deferred (for L{pyhss.node.PeerDialer}): over SCTP to
    every one of C{addresses} at once (one multi-homed peer), over TCP to
    the next of them in turn.
    """
    turn = itertools.cycle(addresses).__next__

    def connect():
        hosts = addresses if transport == "sctp" else turn()
        return connect_peer(node, hosts, port, reactor, timeout, transport,
                            local_addresses, sctp_options)
    return connect


def listen_tcp(node, addresses, port, reactor, sctp_options=None):
    """One TCP listening port for C{node} on each of C{addresses}."""
    ports = []
    try:
        for address in addresses:
            ports.append(reactor.listenTCP(port, DiameterServerFactory(node),
                                           interface=address))
    except BaseException:
        for started in ports:
            started.stopListening()
        raise
    return ports


def listen_sctp(node, addresses, port, reactor, sctp_options=None):
    """One SCTP listening port for C{node} bound to all of C{addresses}."""
    reason = unavailable("sctp")
    if reason is not None:
        raise TransportUnavailable("cannot listen on SCTP %s port %d: %s" % (
            ",".join(addresses), port, reason))
    from pyhss.sctp.port import listen_sctp as listen
    return [listen(reactor, port, DiameterServerFactory(node), tuple(addresses),
                   sctp_options or diameter_sctp_options())]


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
        return sctp.unavailable_reason()
    return None


def listen(node, addresses, port, transports, reactor, sctp_options=None):
    """
    Start the listeners of every transport on C{addresses}.  If one fails,
    those already started are stopped and the error is raised.

    @return: list of L{IListeningPort}.
    """
    ports = []
    try:
        for transport in transports:
            listener = LISTENERS.get(transport)
            if listener is None:
                raise TransportUnavailable(unavailable(transport))
            ports.extend(listener(node, addresses, port, reactor, sctp_options))
    except BaseException:
        for started in ports:
            started.stopListening()
        raise
    return ports
