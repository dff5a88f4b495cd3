"""SCTP (RFC 9260) DATA / I-DATA (RFC 8260) chunk extraction and reassembly.

:class:`SctpReader` takes the SCTP packets of a capture in order and returns,
per packet, the complete user messages it finishes: unfragmented DATA chunks
directly, fragmented ones once their B..E run of TSNs is complete.
Retransmitted TSNs are counted and skipped.  All state is bounded.
"""

import struct
from collections import OrderedDict

from .errors import SctpError

CHUNK_DATA = 0
CHUNK_INIT = 1
CHUNK_INIT_ACK = 2
CHUNK_I_DATA = 64

CHUNK_NAMES = {
    0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT",
    5: "HEARTBEAT_ACK", 6: "ABORT", 7: "SHUTDOWN", 8: "SHUTDOWN_ACK",
    9: "ERROR", 10: "COOKIE_ECHO", 11: "COOKIE_ACK", 12: "ECNE", 13: "CWR",
    14: "SHUTDOWN_COMPLETE", 15: "AUTH", 64: "I_DATA", 128: "ASCONF_ACK",
    130: "RE_CONFIG", 132: "PAD", 192: "FORWARD_TSN", 193: "ASCONF",
    194: "I_FORWARD_TSN",
}

PPID_M2UA = 2
PPID_M3UA = 3
PPID_SUA = 4
PPID_M2PA = 5
SS7_PPIDS = frozenset((PPID_M3UA, PPID_M2PA))

_COMMON = struct.Struct("!HHII")
_DATA = struct.Struct("!BBHIHHI")
_I_DATA = struct.Struct("!BBHIHHII")

# A TSN window per direction of an association for duplicate detection.
DEDUP_WINDOW = 1024
MAX_ASSOCIATIONS = 2048
MAX_PENDING_MESSAGES = 1024
MAX_MESSAGE_SIZE = 1024 * 1024


