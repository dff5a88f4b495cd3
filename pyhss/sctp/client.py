"""
Outgoing SCTP associations: L{SCTPConnector} (Twisted's L{IConnector},
with its timeout and factory calls) and the transport it makes,
L{SCTPClient}: a non-blocking connectx to one or several peer addresses
(the peer's multi-homing), from one or several local ones (ours: bindx).
Names are resolved with the reactor's resolver first.
"""

import socket
from os import strerror

from twisted.internet import base, defer, error
from twisted.python import failure

from pyhss.sctp.address import SCTPAddress
from pyhss.sctp.connection import SCTPConnection, log
from pyhss.sctp.options import SctpOptions
from pyhss.sctp.sockets import bind_all, family_of, for_family, is_address, new_socket


class SCTPClient(SCTPConnection):
    """The transport of an association we start; it tells its connector
    how the attempt went."""

    def __init__(self, hosts, port, local_addresses, options, connector, reactor):
        SCTPConnection.__init__(self, options, reactor)
        self.hosts = hosts
        self.port = port
        self.local_addresses = local_addresses
        self.connector = connector
        # Like Twisted's TCP client: the attempt starts on the next turn of
        # the reactor, after the connector has set its timeout.
        reactor.callLater(0, self._resolve)

    def _resolve(self):
        if self.connector is None:
            return
        resolved = [defer.succeed(host) if is_address(host) else self.reactor.resolve(host)
                    for host in self.hosts]
        d = defer.gatherResults(resolved, consumeErrors=True)
        d.addCallbacks(self._connect, self._not_resolved)
        d.addErrback(self._broken)

    def _not_resolved(self, reason):
        if reason.check(defer.FirstError):
            reason = reason.value.subFailure
        self.failIfNotConnected(error.DNSLookupError(reason.getErrorMessage()))

    def _broken(self, reason):
        log.failure("SCTP connection to {hosts} failed", reason, hosts=self.hosts)
        self.failIfNotConnected(error.ConnectError(string=reason.getErrorMessage()))

    def _connect(self, addresses):
        if self.connector is None:
            return          # given up already (timeout, stopConnecting)
        try:
            family = family_of(list(addresses) + list(self.local_addresses))
            sock = new_socket(family, self.options)
        except OSError as e:
            self.failIfNotConnected(error.ConnectError(string=e.strerror or str(e)))
            return
        self.attach(sock)
        try:
            if self.local_addresses:
                bind_all(sock, list(self.local_addresses), 0)
        except OSError as e:
            self.failIfNotConnected(error.ConnectBindError(e.errno, e.strerror))
            return
        try:
            sock.connectx([(for_family(address, family), self.port) for address in addresses])
        except BlockingIOError:
            pass            # EINPROGRESS: writable once it is decided
        except OSError as e:
            self.failIfNotConnected(error.getConnectError((e.errno, e.strerror)))
            return
        self.doWrite = self.doRead = self._connect_done
        self.startWriting()

    def _connect_done(self):
        if self.connector is None:
            return None
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.failIfNotConnected(error.getConnectError((code, strerror(code))))
            return None
        del self.doWrite, self.doRead
        self.stopReading()
        self.stopWriting()
        protocol = self.connector.buildProtocol(
            SCTPAddress.read(self.socket.getpeername, self.sctp_socket.getpaddrs))
        if protocol is None:
            self.failIfNotConnected(error.ConnectError(string="the factory built no protocol"))
            return None
        self.start(protocol)
        self.connector.connected(protocol)
        return None

    def failIfNotConnected(self, reason):
        """The attempt failed (or was given up): tell the connector, once."""
        if self.connected or self.disconnected or self.connector is None:
            return
        connector, self.connector = self.connector, None
        if self.socket is not None:
            self.stopReading()
            self.stopWriting()
            self._close_socket(orderly=False)
        connector.connectionFailed(failure.Failure(reason))

    def connectionLost(self, reason):
        if not self.connected:
            # The reactor saw the socket fail before it was connected (an
            # association refused with ABORT shows as a hang-up alone).
            code = 0
            if self.socket is not None:
                code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self.failIfNotConnected(error.getConnectError((code, strerror(code))) if code
                                    else error.ConnectError(string=reason.getErrorMessage()))
            return
        connector = self.connector
        SCTPConnection.connectionLost(self, reason)
        if connector is not None:
            self.connector = None
            connector.connectionLost(reason)


class SCTPConnector(base.BaseConnector):
    """
    An L{IConnector} for SCTP.  C{connected}, called with the protocol once
    it is connected, tells an endpoint when to fire.
    """

    def __init__(self, hosts, port, factory, timeout=30, local_addresses=(), options=None,
                 reactor=None, connected=None):
        if reactor is None:
            from twisted.internet import reactor
        if isinstance(hosts, str):
            hosts = (hosts,)
        if not hosts:
            raise ValueError("an SCTP connection needs at least one peer address")
        base.BaseConnector.__init__(self, factory, timeout, reactor)
        self.hosts = tuple(hosts)
        self.port = port
        self.local_addresses = tuple(local_addresses)
        self.options = options if options is not None else SctpOptions()
        self._connected = connected

    def _makeTransport(self):
        return SCTPClient(self.hosts, self.port, self.local_addresses, self.options, self,
                          self.reactor)

    def connected(self, protocol):
        if self._connected is not None:
            self._connected(protocol)

    def getDestination(self):
        return SCTPAddress(self.hosts[0], self.port, self.hosts)


def connect_sctp(reactor, hosts, port, factory, timeout=30, local_addresses=(), options=None):
    """
    Start an association with C{hosts} (one address, or several of one
    multi-homed peer) on C{port}, from C{local_addresses} (none: the
    kernel's choice).

    @return: the L{SCTPConnector}.
    """
    connector = SCTPConnector(hosts, port, factory, timeout, local_addresses, options, reactor)
    connector.connect()
    return connector
