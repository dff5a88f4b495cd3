"""SIGTRAN messages over a transport: one class for SCTP and TCP.

Over SCTP the transport keeps message boundaries and hands each message
with its stream and PPID to ``message_received`` (the protocol provides
:class:`pyhss.sctp.ISCTPMessageReceiver`).  Over TCP the bytes arrive as a
stream: :class:`CommonHeaderFramer` cuts it into messages by the length of
the common header that M3UA (RFC 4666 3.1), M2PA (RFC 4165 2.1), M2UA and
SUA share, and ``message_received`` gets them with stream and PPID None.
TCP is not a standard SIGTRAN transport (libosmo-sigtran speaks M3UA over
TCP this same way); it carries no stream and no PPID.
"""

import struct

from twisted.internet.protocol import Protocol
from zope.interface import implementer

from pyhss.sctp import ISCTPMessageReceiver
from ss7tools.errors import FramingError

VERSION = 1
HEADER_SIZE = 8
#: The largest message accepted: one that still fits a single SCTP DATA
#: chunk of one IPv4 packet (65535 - 20 IP - 12 SCTP - 16 DATA), so that
#: ``--record`` writes every message as one chunk.
MAX_MESSAGE_SIZE = 65487
#: RFC 4165: M2PA's message class; every other class is taken as M3UA when
#: a TCP peer gives no PPID.
M2PA_CLASS = 11
PPID_M3UA = 3
PPID_M2PA = 5

_HEADER = struct.Struct("!BBBBI")


def header(data):
    """``(version, msg_class, msg_type, length)`` of a message's common
    header; :class:`FramingError` when there are fewer than 8 octets."""
    if len(data) < HEADER_SIZE:
        raise FramingError("%d octets: shorter than the common header" % len(data))
    version, _reserved, msg_class, msg_type, length = _HEADER.unpack_from(data, 0)
    return version, msg_class, msg_type, length


def check_header(data, max_size=MAX_MESSAGE_SIZE):
    """The length the common header at the start of ``data`` announces,
    after checking version and bounds (:class:`FramingError`)."""
    version, msg_class, msg_type, length = header(data)
    if version != VERSION:
        raise FramingError("version %d (class %d, type %d), not 1" % (version, msg_class, msg_type))
    if length < HEADER_SIZE:
        raise FramingError("message length %d, below the header's 8" % length)
    if length > max_size:
        raise FramingError("message length %d, above the limit of %d" % (length, max_size))
    return length


def is_framable(data):
    """True when ``data`` is one whole message a TCP receiver can cut out
    (version 1, header length equal to its size, within the limit)."""
    try:
        return check_header(data) == len(data)
    except FramingError:
        return False


def implied_ppid(data):
    """The PPID a message would carry over SCTP, from its class (TCP
    carries none): M2PA for class 11, M3UA otherwise."""
    return PPID_M2PA if len(data) > 2 and data[2] == M2PA_CLASS else PPID_M3UA


class CommonHeaderFramer:
    """Cuts a byte stream into SIGTRAN messages.

    ``feed(data)`` returns the messages completed (bytes each); it raises
    :class:`FramingError` when a header is bad, after which the stream
    cannot be trusted.  At most one partial message (``max_size`` octets)
    is buffered; ``pending`` says how many octets wait for the rest.
    """

    def __init__(self, max_size=MAX_MESSAGE_SIZE):
        self.max_size = max_size
        self._buffer = b""

    @property
    def pending(self):
        return len(self._buffer)

    def feed(self, data):
        buffer = self._buffer + data if self._buffer else data
        messages = []
        pos = 0
        size = len(buffer)
        max_size = self.max_size
        while size - pos >= HEADER_SIZE:
            # inline check_header: this runs once per message
            version = buffer[pos]
            length = int.from_bytes(buffer[pos + 4:pos + 8], "big")
            if version != VERSION or length < HEADER_SIZE or length > max_size:
                self._buffer = b""
                check_header(buffer[pos:pos + HEADER_SIZE], max_size)
            if size - pos < length:
                break
            messages.append(buffer[pos:pos + length])
            pos += length
        self._buffer = buffer[pos:] if pos < size else b""
        return messages


@implementer(ISCTPMessageReceiver)
class SigtranProtocol(Protocol):
    """A connection that carries SIGTRAN messages, over SCTP or TCP.

    Subclasses implement ``message_received(data, stream, ppid)`` (stream
    and PPID are None over TCP) and ``framing_failed(error)`` (TCP only:
    the stream is unusable; the default drops the connection), and send
    with :meth:`send_message`.
    """

    framer_factory = CommonHeaderFramer
    _framer = None

    @property
    def keeps_boundaries(self):
        """True over SCTP (the transport has ``write_message``)."""
        return hasattr(self.transport, "write_message")

    @property
    def transport_name(self):
        return "sctp" if self.keeps_boundaries else "tcp"

    def dataReceived(self, data):
        # Over SCTP (a transport that keeps boundaries) each call is one
        # message when the protocol is not an ISCTPMessageReceiver.
        if self.keeps_boundaries:
            self.message_received(data, None, None)
            return
        if self._framer is None:
            self._framer = self.framer_factory()
        try:
            messages = self._framer.feed(data)
        except FramingError as exc:
            self.framing_failed(exc)
            return
        for message in messages:
            if self.transport is None or getattr(self.transport, "disconnecting", False):
                return
            self.message_received(message, None, None)

    @property
    def partial_octets(self):
        """Octets of an incomplete message held (TCP), e.g. at disconnection."""
        return 0 if self._framer is None else self._framer.pending

    def message_received(self, data, stream, ppid):
        raise NotImplementedError

    def framing_failed(self, error):
        self.transport.abortConnection()

    def send_message(self, data, stream=None, ppid=None):
        """One message: on ``stream`` with ``ppid`` over SCTP, as bytes
        over TCP (where the receiver frames it by its header)."""
        write_message = getattr(self.transport, "write_message", None)
        if write_message is not None:
            write_message(data, stream, ppid)
        else:
            self.transport.write(data)
