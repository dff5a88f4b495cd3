"""
Stand-ins for a kernel SCTP socket and the reactor's descriptor calls, for
unit tests of the transport's own logic (queueing, flow control,
notifications, reassembly, closing).  What the kernel really does is
tested inside user-mode Linux (tests/test_sctp_uml.py).
"""

import errno
import socket

from twisted.internet import task

from pyhss.sctp import wire

FLAGS_EOR = wire.MSG_EOR


class FakeReactor(task.Clock):
    """A clock that also keeps the readers and writers."""

    def __init__(self):
        task.Clock.__init__(self)
        self.readers = set()
        self.writers = set()

    def addReader(self, reader):
        self.readers.add(reader)

    def removeReader(self, reader):
        self.readers.discard(reader)

    def addWriter(self, writer):
        self.writers.add(writer)

    def removeWriter(self, writer):
        self.writers.discard(writer)


class FakeSocket(object):
    """
    The Python socket under a pysctp socket.  C{incoming} holds what
    recvmsg_into reads, in order: C{(data, ancillary, flags)} tuples or
    OSError instances; empty, it raises EAGAIN.  C{sent} records each
    sendmsg as C{(data, stream, ppid)} (and its MSG_MORE in C{more});
    C{send_room} is how many more sendmsg calls succeed before EAGAIN
    (None: all).
    """

    family = socket.AF_INET

    def __init__(self, peer=("127.0.0.2", 3868), host=("127.0.0.1", 40000)):
        self.incoming = []
        self.sent = []
        self.more = []          # MSG_MORE of each sendmsg
        self.send_room = None
        self.send_error = None
        self.options = {}
        self.closed = False
        self.blocking = True
        self.peer = peer
        self.host = host

    def fileno(self):
        return -1 if self.closed else 7

    def setblocking(self, flag):
        self.blocking = flag

    def getpeername(self):
        return self.peer

    def getsockname(self):
        return self.host

    def setsockopt(self, level, name, value):
        self.options[level, name] = value

    def getsockopt(self, level, name, *size):
        return self.options.get((level, name), 0)

    def recvmsg_into(self, buffers, ancillary_size):
        if not self.incoming:
            raise BlockingIOError(errno.EAGAIN, "no data")
        item = self.incoming.pop(0)
        if isinstance(item, OSError):
            raise item
        data, ancillary, flags = item
        (buffer,) = buffers
        size = min(len(data), len(buffer))
        buffer[:size] = data[:size]
        return size, ancillary, flags, self.peer

    def sendmsg(self, buffers, ancillary, flags=0):
        if self.send_error is not None:
            raise self.send_error
        if self.send_room is not None:
            if self.send_room == 0:
                raise BlockingIOError(errno.EAGAIN, "send buffer full")
            self.send_room -= 1
        (data,), ((level, kind, info),) = buffers, ancillary
        assert (level, kind) == (wire.IPPROTO_SCTP, wire.SCTP_SNDRCV)
        self.sent.append((data,) + wire.received_info([(level, kind, info)]))
        self.more.append(bool(flags & socket.MSG_MORE))
        return len(data)

    def close(self):
        self.closed = True

    # what the tests feed it

    def message(self, data, stream=0, ppid=0, flags=FLAGS_EOR):
        self.incoming.append((data, [wire.send_info(stream, ppid)], flags))

    def notification(self, data, flags=FLAGS_EOR):
        self.incoming.append((data, [], flags | wire.MSG_NOTIFICATION))


class _Status(object):
    def __init__(self, inbound, outbound):
        self.instrms, self.outstrms = inbound, outbound


class FakeSctpSocket(object):
    """The pysctp wrapper: its socket and the calls the transport makes."""

    def __init__(self, sock=None, streams=(10, 10), peers=(("127.0.0.2", 3868),),
                 locals_=(("127.0.0.1", 40000),)):
        self._sock = sock or FakeSocket(peers[0], locals_[0])
        self.streams = streams
        self.peers = peers
        self.locals = locals_
        self.family = self._sock.family

    def sock(self):
        return self._sock

    def get_status(self):
        return _Status(*self.streams)

    def getpaddrs(self):
        return self.peers

    def getladdrs(self):
        return self.locals


def association_change(state, outbound=10, inbound=10, error=0, association=1):
    import struct
    return wire.notification_bytes(wire.AssociationChange.TYPE, 0, struct.pack(
        "=H", state) + struct.pack("!H", error) + struct.pack("=HHi", outbound, inbound, association))
