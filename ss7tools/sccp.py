"""SCCP (ITU Q.713) connectionless messages, addresses and XUDT reassembly."""

from collections import OrderedDict

from .errors import SccpError
from .model import SccpHeader
from .sccp_address import cached_address, decode_address  # noqa: F401  (this layer's API)

UDT, UDTS, XUDT, XUDTS, LUDT, LUDTS = 0x09, 0x0A, 0x11, 0x12, 0x13, 0x14

TYPE_NAMES = {
    0x01: "CR", 0x02: "CC", 0x03: "CREF", 0x04: "RLSD", 0x05: "RLC", 0x06: "DT1",
    0x07: "DT2", 0x08: "AK", 0x09: "UDT", 0x0A: "UDTS", 0x0B: "ED", 0x0C: "EA",
    0x0D: "RSR", 0x0E: "RSC", 0x0F: "ERR", 0x10: "IT", 0x11: "XUDT", 0x12: "XUDTS",
    0x13: "LUDT", 0x14: "LUDTS",
}

RETURN_CAUSES = {
    0: "no translation for an address of such nature",
    1: "no translation for this specific address",
    2: "subsystem congestion", 3: "subsystem failure", 4: "unequipped user",
    5: "MTP failure", 6: "network congestion", 7: "unqualified",
    8: "error in message transport", 9: "error in local processing",
    10: "destination cannot perform reassembly", 11: "SCCP failure",
    12: "hop counter violation", 13: "segmentation not supported",
    14: "segmentation failure",
}

OPT_END = 0x00
OPT_SEGMENTATION = 0x10
OPT_IMPORTANCE = 0x12

SSN_SCMG = 1


class SccpMessage:
    """One SCCP message as this layer decodes it (the decoded message keeps
    its :func:`header`); ``data`` is None for types this module does not open."""

    __slots__ = ("msg_type", "type_name", "protocol_class", "return_cause",
                 "hop_counter", "called", "calling", "data", "segmentation",
                 "importance")

    def __init__(self, msg_type):
        self.msg_type = msg_type
        self.type_name = TYPE_NAMES.get(msg_type) or "type_%d" % msg_type
        self.protocol_class = self.return_cause = self.hop_counter = None
        self.called = self.calling = self.data = None
        self.segmentation = None  # (first, in_sequence, remaining, local_reference)
        self.importance = None


def _pointer_param(data, base, size, two_octets=False, long_length=False):
    """Variable parameter addressed by the pointer at ``base``."""
    if two_octets:
        if base + 2 > size:
            raise SccpError("sccp: pointer truncated")
        ptr = data[base] | (data[base + 1] << 8)
    else:
        if base >= size:
            raise SccpError("sccp: pointer truncated")
        ptr = data[base]
    if ptr == 0:
        raise SccpError("sccp: null mandatory pointer")
    # two-octet (LUDT/LUDTS) pointers count from their second octet, as
    # Wireshark reads them
    pos = base + ptr + (1 if two_octets else 0)
    if long_length:
        if pos + 2 > size:
            raise SccpError("sccp: parameter length truncated")
        length = data[pos] | (data[pos + 1] << 8)
        pos += 2
    else:
        if pos >= size:
            raise SccpError("sccp: parameter length truncated")
        length = data[pos]
        pos += 1
    if pos + length > size:
        raise SccpError("sccp: parameter runs past end")
    return data[pos:pos + length]


def decode(data):
    """Decode one SCCP message; raise :class:`SccpError` on malformed input."""
    size = len(data)
    if size < 1:
        raise SccpError("sccp: empty message")
    mtype = data[0]
    msg = SccpMessage(mtype)
    if mtype == UDT or mtype == UDTS:
        if size < 5:
            raise SccpError("sccp: truncated %s" % msg.type_name)
        if mtype == UDT:
            msg.protocol_class = data[1] & 0x0F
        else:
            msg.return_cause = data[1]
        msg.called = cached_address(_pointer_param(data, 2, size))
        msg.calling = cached_address(_pointer_param(data, 3, size))
        msg.data = _pointer_param(data, 4, size)
        return msg
    if mtype == XUDT or mtype == XUDTS:
        if size < 7:
            raise SccpError("sccp: truncated %s" % msg.type_name)
        if mtype == XUDT:
            msg.protocol_class = data[1] & 0x0F
        else:
            msg.return_cause = data[1]
        msg.hop_counter = data[2]
        msg.called = cached_address(_pointer_param(data, 3, size))
        msg.calling = cached_address(_pointer_param(data, 4, size))
        msg.data = _pointer_param(data, 5, size)
        if data[6]:
            _optional(msg, data, 6 + data[6], size)
        return msg
    if mtype == LUDT or mtype == LUDTS:
        if size < 11:
            raise SccpError("sccp: truncated %s" % msg.type_name)
        if mtype == LUDT:
            msg.protocol_class = data[1] & 0x0F
        else:
            msg.return_cause = data[1]
        msg.hop_counter = data[2]
        msg.called = cached_address(_pointer_param(data, 3, size, True))
        msg.calling = cached_address(_pointer_param(data, 5, size, True))
        msg.data = _pointer_param(data, 7, size, True, True)
        optional = data[9] | (data[10] << 8)
        if optional:
            _optional(msg, data, 10 + optional, size)
        return msg
    if mtype in TYPE_NAMES:
        return msg
    raise SccpError("sccp: unknown message type 0x%02x" % mtype)


