"""
The kernel structures that travel with SCTP messages (Linux
<linux/sctp.h>, RFC 6458 section 5): the send/receive information of each
message (its stream and PPID, as ancillary data) and the notifications the
kernel interleaves with the data (association and address changes, the
peer's shutdown...).

Notifications are read from the raw bytes of C{recvmsg}, every length
checked: one class per type, one registry (L{NOTIFICATIONS}); a type not in
it comes back as an L{UnknownNotification} with its bytes, and bytes that
do not fit their type raise L{MalformedNotification}.
"""

import socket
import struct

from pyhss.sctp.errors import MalformedNotification

IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)
SCTP_SNDRCV = 1                 # cmsg type of struct sctp_sndrcvinfo
MSG_NOTIFICATION = 0x8000       # recvmsg flag: the bytes are a notification
MSG_EOR = socket.MSG_EOR        # recvmsg flag: the message ends here
MSG_UNORDERED = 1               # sinfo_flags: deliver without ordering

# struct sctp_sndrcvinfo: stream, ssn, flags, (pad), ppid, context,
# timetolive, tsn, cumtsn, assoc_id.  The PPID is opaque to the kernel and
# travels in network byte order, so it is packed as 4 big-endian bytes.
_SNDRCV = struct.Struct("=HHHxx4sIIIIi")
SNDRCV_SIZE = _SNDRCV.size
ANCILLARY_SPACE = socket.CMSG_SPACE(SNDRCV_SIZE)
_STREAM = struct.Struct("=H")


def send_info(stream, ppid, flags=0):
    """The SCTP_SNDRCV ancillary data item for sendmsg: C{stream}, C{ppid}."""
    return (IPPROTO_SCTP, SCTP_SNDRCV,
            _SNDRCV.pack(stream, 0, flags, ppid.to_bytes(4, "big"), 0, 0, 0, 0, 0))


def received_info(ancillary):
    """C{(stream, ppid)} from recvmsg's ancillary data, or C{None} when it
    holds no (whole) SCTP_SNDRCV item."""
    for level, kind, data in ancillary:
        if level == IPPROTO_SCTP and kind == SCTP_SNDRCV and len(data) >= 12:
            return _STREAM.unpack_from(data)[0], int.from_bytes(data[8:12], "big")
    return None


# --- notifications ------------------------------------------------------------------

_HEADER = struct.Struct("=HHI")         # sn_type, sn_flags, sn_length
_BASE = 1 << 15                         # SCTP_SN_TYPE_BASE


def _address(data, offset):
    """A struct sockaddr_storage at C{offset}: C{(host, port)} or C{None}."""
    family = struct.unpack_from("=H", data, offset)[0]
    port = struct.unpack_from("!H", data, offset + 2)[0]
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, data[offset + 4:offset + 8]), port
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, data[offset + 8:offset + 24]), port
    return None


class Notification(object):
    """
    One notification.  Subclasses declare C{TYPE}, C{SIZE} (the least
    length of their structure) and C{_read(data)}, which sets their fields.

    @ivar flags: sn_flags.
    """

    TYPE = None
    SIZE = 8
    __slots__ = ("flags",)

    @classmethod
    def parse(cls, flags, data):
        if len(data) < cls.SIZE:
            raise MalformedNotification("%s of %d bytes, shorter than its %d" % (
                cls.__name__, len(data), cls.SIZE))
        notification = cls.__new__(cls)
        notification.flags = flags
        notification._read(data)
        return notification

    def _read(self, data):
        pass

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self.describe())

    def describe(self):
        return ""


# RFC 4960 section 3.3.10: the error causes of ERROR and ABORT chunks.
ERROR_CAUSES = {
    1: "Invalid Stream Identifier", 2: "Missing Mandatory Parameter", 3: "Stale Cookie Error",
    4: "Out of Resource", 5: "Unresolvable Address", 6: "Unrecognized Chunk Type",
    7: "Invalid Mandatory Parameter", 8: "Unrecognized Parameters", 9: "No User Data",
    10: "Cookie Received While Shutting Down", 11: "Restart of an Association with New Addresses",
    12: "User Initiated Abort", 13: "Protocol Violation",
}


def describe_cause(code):
    return "%s, cause %d" % (ERROR_CAUSES[code], code) if code in ERROR_CAUSES else "cause %d" % (code,)


class AssociationChange(Notification):
    """SCTP_ASSOC_CHANGE: the association came up, was lost, restarted...
    C{error} is the cause of the ABORT or ERROR behind a loss (Linux
    writes it in network byte order, as it came in the chunk)."""

    TYPE = _BASE + 1
    SIZE = 20
    COMMUNICATION_UP, COMMUNICATION_LOST, RESTART, SHUTDOWN_COMPLETE, CANNOT_START = range(5)
    STATES = {COMMUNICATION_UP: "communication up", COMMUNICATION_LOST: "communication lost",
              RESTART: "restart", SHUTDOWN_COMPLETE: "shutdown complete",
              CANNOT_START: "cannot start association"}
    __slots__ = ("state", "error", "outbound_streams", "inbound_streams", "association_id")

    def _read(self, data):
        self.state = struct.unpack_from("=H", data, 8)[0]
        self.error = struct.unpack_from("!H", data, 10)[0]
        self.outbound_streams, self.inbound_streams, self.association_id = \
            struct.unpack_from("=HHi", data, 12)

    def describe(self):
        what = self.STATES.get(self.state, "state %d" % (self.state,))
        if self.state in (self.COMMUNICATION_UP, self.RESTART):
            return "%s (%d inbound, %d outbound streams)" % (
                what, self.inbound_streams, self.outbound_streams)
        return "%s (%s)" % (what, describe_cause(self.error)) if self.error else what


