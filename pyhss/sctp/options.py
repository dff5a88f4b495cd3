"""
What an SCTP endpoint asks of its associations (L{SctpOptions}) and how it
is set on a socket: pysctp sets the kernel's structures (initmsg, RTO
information, association and peer address parameters, event
subscriptions); this module says which values go where.
"""

import dataclasses
import socket
import struct
from typing import Callable, Optional

# RFC 4960 section 15's protocol parameters, the kernel's defaults too.
RTO_INITIAL = 3.0
RTO_MIN = 1.0
RTO_MAX = 60.0
HEARTBEAT_INTERVAL = 30.0
ASSOCIATION_MAX_RETRANSMISSIONS = 10
PATH_MAX_RETRANSMISSIONS = 5
INIT_MAX_RETRANSMISSIONS = 8


@dataclasses.dataclass(frozen=True)
class SctpOptions(object):
    """
    @ivar streams: outbound streams asked for, and the most inbound ones
        accepted (the peer may grant fewer: the transport's
        C{outbound_streams} says how many it got).
    @ivar rto_initial, rto_min, rto_max: retransmission timeout, seconds.
    @ivar heartbeat_interval: seconds between heartbeats on an idle path;
        0 turns heartbeats off.
    @ivar max_retransmissions: retransmissions before the association is
        declared lost (Association.Max.Retrans).
    @ivar path_max_retransmissions: before one peer address is declared
        unreachable (Path.Max.Retrans).
    @ivar init_max_retransmissions: INIT retransmissions while connecting.
    @ivar ppid: Payload Protocol Identifier of messages written without one
        (46 for Diameter, 3 for M3UA).
    @ivar stream_policy: C{None} (messages without a stream go on stream
        0), or C{policy(outbound_streams)}, called once the association is
        up, returning C{choose(data) -> stream}.
    @ivar max_message_size: bytes; an incoming message delivered whole (to
        an L{ISCTPMessageReceiver}) that grows past this aborts the
        association.
    @ivar send_buffer, receive_buffer: socket buffer sizes in bytes
        (C{None}: the system's).
    @ivar nodelay: send each message at once (SCTP_NODELAY) instead of
        holding small ones back while data is unacknowledged (Nagle), as
        signalling stacks do: a request waits for no timer.
    """

    streams: int = 10
    rto_initial: float = RTO_INITIAL
    rto_min: float = RTO_MIN
    rto_max: float = RTO_MAX
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    max_retransmissions: int = ASSOCIATION_MAX_RETRANSMISSIONS
    path_max_retransmissions: int = PATH_MAX_RETRANSMISSIONS
    init_max_retransmissions: int = INIT_MAX_RETRANSMISSIONS
    ppid: int = 0
    stream_policy: Optional[Callable] = None
    max_message_size: int = 1 << 20
    send_buffer: Optional[int] = None
    receive_buffer: Optional[int] = None
    nodelay: bool = True

    def __post_init__(self):
        problems = []
        if not 1 <= self.streams <= 65535:
            problems.append("streams must be 1 to 65535, got %r" % (self.streams,))
        if not 0 < self.rto_min <= self.rto_initial <= self.rto_max:
            problems.append("need 0 < rto_min <= rto_initial <= rto_max, got %r, %r, %r" % (
                self.rto_min, self.rto_initial, self.rto_max))
        if self.heartbeat_interval < 0:
            problems.append("heartbeat_interval must be 0 (off) or more")
        for name in ("max_retransmissions", "path_max_retransmissions", "init_max_retransmissions"):
            if not 1 <= getattr(self, name) <= 65535:
                problems.append("%s must be 1 to 65535" % (name,))
        if not 0 <= self.ppid <= 0xFFFFFFFF:
            problems.append("ppid must be a 32-bit unsigned integer")
        if self.max_message_size < 1:
            problems.append("max_message_size must be positive")
        if problems:
            raise ValueError("; ".join(problems))


def _milliseconds(seconds):
    return max(1, int(round(seconds * 1000)))


def configure(sock, options):
    """
    Set C{options} on C{sock} (a pysctp socket, before it listens or
    connects: an accepted socket inherits them) and subscribe to the
    notifications the transport reads.
    """
    if options.send_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.send_buffer)
    if options.receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options.receive_buffer)
    sock.nodelay = options.nodelay
    initparams = sock.initparams
    initparams.autoflush = False
    initparams.num_ostreams = options.streams
    initparams.max_instreams = options.streams
    initparams.max_attempts = options.init_max_retransmissions
    initparams.max_init_timeo = _milliseconds(options.rto_max)
    initparams.flush()
    rto = sock.get_rtoinfo()
    rto.initial = _milliseconds(options.rto_initial)
    rto.min = _milliseconds(options.rto_min)
    rto.max = _milliseconds(options.rto_max)
    sock.set_rtoinfo(rto)
    association = sock.get_assocparams()
    association.assocmaxrxt = options.max_retransmissions
    sock.set_assocparams(association)
    _set_path_parameters(sock, options)
    events = sock.events
    events.autoflush = False
    events.data_io = True           # stream and PPID with each message
    events.association = True
    events.address = True
    events.send_failure = True
    events.peer_error = True
    events.shutdown = True
    events.partial_delivery = True
    events.adaptation_layer = False
    events.flush()


# struct sctp_paddrparams (linux/sctp.h, packed): assoc id, address
# (sockaddr_storage; all zeros: every path), hbinterval, pathmaxrxt,
# pathmtu, sackdelay, flags, padded to the size the kernel takes.
# Packed here rather than through pysctp: its 0.7.3 wheels are built
# without SCTP_DRAFT10_LEVEL, so their set_paddrparams never passes
# spp_flags, without which the kernel ignores the heartbeat interval.
_PADDRPARAMS = struct.Struct("=i128sIHIII2x")
SCTP_PEER_ADDR_PARAMS = 9
SOL_SCTP = 132
SPP_HB_ENABLE = 1
SPP_HB_DISABLE = 2


def _set_path_parameters(sock, options):
    if options.heartbeat_interval:
        interval, flags = _milliseconds(options.heartbeat_interval), SPP_HB_ENABLE
    else:
        interval, flags = 0, SPP_HB_DISABLE
    sock.setsockopt(SOL_SCTP, SCTP_PEER_ADDR_PARAMS, _PADDRPARAMS.pack(
        0, bytes(128), interval, options.path_max_retransmissions, 0, 0, flags))


def negotiated_streams(sock):
    """C{(inbound, outbound)} streams of the socket's association."""
    status = sock.get_status()
    return status.instrms, status.outstrms


def applied(sock):
    """What the kernel holds now, as a dict (for tests and diagnostics)."""
    wildcard = "::" if sock.family == socket.AF_INET6 else "0.0.0.0"
    rto = sock.get_rtoinfo()
    association = sock.get_assocparams()
    initparams = sock.initparams
    try:
        peer = sock.getpeername()
        path = sock.get_paddrparams(0, peer[:2])
    except OSError:
        path = sock.get_paddrparams(0, (wildcard, 0))
    return {
        "streams": (initparams.num_ostreams, initparams.max_instreams),
        "rto": (rto.initial, rto.min, rto.max),
        "max_retransmissions": association.assocmaxrxt,
        "path_max_retransmissions": path.pathmaxrxt,
        "heartbeat_interval": path.hbinterval,
        "init_max_retransmissions": initparams.max_attempts,
    }
