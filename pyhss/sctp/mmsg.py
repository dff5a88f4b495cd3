"""
Many messages per system call: Linux's sendmmsg(2) and recvmmsg(2)
through ctypes (Python's socket module has neither).  Each message keeps
its own ancillary data (SCTP's stream and PPID), flags and length, as with
sendmsg/recvmsg one at a time.

Why: SCTP keeps message boundaries, so a Diameter peer gets one SCTP
message per Diameter message, and without these calls every message costs
a system call each way where TCP sends a whole batch of answers with one.
Under user-mode Linux, where a system call costs tens of microseconds,
that alone kept SCTP at a tenth of TCP's rate; natively it is the
difference between one call per message and one per batch.

L{AVAILABLE} is false where the C library lacks them (not Linux, or not
glibc/musl): the transport then reads and writes one message per call.
"""

import ctypes
import ctypes.util
import errno
import os
import socket
import struct

_size_t = ctypes.c_size_t


class _IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", _size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_IOVec)), ("iovlen", _size_t),
                ("control", ctypes.c_void_p), ("controllen", _size_t),
                ("flags", ctypes.c_int)]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", _MsgHdr), ("length", ctypes.c_uint)]


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        send, receive = libc.sendmmsg, libc.recvmmsg
    except (OSError, AttributeError, TypeError):
        return None, None
    send.argtypes = [ctypes.c_int, ctypes.POINTER(_MMsgHdr), ctypes.c_uint, ctypes.c_int]
    send.restype = ctypes.c_int
    receive.argtypes = [ctypes.c_int, ctypes.POINTER(_MMsgHdr), ctypes.c_uint, ctypes.c_int,
                        ctypes.c_void_p]
    receive.restype = ctypes.c_int
    return send, receive


_sendmmsg, _recvmmsg = _libc()
AVAILABLE = _sendmmsg is not None and hasattr(socket, "CMSG_SPACE")

# struct cmsghdr: cmsg_len (size_t), cmsg_level, cmsg_type (int), data.
_CMSG_HEADER = struct.Struct("=" + ("Q" if ctypes.sizeof(_size_t) == 8 else "I") + "ii")
_ALIGN = ctypes.sizeof(_size_t)


def control(level, kind, data):
    """One ancillary data item as bytes for L{send}: a cmsghdr and C{data},
    padded as CMSG_SPACE says."""
    space = socket.CMSG_SPACE(len(data))
    item = _CMSG_HEADER.pack(socket.CMSG_LEN(len(data)), level, kind) + data
    return item + bytes(space - len(item))


def parse_control(data):
    """The ancillary items of a received control buffer, as recvmsg gives
    them: a list of C{(level, type, data)}."""
    items = []
    offset, end = 0, len(data)
    while end - offset >= _CMSG_HEADER.size:
        length, level, kind = _CMSG_HEADER.unpack_from(data, offset)
        if length < _CMSG_HEADER.size or offset + length > end:
            break
        items.append((level, kind, bytes(data[offset + _CMSG_HEADER.size:offset + length])))
        offset += (length + _ALIGN - 1) & ~(_ALIGN - 1)
    return items


def send(fd, messages, flags=0):
    """
    Send C{messages}, a list of C{(data, control bytes)}, with as few
    system calls as the kernel allows; C{flags} (MSG_MORE, say) go with
    every one.

    @return: how many were sent, from the first; 0 when the kernel took
        none for now (EAGAIN, ENOBUFS).
    @raise OSError: any other error (the first message was not sent).
    """
    count = len(messages)
    headers = (_MMsgHdr * count)()
    vectors = (_IOVec * count)()
    keep = []           # the buffers the kernel reads, alive until it returns
    for index, (data, extra) in enumerate(messages):
        data_buffer = ctypes.c_char_p(data)
        control_buffer = ctypes.c_char_p(extra)
        keep.append((data_buffer, control_buffer))
        vectors[index].base = ctypes.cast(data_buffer, ctypes.c_void_p)
        vectors[index].length = len(data)
        header = headers[index].hdr
        header.iov = ctypes.pointer(vectors[index])
        header.iovlen = 1
        header.control = ctypes.cast(control_buffer, ctypes.c_void_p)
        header.controllen = len(extra)
    while True:
        sent = _sendmmsg(fd, headers, count, flags | socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        if sent >= 0:
            return sent
        code = ctypes.get_errno()
        if code == errno.EINTR:
            continue
        if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
            return 0
        raise OSError(code, os.strerror(code))


class Receiver(object):
    """
    Reads up to C{slots} messages per system call into buffers of
    C{size} bytes each (a larger message comes in parts, the last with
    MSG_EOR), kept for every call.  One receiver serves any number of
    sockets, one read at a time.
    """

    def __init__(self, slots=32, size=16384, control_size=64):
        self.slots = slots
        self.buffers = [ctypes.create_string_buffer(size) for _ in range(slots)]
        self.controls = [ctypes.create_string_buffer(control_size) for _ in range(slots)]
        self.vectors = (_IOVec * slots)()
        self.headers = (_MMsgHdr * slots)()
        self.size = size
        self.control_size = control_size
        for index in range(slots):
            self.vectors[index].base = ctypes.cast(self.buffers[index], ctypes.c_void_p)
            self.vectors[index].length = size
            header = self.headers[index].hdr
            header.iov = ctypes.pointer(self.vectors[index])
            header.iovlen = 1
            header.control = ctypes.cast(self.controls[index], ctypes.c_void_p)

    def receive(self, fd, most=None):
        """
        The messages waiting, up to C{most} (at most C{slots}): a list of
        C{(data, ancillary, flags)} as recvmsg would give them; empty when
        none is waiting.

        @raise OSError: the socket's error, when no message came before it.
        """
        count = self.slots if most is None else max(1, min(most, self.slots))
        headers = self.headers
        for index in range(count):
            headers[index].hdr.controllen = self.control_size
            headers[index].hdr.flags = 0
        while True:
            got = _recvmmsg(fd, headers, count, socket.MSG_DONTWAIT, None)
            if got >= 0:
                break
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            if code in (errno.EAGAIN, errno.EWOULDBLOCK):
                return []
            raise OSError(code, os.strerror(code))
        received = []
        string_at = ctypes.string_at
        for index in range(got):
            header = headers[index]
            length = header.length
            data = string_at(self.buffers[index], length) if length else b""
            controllen = header.hdr.controllen
            ancillary = parse_control(string_at(self.controls[index], controllen)) if controllen else []
            received.append((data, ancillary, header.hdr.flags))
        return received