_HEAD_CACHE = {}
_HEAD_CACHE_MAX = 16384


def header(msg):
    """The :class:`~ss7tools.model.SccpHeader` of a decoded message."""
    return SccpHeader(msg.type_name, msg.called, msg.calling, msg.protocol_class,
                      msg.return_cause, msg.hop_counter, msg.segmentation, msg.importance)


def decode_head(data):
    """``(header, user_data)`` of an unsegmented UDT/UDTS/XUDT/XUDTS, or None
    when :func:`decode` must run (other types, optional parameters, anything
    malformed); ``header`` is a :class:`~ss7tools.model.SccpHeader`.

    The part before the data parameter (type, class or cause, pointers, both
    addresses) repeats between a pair of peers: its header is memoised on
    those octets, one object for all the messages that carry them.
    """
    size = len(data)
    if size < 7:
        return None
    mtype = data[0]
    if mtype == UDT or mtype == UDTS:
        pos = 4 + data[4]
    elif (mtype == XUDT or mtype == XUDTS) and not data[6]:
        pos = 5 + data[5]
    else:
        return None
    if pos >= size:
        return None
    key = data[:pos]
    head = _HEAD_CACHE.get(key)
    if head is None:
        head = _head(data, pos)
        if head is None:
            return None
        if len(_HEAD_CACHE) >= _HEAD_CACHE_MAX:
            _HEAD_CACHE.clear()
        _HEAD_CACHE[key] = head
    end = pos + 1 + data[pos]
    if end > size:
        return None
    return head, data[pos + 1:end]


def _head(data, data_pos):
    """The cached part of :func:`decode_head`, or None unless both addresses
    lie before the data parameter (so that the key holds all they depend on)."""
    try:
        msg = decode(data)
    except SccpError:
        return None
    first = 2 if msg.msg_type == UDT or msg.msg_type == UDTS else 3
    for ptr in (first, first + 1):
        pos = ptr + data[ptr]
        if pos + 1 + data[pos] > data_pos:
            return None
    return header(msg)


def _optional(msg, data, pos, size):
    while pos < size:
        name = data[pos]
        if name == OPT_END:
            return
        if pos + 2 > size:
            raise SccpError("sccp: optional parameter truncated")
        length = data[pos + 1]
        value = data[pos + 2:pos + 2 + length]
        if len(value) < length:
            raise SccpError("sccp: optional parameter runs past end")
        if name == OPT_SEGMENTATION and length >= 4:
            first = value[0]
            msg.segmentation = (bool(first & 0x80), bool(first & 0x40), first & 0x0F,
                                int.from_bytes(value[1:4], "big"))
        elif name == OPT_IMPORTANCE and length >= 1:
            msg.importance = value[0] & 0x07
        pos += 2 + length


class SegmentReassembler:
    """Reassembly of segmented XUDT/XUDTS/LUDT (Q.714 4.1.1), bounded."""

    def __init__(self, max_pending=1024, max_size=64 * 1024):
        self._pending = OrderedDict()
        self._max_pending = max_pending
        self._max_size = max_size

    def add(self, opc, dpc, msg):
        """Add a segment; return the whole user data when complete, else None.

        Raises :class:`SccpError` for a segment out of sequence or too large.
        """
        first, _class1, remaining, local_ref = msg.segmentation
        calling = msg.calling
        key = (opc, dpc, local_ref, calling.digits if calling else None,
               calling.ssn if calling else None, calling.pc if calling else None)
        if first:
            if len(self._pending) >= self._max_pending:
                self._pending.popitem(last=False)
            if remaining == 0:
                self._pending.pop(key, None)
                return msg.data
            self._pending[key] = [remaining, [msg.data], len(msg.data)]
            return None
        entry = self._pending.get(key)
        if entry is None:
            raise SccpError("sccp: segment without its first segment")
        if remaining != entry[0] - 1:
            del self._pending[key]
            raise SccpError("sccp: segment out of sequence")
        entry[0] = remaining
        entry[1].append(msg.data)
        entry[2] += len(msg.data)
        if entry[2] > self._max_size:
            del self._pending[key]
            raise SccpError("sccp: segmented message too large")
        if remaining:
            return None
        del self._pending[key]
        return b"".join(entry[1])
