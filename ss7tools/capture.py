"""From a capture file to its SS7 messages, undecoded: frames, IP
(reassembled), SCTP (reassembled, duplicates dropped) down to each M3UA or
M2PA message.  This is the ordered, stateful part of parsing; decoding a
message (:mod:`ss7tools.decoder`) needs only the message.
"""

from collections import namedtuple

from .pcapio import IPPROTO_SCTP, Ipv4Reassembler, SkipPacket, decode_ip, iter_frames
from .sctp import PPID_M2PA, PPID_M3UA, SctpError, SctpReader
from .stats import ParseStats

#: One reassembled SS7 message of a capture.  ``payload`` is the M3UA or M2PA
#: message; ``frame_data``/``linktype`` the frame that completed it;
#: ``sctp_packet`` that frame's SCTP packet and ``chunk_span`` the
#: ``(start, end)`` offsets in it of the DATA chunk that ended the message.
#: The decoder reads the first :data:`DECODED_FIELDS` only.
CapturedMessage = namedtuple("CapturedMessage", (
    "frame", "chunk", "time_stamp", "src_ip", "dst_ip", "src_port", "dst_port",
    "stream", "ppid", "payload", "linktype", "frame_data", "sctp_packet",
    "chunk_span"))
DECODED_FIELDS = 10  # frame .. payload

new_tuple = tuple.__new__  # without namedtuple's Python-level __new__

#: Well-known ports (RFC 4666, RFC 4165) that identify the protocol of a
#: DATA chunk whose PPID is 0 (unspecified), as Wireshark does.
PORT_M3UA = 2905
PORT_M2PA = 3565


def protocol_by_port(sport, dport):
    """PPID implied by the ports when a chunk's PPID is 0, or None."""
    if sport == PORT_M3UA or dport == PORT_M3UA:
        return PPID_M3UA
    if sport == PORT_M2PA or dport == PORT_M2PA:
        return PPID_M2PA
    return None


def iter_messages(path, stats=None, dedup=True):
    """Yield a :class:`CapturedMessage` per SS7 (M3UA / M2PA) message of a capture."""
    if stats is None:
        stats = ParseStats()
    reader = SctpReader(stats, dedup=dedup)
    fragments = Ipv4Reassembler(stats=stats)
    skip = stats.skip
    for frame, time_stamp, linktype, data in iter_frames(path):
        stats.frames += 1
        try:
            src, dst, proto, payload = decode_ip(linktype, data, fragments)
        except SkipPacket as exc:
            skip(exc.reason)
            continue
        except (IndexError, ValueError) as exc:  # defensive: never stop a run
            skip("bad_ip_%s" % type(exc).__name__)
            continue
        if proto != IPPROTO_SCTP:
            skip("not_sctp")
            continue
        found = []
        try:
            sport, dport = reader.packet(src, dst, payload, found)
        except SctpError as exc:
            skip("sctp_%s" % exc)
            if not found:
                continue
            sport = (payload[0] << 8) | payload[1]
            dport = (payload[2] << 8) | payload[3]
        chunk = 0
        for stream, ppid, message, span in found:
            if ppid != PPID_M3UA and ppid != PPID_M2PA and not (
                    ppid == 0 and protocol_by_port(sport, dport) is not None):
                skip("ppid_%d" % ppid)
                continue
            stats.messages += 1
            yield new_tuple(CapturedMessage, (frame, chunk, time_stamp, src, dst, sport, dport,
                                              stream, ppid, message, linktype, data, payload,
                                              span))
            chunk += 1
