"""
The transport of one SCTP association: a pysctp one-to-one socket,
non-blocking, registered with the reactor as a reader and writer like
Twisted's TCP connection, so that stream protocols run on it unchanged.

Writing: each C{write} (and each element of C{writeSequence}) is one SCTP
message, queued and sent by C{doWrite} with its stream and PPID as
ancillary data (L{pyhss.sctp.wire.send_info}); C{write_message} names
them.  A message without a stream goes where the options' stream policy
says (stream 0 without one).  The queue counts bytes: past C{bufferSize} a
registered streaming producer is paused, and resumed once the queue is
empty, as Twisted's transports do; a full kernel send buffer (EAGAIN)
just leaves the rest queued until the socket is writable again.

Reading: C{doRead} takes messages until the socket has no more, the
protocol stops reading (C{pauseProducing}) or C{bufferSize} bytes came in
this turn.  The kernel's notifications, interleaved with the data, are
parsed and logged (L{pyhss.sctp.events}); a malformed one is logged and
dropped.  A protocol providing L{ISCTPMessageReceiver} gets each whole
message, reassembled when it came in parts, up to the options'
C{max_message_size}; any other gets the bytes as they come, and
C{received_stream}/C{received_ppid} say where the last ones came from.

Closing: C{loseConnection} sends what is queued and then closes the
socket, which makes the kernel shut the association down gracefully
(SHUTDOWN, after the data is acknowledged); C{abortConnection} drops the
queue and closes with SO_LINGER 0, which sends ABORT.
"""

import collections
import errno
import socket
import struct

from twisted.internet import abstract, error, main
from twisted.logger import Logger
from twisted.python import failure

from pyhss.sctp import ISCTPMessageReceiver, events
from pyhss.sctp.address import SCTPAddress
from pyhss.sctp.errors import AssociationLost, MalformedNotification
from pyhss.sctp.options import negotiated_streams
from pyhss.sctp.wire import (
    ANCILLARY_SPACE, MSG_EOR, MSG_NOTIFICATION, parse_notification, received_info, send_info)

# Logged under one namespace however reached (a Logger as a class
# attribute takes its class's name).
log = Logger(namespace="pyhss.sctp")

# Bytes asked of one recvmsg: a larger message comes in parts.
READ_SIZE = 65536
# Errors of sendmsg after which the message can be tried again later.
_SEND_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.EINTR)
_LOST = {
    errno.ECONNRESET: "the peer aborted the association",
    errno.ETIMEDOUT: "the association timed out (the peer stopped answering)",
    errno.EPIPE: "the association is shut down",
    errno.ENOTCONN: "the association is gone",
}


