"""
The transport of one SCTP association: a pysctp one-to-one socket,
non-blocking, registered with the reactor as a reader and writer like
Twisted's TCP connection, so that stream protocols run on it unchanged.
Writing is L{pyhss.sctp.sending}, reading L{pyhss.sctp.receiving}; this
module starts and ends the association.

Closing: C{loseConnection} sends what is queued and then closes the
socket, which makes the kernel shut the association down gracefully
(SHUTDOWN, after the data is acknowledged); C{abortConnection} drops the
queue and closes with SO_LINGER 0, which sends ABORT.
"""

import collections
import errno
import socket
import struct

from twisted.internet import abstract, error
from twisted.logger import Logger
from twisted.python import failure

from pyhss.sctp import ISCTPMessageReceiver, mmsg
from pyhss.sctp.address import SCTPAddress
from pyhss.sctp.errors import AssociationLost
from pyhss.sctp.options import negotiated_streams
from pyhss.sctp.receiving import Receiving
from pyhss.sctp.sending import Sending

# Logged under one namespace however reached (a Logger as a class
# attribute takes its class's name).
log = Logger(namespace="pyhss.sctp")

_LOST = {
    errno.ECONNRESET: "the peer aborted the association",
    errno.ETIMEDOUT: "the association timed out (the peer stopped answering)",
    errno.EPIPE: "the association is shut down",
    errno.ENOTCONN: "the association is gone",
}


class SCTPConnection(Sending, Receiving, abstract.FileDescriptor):
    """
    One association.  Built around a connected pysctp socket; C{start}
    hands it to its protocol.

    @ivar outbound_streams: streams we may send on, as negotiated.
    @ivar inbound_streams: streams the peer may send on.
    @ivar received_stream, received_ppid: of the last message read.
    @ivar queued_bytes: bytes of messages not yet handed to the kernel.
    """

    socket = None

    def __init__(self, options, reactor=None):
        abstract.FileDescriptor.__init__(self, reactor)
        self.options = options
        self.sctp_socket = None
        self.protocol = None
        self.outbound_streams = self.inbound_streams = 0
        self.received_stream = self.received_ppid = None
        self.queued_bytes = 0
        self._queue = collections.deque()   # (data, (ancillary item, its bytes))
        self._infos = {}            # (stream, ppid) -> ancillary item and its bytes
        self._batch_fd = None
        self._choose = None         # the stream policy's chooser
        self._receiver = None       # the protocol, when it takes whole messages
        self._partial = []          # parts of a message for the receiver
        self._partial_size = 0
        self._notification_parts = []
        self._reading = False
        self._in_read = False       # a read is delivering: its answers are sent after it
        self._aborting = False
        self._host = self._peer = None

    # --- start --------------------------------------------------------------------

    def attach(self, sctp_socket):
        """Use C{sctp_socket} (a pysctp socket), non-blocking from now."""
        self.sctp_socket = sctp_socket
        self.socket = sctp_socket.sock()
        self.socket.setblocking(False)
        self.fileno = self.socket.fileno
        # Batched system calls on a real socket (not on a test's stand-in).
        self._batch_fd = self.socket.fileno() if mmsg.AVAILABLE and isinstance(
            self.socket, socket.socket) else None

    def start(self, protocol):
        """The association is up: learn its streams and addresses, connect
        C{protocol} and start reading."""
        self.inbound_streams, self.outbound_streams = negotiated_streams(self.sctp_socket)
        self._choose_streams()
        self._host = SCTPAddress.read(self.socket.getsockname, self.sctp_socket.getladdrs)
        self._peer = SCTPAddress.read(self.socket.getpeername, self.sctp_socket.getpaddrs)
        self.protocol = protocol
        self._receiver = protocol if ISCTPMessageReceiver.providedBy(protocol) else None
        self.connected = 1
        self.startReading()
        protocol.makeConnection(self)

    def _choose_streams(self):
        policy = self.options.stream_policy
        self._choose = policy(self.outbound_streams) if policy is not None else None

    def streams_changed(self, inbound, outbound):
        """The association restarted with these streams."""
        self.inbound_streams, self.outbound_streams = inbound, outbound
        self._choose_streams()

    def refresh_peer(self):
        """Read the peer's addresses again (one changed)."""
        if self.socket is not None:
            try:
                self._peer = SCTPAddress.read(self.socket.getpeername, self.sctp_socket.getpaddrs)
            except OSError:
                pass        # going away; the read that follows says so

    def getHost(self):
        return self._host

    def getPeer(self):
        return self._peer

    def logPrefix(self):
        return self._getLogPrefix(self.protocol) if self.protocol is not None else "SCTPConnection"

    def __repr__(self):
        peer = self._peer
        return "<%s %s>" % (type(self).__name__, "%s:%s" % (peer.host, peer.port) if peer else "unconnected")

    # --- closing -----------------------------------------------------------------------

    @staticmethod
    def _lost(e):
        return AssociationLost(_LOST.get(e.errno) or e.strerror or str(e))

    def abortConnection(self):
        """Drop what is queued and send ABORT."""
        if self.disconnected or self._aborting:
            return
        self._aborting = True
        self.stopReading()
        self.stopWriting()
        self.doRead = self.doWrite = lambda *args: None
        self.reactor.callLater(0, self.connectionLost, failure.Failure(error.ConnectionAborted()))

    def connectionLost(self, reason):
        if self.socket is None:
            return
        abstract.FileDescriptor.connectionLost(self, reason)
        self._close_socket(orderly=not reason.check(error.ConnectionAborted))
        self._queue.clear()
        self.queued_bytes = 0
        self.drop_partial()
        protocol, self.protocol = self.protocol, None
        if protocol is not None:
            protocol.connectionLost(reason)

    def _close_socket(self, orderly):
        sock, self.socket = self.socket, None
        self.fileno = lambda: -1
        try:
            if not orderly:
                # SO_LINGER 0: close sends ABORT instead of SHUTDOWN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()

    def _warn(self, format, **fields):
        peer = self._peer
        log.warn("SCTP association with {remote}: " + format,
                 remote="?" if peer is None else "%s:%s" % (peer.host, peer.port), **fields)