class PeerAddressChange(Notification):
    """SCTP_PEER_ADDR_CHANGE: one of the peer's addresses changed state."""

    TYPE = _BASE + 2
    SIZE = 148      # header, sockaddr_storage (128), state, error, assoc id
    STATES = {0: "available", 1: "unreachable", 2: "removed", 3: "added",
              4: "made primary", 5: "confirmed", 6: "potentially failed"}
    __slots__ = ("address", "state", "error", "association_id")

    def _read(self, data):
        self.address = _address(data, 8)
        self.state, self.error, self.association_id = struct.unpack_from("=iii", data, 136)

    def describe(self):
        where = "%s:%d" % self.address if self.address else "an address of unknown family"
        return "peer address %s %s" % (where, self.STATES.get(self.state, "state %d" % (self.state,)))


class RemoteError(Notification):
    """SCTP_REMOTE_ERROR: the peer sent an ERROR chunk."""

    TYPE = _BASE + 3
    SIZE = 16
    __slots__ = ("error", "association_id", "data")

    def _read(self, data):
        self.error = struct.unpack_from("!H", data, 8)[0]
        self.association_id = struct.unpack_from("=i", data, 12)[0]
        self.data = bytes(data[16:])

    def describe(self):
        return "the peer reported an error (%s)" % (describe_cause(self.error),)


class SendFailed(Notification):
    """SCTP_SEND_FAILED: a message could not be delivered."""

    TYPE = _BASE + 4
    SIZE = 48
    __slots__ = ("error", "stream", "ppid", "association_id", "data")

    def _read(self, data):
        self.error = struct.unpack_from("=I", data, 8)[0]
        self.stream = _STREAM.unpack_from(data, 12)[0]
        self.ppid = int.from_bytes(data[20:24], "big")
        self.association_id = struct.unpack_from("=i", data, 44)[0]
        self.data = bytes(data[48:])

    def describe(self):
        return "a message of %d bytes on stream %d was not delivered (error %d)" % (
            len(self.data), self.stream, self.error)


class ShutdownEvent(Notification):
    """SCTP_SHUTDOWN_EVENT: the peer shut the association down."""

    TYPE = _BASE + 5
    SIZE = 12
    __slots__ = ("association_id",)

    def _read(self, data):
        self.association_id = struct.unpack_from("=i", data, 8)[0]

    def describe(self):
        return "the peer shut down"


class PartialDelivery(Notification):
    """SCTP_PARTIAL_DELIVERY_EVENT: a message being delivered in parts
    will not be completed (the association went away)."""

    TYPE = _BASE + 6
    SIZE = 16
    ABORTED = 0
    __slots__ = ("indication", "association_id")

    def _read(self, data):
        self.indication, self.association_id = struct.unpack_from("=Ii", data, 8)

    def describe(self):
        if self.indication == self.ABORTED:
            return "partial delivery aborted"
        return "partial delivery indication %d" % (self.indication,)


class AdaptationIndication(Notification):
    """SCTP_ADAPTATION_INDICATION: the peer's adaptation layer."""

    TYPE = _BASE + 7
    SIZE = 16
    __slots__ = ("adaptation", "association_id")

    def _read(self, data):
        self.adaptation, self.association_id = struct.unpack_from("=Ii", data, 8)

    def describe(self):
        return "adaptation layer indication %#x" % (self.adaptation,)


class SenderDry(Notification):
    """SCTP_SENDER_DRY_EVENT: everything sent was acknowledged."""

    TYPE = _BASE + 9
    SIZE = 12
    __slots__ = ("association_id",)

    def _read(self, data):
        self.association_id = struct.unpack_from("=i", data, 8)[0]

    def describe(self):
        return "sender dry"


class UnknownNotification(Notification):
    """A notification type not in L{NOTIFICATIONS}, kept as it came."""

    __slots__ = ("type", "data")

    def describe(self):
        return "type %#x, %d bytes" % (self.type, len(self.data))


NOTIFICATIONS = {cls.TYPE: cls for cls in (
    AssociationChange, PeerAddressChange, RemoteError, SendFailed, ShutdownEvent,
    PartialDelivery, AdaptationIndication, SenderDry)}


def parse_notification(data):
    """
    The notification in C{data} (one whole notification, as recvmsg gave
    it with MSG_NOTIFICATION and MSG_EOR).

    @raise MalformedNotification: the bytes do not fit.
    """
    if len(data) < _HEADER.size:
        raise MalformedNotification("notification of %d bytes, shorter than its header" % (len(data),))
    kind, flags, length = _HEADER.unpack_from(data)
    if length != len(data):
        raise MalformedNotification("notification type %#x says %d bytes, %d came" % (
            kind, length, len(data)))
    cls = NOTIFICATIONS.get(kind)
    if cls is None:
        unknown = UnknownNotification.parse(flags, data)
        unknown.type = kind
        unknown.data = bytes(data)
        return unknown
    return cls.parse(flags, data)


def notification_bytes(kind, flags, body):
    """A notification's bytes: header (with its length) and C{body}; for
    tests and for replaying what a kernel sent."""
    return _HEADER.pack(kind, flags, _HEADER.size + len(body)) + body
