"""
Reading from an SCTP association: the connection's half that takes
messages and notifications from the kernel and hands them to the protocol.

C{doRead} reads until the socket is empty, the protocol stops reading
(C{pauseProducing}) or about C{bufferSize} bytes came in this turn, many
messages per system call where the C library has recvmmsg
(L{pyhss.sctp.mmsg}).  The kernel's notifications, interleaved with the
data, are parsed and logged (L{pyhss.sctp.events}); a malformed one is
logged and dropped.

A protocol providing L{ISCTPMessageReceiver} gets each whole message,
reassembled when it came in parts, up to the options' C{max_message_size}.
Any other protocol gets what one turn read in one C{dataReceived}: the
messages' bytes in order, as TCP would give them (one call, and one batch
of answers, per turn rather than per message); C{received_stream} and
C{received_ppid} are those of the last message.

What the protocol writes while it is given what was read is sent right
after, without waiting for the reactor to say the socket is writable.
"""

from twisted.internet import abstract, main

from pyhss.sctp import events, mmsg
from pyhss.sctp.errors import MalformedNotification
from pyhss.sctp.wire import (
    ANCILLARY_SPACE, MSG_EOR, MSG_NOTIFICATION, parse_notification, received_info)

# Bytes asked of one recvmsg (without recvmmsg): a larger message comes in
# parts.  Every such read lands in one buffer and is copied out at its
# size: a new 64 KiB buffer per message cost page faults each time the
# allocator had given the memory back (under user-mode Linux, 1.6 ms of
# server CPU per DWR).  Reads happen one at a time, on the reactor's
# thread, so one buffer (and one recvmmsg receiver) serves every
# connection.
READ_SIZE = 65536
_READ_BUFFER = memoryview(bytearray(READ_SIZE))
BATCH_SLOTS = 32
_RECEIVER = []


def _receiver():
    if not _RECEIVER:
        _RECEIVER.append(mmsg.Receiver(slots=BATCH_SLOTS))
    return _RECEIVER[0]


class Receiving(object):
    """
    The reading half of L{pyhss.sctp.connection.SCTPConnection}; the
    connection provides C{socket}, C{options}, C{protocol}, C{_receiver},
    C{_queue}, C{_batch_fd}, C{_partial}, C{_partial_size},
    C{_notification_parts}, C{_aborting}, C{_lost} and C{_warn}.
    """

    def startReading(self):
        self._reading = True
        abstract.FileDescriptor.startReading(self)

    def stopReading(self):
        self._reading = False
        abstract.FileDescriptor.stopReading(self)

    def doRead(self):
        # Answers go out right after the read that caused them: two epoll
        # calls and a turn of the reactor saved per batch.
        self._in_read = True
        try:
            result = self._read_messages() if self._receiver is not None else self._read_stream()
        finally:
            self._in_read = False
        if self._queue and not self._aborting and self.socket is not None:
            written = self.doWrite()
            if written is not None:
                return written
            if self._queue:
                self.startWriting()
        return result

    def _read_some(self):
        """What the socket has now, with one system call: a list of
        C{(data, ancillary, flags)}, empty when nothing is waiting."""
        if self._batch_fd is not None:
            return _receiver().receive(self._batch_fd)
        try:
            size, ancillary, flags, _ = self.socket.recvmsg_into((_READ_BUFFER,), ANCILLARY_SPACE)
        except (BlockingIOError, InterruptedError):
            return []
        return [(_READ_BUFFER[:size].tobytes(), ancillary, flags)]

    def _read(self):
        """
        Read until the socket is empty, reading is paused or about
        C{bufferSize} bytes came, handling notifications on the way: a
        generator of C{(data, ancillary, flags)}, which returns the result
        for the reactor (C{None}, or why the connection ends).
        """
        size = 0
        while self._reading and size < self.bufferSize:
            try:
                batch = self._read_some()
            except OSError as e:
                return self._lost(e)
            if not batch:
                return None
            whole = len(batch) == BATCH_SLOTS
            for data, ancillary, flags in batch:
                if flags & MSG_NOTIFICATION:
                    self._notification(data, flags)
                    continue
                if not data:
                    return main.CONNECTION_DONE
                size += len(data)
                yield data, ancillary, flags
            if self._batch_fd is not None and not whole:
                return None         # fewer than asked for: the socket is empty now
        return None

    def _read_stream(self):
        taken = []
        reading = self._read()
        try:
            while True:
                data, ancillary, flags = next(reading)
                self._note(ancillary)
                taken.append(data)
        except StopIteration as end:
            result = end.value
        if taken:
            self.protocol.dataReceived(taken[0] if len(taken) == 1 else b"".join(taken))
        return result

    def _read_messages(self):
        reading = self._read()
        try:
            while True:
                data, ancillary, flags = next(reading)
                if self.disconnecting or self._aborting:
                    continue        # read, but nobody takes it any more
                self._note(ancillary)
                if self._partial or not flags & MSG_EOR:
                    data = self._reassemble(data, flags)
                    if data is None:
                        continue
                self._receiver.message_received(data, self.received_stream, self.received_ppid)
        except StopIteration as end:
            return end.value

    def _note(self, ancillary):
        info = received_info(ancillary)
        if info is not None:
            self.received_stream, self.received_ppid = info

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
