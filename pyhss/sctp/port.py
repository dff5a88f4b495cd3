"""
An SCTP listening port (L{IListeningPort}), like Twisted's TCP port: a
pysctp one-to-one socket bound to one or several local addresses (a
multi-homed endpoint: bindx), registered with the reactor as a reader that
accepts associations and hands each to a protocol of its factory over an
L{SCTPConnection}.
"""

import errno

from twisted.internet import abstract, error, task
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python import failure
from zope.interface import implementer

from pyhss.sctp.address import SCTPAddress
from pyhss.sctp.connection import SCTPConnection
from pyhss.sctp.options import SctpOptions
from pyhss.sctp.sockets import bind_all, family_of, new_socket

# Logged under one namespace however reached (a Logger as a class
# attribute takes its class's name).
log = Logger(namespace="pyhss.sctp")

# accept() errors after which the port waits for the next readable event.
_ACCEPT_LATER = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EMFILE, errno.ENFILE,
                 errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED, errno.EPERM)


@implementer(IListeningPort)
class SCTPPort(abstract.FileDescriptor):
    """
    @ivar interfaces: the local addresses bound (several: multi-homed).
    @ivar options: the L{SctpOptions} of every association accepted.
    """

    socket = None
    accepts_per_read = 100

    def __init__(self, port, factory, interfaces=("127.0.0.1",), options=None,
                 backlog=128, reactor=None):
        abstract.FileDescriptor.__init__(self, reactor)
        if isinstance(interfaces, str):
            interfaces = (interfaces,)
        if not interfaces:
            raise ValueError("an SCTP port needs at least one local address")
        self.port = port
        self.factory = factory
        self.interfaces = tuple(interfaces)
        self.options = options if options is not None else SctpOptions()
        self.backlog = backlog
        self.family = family_of(self.interfaces)
        self.sctp_socket = None

    def __repr__(self):
        return "<SCTPPort %s:%s>" % (",".join(self.interfaces), self.port)

    def startListening(self):
        try:
            sock = new_socket(self.family, self.options)
        except OSError as e:
            raise error.CannotListenError(",".join(self.interfaces), self.port, e)
        try:
            bind_all(sock, self.interfaces, self.port)
            sock.listen(self.backlog)
        except OSError as e:
            sock.close()
            raise error.CannotListenError(",".join(self.interfaces), self.port, e)
        self.sctp_socket = sock
        self.socket = sock.sock()
        self.socket.setblocking(False)
        self.fileno = self.socket.fileno
        self.factory.doStart()
        self.connected = True
        self.startReading()

    def doRead(self):
        for _ in range(self.accepts_per_read):
            try:
                client, address = self.socket.accept()
            except OSError as e:
                if e.errno in _ACCEPT_LATER:
                    if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        log.warn("SCTP port {port}: cannot accept now: {why}",
                                      port=self.port, why=e.strerror)
                    return None
                raise
            connection = SCTPConnection(self.options, self.reactor)
            try:
                self._accepted(connection, client, address)
            except Exception:
                log.failure("SCTP port {port}: dropping the association from {host}",
                                 port=self.port, host=address[0])
                self._drop(connection, client)
        return None

    def _accepted(self, connection, client, address):
        import sctp     # pysctp
        host, port = address[0], address[1]
        if host.startswith("::ffff:"):
            host = host[7:]
        protocol = self.factory.buildProtocol(SCTPAddress(host, port, (host,)))
        if protocol is None:
            client.close()
            return
        connection.attach(sctp.sctpsocket_tcp(self.family, client))
        connection.start(protocol)

    def _drop(self, connection, client):
        if connection.socket is None:
            client.close()
            return
        try:
            connection.connectionLost(failure.Failure(error.ConnectionAborted()))
        except Exception:
            log.failure("SCTP port {port}: the protocol failed again as its association was dropped",
                        port=self.port)

    def getHost(self):
        return SCTPAddress.read(self.socket.getsockname, self.sctp_socket.getladdrs)

    def loseConnection(self, reason=None):
        """Stop accepting; fires once the socket is closed."""
        self.disconnecting = True
        self.stopReading()
        if self.connected:
            self.deferred = task.deferLater(
                self.reactor, 0, self.connectionLost,
                reason or failure.Failure(error.ConnectionDone()))
            return self.deferred
        return None

    stopListening = loseConnection

    def connectionLost(self, reason):
        abstract.FileDescriptor.connectionLost(self, reason)
        self.connected = False
        sock, self.socket = self.socket, None
        self.fileno = lambda: -1
        if sock is not None:
            sock.close()
        try:
            self.factory.doStop()
        finally:
            self.disconnecting = False


def listen_sctp(reactor, port, factory, interfaces=("127.0.0.1",), options=None, backlog=128):
    """
    Listen on SCTP C{port} at C{interfaces} (one or several local
    addresses).

    @return: the started L{SCTPPort}.
    @raise error.CannotListenError: the kernel refused.
    """
    listening = SCTPPort(port, factory, interfaces, options, backlog, reactor)
    listening.startListening()
    return listening