def _forget_oldest(tsns, ring):
    """Drop the older half of a direction's TSN window."""
    old = ring[:DEDUP_WINDOW // 2]
    del ring[:DEDUP_WINDOW // 2]
    tsns.difference_update(old)


def chunk_name(ctype):
    return CHUNK_NAMES.get(ctype) or "chunk_%d" % ctype


class SctpReader:
    """Per-capture SCTP state: duplicate TSNs and fragments in flight.

    Each message is ``(stream, ppid, data, chunk_span)``; ``chunk_span`` is
    the ``(start, end)`` offsets within the packet of the DATA chunk that
    completed the message (for tools that rebuild packets).
    """

    def __init__(self, stats, dedup=True):
        self._stats = stats
        self._dedup = dedup
        self._seen = OrderedDict()      # (src, dst, sport, dport) -> (vtag, TSN set, TSN ring)
        self._fragments = OrderedDict()  # (direction, stream, ssn/mid, unordered) -> {tsn: (flags, data)}

    def packet(self, src, dst, payload, messages):
        """Append the messages this packet completes to ``messages``; return
        ``(sport, dport)``.  On :class:`SctpError` the messages of the chunks
        before the fault are already appended."""
        stats = self._stats
        size = len(payload)
        if size < 12:
            raise SctpError("truncated_sctp_header")
        sport, dport, vtag, _checksum = _COMMON.unpack_from(payload, 0)
        direction = (src, dst, sport, dport)
        chunk_types = stats.chunk_types
        seen_by_direction = self._seen
        dedup = self._dedup
        unpack_data = _DATA.unpack_from
        pos = 12
        while pos + 4 <= size:
            ctype = payload[pos]
            clen = (payload[pos + 2] << 8) | payload[pos + 3]
            if clen < 4:
                raise SctpError("bad_chunk_length")
            cend = pos + clen
            if cend > size:
                raise SctpError("truncated_chunk")
            if ctype == CHUNK_DATA:
                if clen < 16:
                    raise SctpError("short_data_chunk")
                _t, flags, _l, tsn, stream, ssn, ppid = unpack_data(payload, pos)
                if flags & 3 == 3 and dedup:
                    # the common case inline: an unfragmented chunk, a known direction
                    seen = seen_by_direction.get(direction)
                    if seen is not None and seen[0] == vtag:
                        tsns = seen[1]
                        if tsn in tsns:
                            stats.skip("sctp_duplicate_tsn")
                        else:
                            tsns.add(tsn)
                            ring = seen[2]
                            ring.append(tsn)
                            if len(ring) > DEDUP_WINDOW:
                                _forget_oldest(tsns, ring)
                            messages.append((stream, ppid, payload[pos + 16:cend], (pos, cend)))
                        pos = (cend + 3) & ~3
                        continue
                self._data(direction, vtag, flags, tsn, stream, ssn, ppid,
                           payload[pos + 16:cend], (pos, cend), messages)
            elif ctype == CHUNK_I_DATA:
                if clen < 20:
                    raise SctpError("short_i_data_chunk")
                _t, flags, _l, tsn, stream, _r, mid, ppid_fsn = _I_DATA.unpack_from(payload, pos)
                # the first fragment carries the PPID, later ones the fragment number
                self._data(direction, vtag, flags, tsn, stream, mid, ppid_fsn,
                           payload[pos + 20:cend], (pos, cend), messages, i_data=True)
            else:
                if ctype == CHUNK_INIT or ctype == CHUNK_INIT_ACK:
                    self._forget(src, dst, sport, dport)
                chunk_types[ctype] = chunk_types.get(ctype, 0) + 1
            pos = (cend + 3) & ~3
        return sport, dport

    def _forget(self, src, dst, sport, dport):
        # a new association between the same endpoints starts its TSNs afresh
        self._seen.pop((src, dst, sport, dport), None)
        self._seen.pop((dst, src, dport, sport), None)

    def _data(self, direction, vtag, flags, tsn, stream, ssn, ppid, data, offsets, messages, i_data=False):
        stats = self._stats
        if self._dedup:
            seen = self._seen.get(direction)
            if seen is None or seen[0] != vtag:
                # first packet of this direction, or a new association (new tag)
                if seen is None and len(self._seen) >= MAX_ASSOCIATIONS:
                    self._seen.popitem(last=False)
                seen = self._seen[direction] = (vtag, set(), [])
            _tag, tsns, ring = seen
            if tsn in tsns:
                stats.skip("sctp_duplicate_tsn")
                return
            tsns.add(tsn)
            ring.append(tsn)
            if len(ring) > DEDUP_WINDOW:
                _forget_oldest(tsns, ring)
        if flags & 3 == 3:
            messages.append((stream, ppid, data, offsets))
            return
        stats.count("sctp_fragments")
        key = (direction, stream, ssn, flags & 4)
        pending = self._fragments.get(key)
        if pending is None:
            if len(self._fragments) >= MAX_PENDING_MESSAGES:
                self._fragments.popitem(last=False)
                stats.skip("sctp_reassembly_evicted")
            pending = self._fragments[key] = {}
        # I-DATA orders fragments by FSN (in the PPID field after the first); DATA by TSN
        order = tsn
        if i_data:
            order = 0 if flags & 2 else ppid
        pending[order] = (flags, ppid, data)
        total = sum(len(part[2]) for part in pending.values())
        if total > MAX_MESSAGE_SIZE:
            del self._fragments[key]
            stats.skip("sctp_message_too_large")
            return
        keys = sorted(pending)
        if not i_data and keys[-1] - keys[0] > 0x7FFFFFFF:
            # the TSNs wrap around 2**32: order them in serial-number arithmetic
            keys = sorted(pending, key=lambda t: t + 0x100000000 if t < 0x80000000 else t)
            if (keys[-1] - keys[0]) % 0x100000000 != len(keys) - 1:
                return
            first, last = pending[keys[0]], pending[keys[-1]]
            if not (first[0] & 2 and last[0] & 1):
                return
            del self._fragments[key]
            messages.append((stream, first[1], b"".join(pending[k][2] for k in keys), offsets))
            return
        first = pending[keys[0]]
        last = pending[keys[-1]]
        if not (first[0] & 2 and last[0] & 1):
            return
        if not i_data and keys[-1] - keys[0] != len(keys) - 1:
            return
        if i_data and keys[-1] != len(keys) - 1:
            return
        del self._fragments[key]
        messages.append((stream, first[1], b"".join(pending[k][2] for k in keys), offsets))
