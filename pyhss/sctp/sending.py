"""
Writing on an SCTP association: the connection's half that queues
messages and hands them to the kernel.

Each C{write} (and each element of C{writeSequence}) is one SCTP message,
queued and sent by C{doWrite} with its stream and PPID as ancillary data
(L{pyhss.sctp.wire.send_info}); C{write_message} names them, and a message
without a stream goes where the options' stream policy says (stream 0
without one).  The queue counts bytes: past C{bufferSize} a registered
streaming producer is paused, and resumed once the queue is empty, as
Twisted's transports do; a full kernel send buffer (EAGAIN) leaves the
rest queued until the socket is writable again.

A batch goes out in as few system calls and packets as the kernel
allows: sendmmsg (L{pyhss.sctp.mmsg}) for all of it but the last message,
with MSG_MORE, so that their DATA chunks wait to be bundled into full
packets, then the last without it, which sends them all.  Under user-mode
Linux this took DWR over SCTP from a tenth of TCP's rate to more than
half (bench/README.md).
"""

import errno
import itertools
import socket

from twisted.internet import abstract

from pyhss.sctp import mmsg
from pyhss.sctp.errors import AssociationLost
from pyhss.sctp.wire import send_info

# Messages in one batch handed to the kernel.
SEND_BATCH = 64
# Errors of sendmsg after which the message can be tried again later.
_SEND_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.EINTR)


class Sending(object):
    """
    The writing half of L{pyhss.sctp.connection.SCTPConnection}; the
    connection provides C{socket}, C{options}, C{connected},
    C{outbound_streams}, C{_choose}, C{_queue}, C{_infos}, C{_batch_fd},
    C{_in_read} and C{_lost}.
    """

    SEND_LIMIT = 256 * 1024     # bytes sent per doWrite before the reactor gets a turn

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
            item = send_info(stream, ppid)
            info = self._infos[stream, ppid] = (item, mmsg.control(*item))
        self._queue.append((data, info))
        self.queued_bytes += len(data)
        self._maybePauseProducer()
        if not self._in_read:
            self.startWriting()

    def _isSendBufferFull(self):
        return self.queued_bytes > self.bufferSize

    def _maybePauseProducer(self):
        # Once, not on every write past the mark as Twisted's transports do.
        if not self.producerPaused:
            abstract.FileDescriptor._maybePauseProducer(self)

    def doWrite(self):
        queue = self._queue
        sent = 0
        while queue:
            try:
                count, size = self._send_some(queue)
            except OSError as e:
                if e.errno == errno.EMSGSIZE:
                    return AssociationLost("a message of %d bytes is larger than the socket can send"
                                           % (len(queue[0][0]),))
                return self._lost(e)
            if not count:
                return None         # the kernel's buffer is full: wait until writable
            self.queued_bytes -= size
            sent += size
            if sent >= self.SEND_LIMIT and queue:
                return None
        self.stopWriting()
        if self.producer is not None and (not self.streamingProducer or self.producerPaused):
            self.producerPaused = False
            self.producer.resumeProducing()
        elif self.disconnecting:
            return self._postLoseConnection()
        return None

    def _send_some(self, queue):
        """
        Hand the kernel a batch from the head of C{queue}: every message
        but the last with MSG_MORE, which has the kernel hold their DATA
        chunks and pack them with the next into as few packets as the path
        MTU allows; the last, without it, sends them all.  The first of
        the batch go in one sendmmsg where the C library has it.

        @return: C{(messages, bytes)} taken off the queue; C{(0, 0)} when
            the kernel's buffer is full.
        """
        count = min(len(queue), SEND_BATCH)
        sent = 0
        if count > 1:
            if self._batch_fd is not None:
                batch = [(data, info[1]) for data, info in itertools.islice(queue, count - 1)]
                sent = mmsg.send(self._batch_fd, batch, socket.MSG_MORE)
            else:
                for data, info in itertools.islice(queue, count - 1):
                    if not self._send_one(data, info, socket.MSG_MORE):
                        break
                    sent += 1
        if sent == count - 1 and self._send_one(*queue[sent], flags=0):
            sent += 1
        size = 0
        for _ in range(sent):
            size += len(queue.popleft()[0])
        return sent, size

    def _send_one(self, data, info, flags):
        try:
            self.socket.sendmsg((data,), (info[0],), flags)
        except OSError as e:
            if e.errno in _SEND_AGAIN:
                return False
            raise
        return True