class SCTPConnection(abstract.FileDescriptor):
    """
    One association.  Built around a connected pysctp socket; C{start}
    hands it to its protocol.

    @ivar outbound_streams: streams we may send on, as negotiated.
    @ivar inbound_streams: streams the peer may send on.
    @ivar received_stream, received_ppid: of the last message read.
    @ivar queued_bytes: bytes of messages not yet handed to the kernel.
    """

    SEND_LIMIT = 256 * 1024     # bytes sent per doWrite before the reactor gets a turn

    socket = None

    def __init__(self, options, reactor=None):
        abstract.FileDescriptor.__init__(self, reactor)
        self.options = options
        self.sctp_socket = None
        self.protocol = None
        self.outbound_streams = self.inbound_streams = 0
        self.received_stream = self.received_ppid = None
        self.queued_bytes = 0
        self._queue = collections.deque()
        self._infos = {}            # (stream, ppid) -> ancillary item for sendmsg
        self._choose = None         # the stream policy's chooser
        self._receiver = None       # the protocol, when it takes whole messages
        self._partial = []          # parts of a message for the receiver
        self._partial_size = 0
        self._notification_parts = []
        self._reading = False
        self._aborting = False
        self._host = self._peer = None

    # --- start --------------------------------------------------------------------

    def attach(self, sctp_socket):
        """Use C{sctp_socket} (a pysctp socket), non-blocking from now."""
        self.sctp_socket = sctp_socket
        self.socket = sctp_socket.sock()
        self.socket.setblocking(False)
        self.fileno = self.socket.fileno

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

    # --- writing -------------------------------------------------------------------

    def write(self, data):
        """One message, on the stream the policy picks and the default PPID."""
        self.write_message(data)

    def writeSequence(self, iovec):
        """Each element is one message."""
        for data in iovec:
            self.write_message(data)

    def write_message(self, data, stream=None, ppid=None):
        """
        Queue one message (bytes; an empty one is ignored, SCTP has none).

        @param stream: its stream, below C{outbound_streams}; C{None}: the
            stream policy's choice.
        @param ppid: its Payload Protocol Identifier; C{None}: the
            options' C{ppid}.
        """
        if not isinstance(data, bytes):
            raise TypeError("SCTP messages are bytes, not %s" % (type(data).__name__,))
        if not self.connected or not data:
            return
        if stream is None:
            stream = self._choose(data) if self._choose is not None else 0
        elif not 0 <= stream < self.outbound_streams:
            raise ValueError("stream %r: the association has %d outbound streams" % (
                stream, self.outbound_streams))
        if ppid is None:
            ppid = self.options.ppid
        info = self._infos.get((stream, ppid))
        if info is None:
            info = self._infos[stream, ppid] = send_info(stream, ppid)
        self._queue.append((data, info))
        self.queued_bytes += len(data)
        self._maybePauseProducer()
        self.startWriting()

    def _isSendBufferFull(self):
        return self.queued_bytes > self.bufferSize

    def _maybePauseProducer(self):
        # Once, not on every write past the mark as Twisted's transports do.
        if not self.producerPaused:
            abstract.FileDescriptor._maybePauseProducer(self)

    def doWrite(self):
        queue = self._queue
        sendmsg = self.socket.sendmsg
        sent = 0
        while queue:
            data, info = queue[0]
            try:
                sendmsg((data,), (info,))
            except OSError as e:
                if e.errno in _SEND_AGAIN:
                    return None
                if e.errno == errno.EMSGSIZE:
                    return AssociationLost(
                        "a message of %d bytes is larger than the socket can send" % (len(data),))
                return self._lost(e)
            queue.popleft()
            self.queued_bytes -= len(data)
            sent += len(data)
            if sent >= self.SEND_LIMIT and queue:
                return None
        self.stopWriting()
        if self.producer is not None and (not self.streamingProducer or self.producerPaused):
            self.producerPaused = False
            self.producer.resumeProducing()
        elif self.disconnecting:
            return self._postLoseConnection()
        return None

    # --- reading ----------------------------------------------------------------------

    def startReading(self):
        self._reading = True
        abstract.FileDescriptor.startReading(self)

    def stopReading(self):
        self._reading = False
        abstract.FileDescriptor.stopReading(self)

    def doRead(self):
        recvmsg = self.socket.recvmsg
        budget = self.bufferSize
        taken = 0
        while self._reading and taken < budget:
            try:
                data, ancillary, flags, _ = recvmsg(READ_SIZE, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as e:
                return self._lost(e)
            if flags & MSG_NOTIFICATION:
                self._notification(data, flags)
                continue
            if not data:
                return main.CONNECTION_DONE
            taken += len(data)
            info = received_info(ancillary)
            if info is not None:
                self.received_stream, self.received_ppid = info
            receiver = self._receiver
            if receiver is None:
                self.protocol.dataReceived(data)
                continue
            if self._partial or not flags & MSG_EOR:
                data = self._reassemble(data, flags)
                if data is None:
                    continue
            receiver.message_received(data, self.received_stream, self.received_ppid)
        return None

    def _reassemble(self, data, flags):
        """A part of a message: the whole message once it is complete,
        else C{None}; past max_message_size the association is aborted."""
        self._partial.append(data)
        self._partial_size += len(data)
        if self._partial_size > self.options.max_message_size:
            size = self._partial_size
            self.drop_partial()
            self._warn("aborting: an incoming message passed {limit} bytes ({size} so far)",
                       limit=self.options.max_message_size, size=size)
            self.abortConnection()
            return None
        if not flags & MSG_EOR:
            return None
        data = b"".join(self._partial)
        self.drop_partial()
        return data

    def drop_partial(self):
        """Forget the parts of an incoming message (it will not complete)."""
        self._partial = []
        self._partial_size = 0

    def _notification(self, data, flags):
        parts = self._notification_parts
        if not flags & MSG_EOR or parts:
            parts.append(data)
            if sum(map(len, parts)) > self.options.max_message_size + READ_SIZE:
                self._notification_parts = []
                self._warn("dropping a notification larger than {limit} bytes",
                           limit=self.options.max_message_size + READ_SIZE)
                return
            if not flags & MSG_EOR:
                return
            data = b"".join(parts)
            self._notification_parts = []
        try:
            notification = parse_notification(data)
        except MalformedNotification as e:
            self._warn("ignoring a malformed SCTP notification: {why}", why=e)
            return
        events.handle(self, notification)

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
        log.warn("SCTP association with {remote}: " + format, remote=_describe(self._peer), **fields)


def _describe(address):
    if address is None:
        return "?"
    return "%s:%s" % (address.host, address.port)


def describe(connection):
    """C{host:port} of the connection's peer, for logs."""
    return _describe(connection.getPeer())
