"""SCCP connectionless messages (ITU-T Q.713): UDT, XUDT (with
segmentation), LUDT, UDTS, XUDTS.  Party addresses are
:class:`~ss7tools.sccp_address.SccpAddress` (GTI 1-4), the decoder's class."""

import struct

from ss7tools.errors import SccpEncodeError
from ss7tools.sccp_address import SccpAddress

UDT = 0x09
UDTS = 0x0A
XUDT = 0x11
XUDTS = 0x12
LUDT = 0x13

PARAM_SEGMENTATION = 0x10
PARAM_END_OF_OPTIONAL = 0x00

SSN_HLR = 6
SSN_VLR = 7
SSN_MSC = 8
SSN_EIR = 9
SSN_SGSN = 149
SSN_GGSN = 150
SSN_GMLC = 145
SSN_GSMSCF = 147
SSN_SCCP_MGMT = 1


def _address(addr):
    return addr.encode() if isinstance(addr, SccpAddress) else bytes(addr)


def _pointer_message(fixed, variables, optional=None, long_form=False):
    """Fixed part, then one pointer per variable part (and the optional part
    pointer when ``optional`` is not None), then the parts.  Pointers count
    from their own position (Q.713 1.8)."""
    width = 2 if long_form else 1
    if any(len(v) > 255 for v in variables[:-1]) or \
            len(variables[-1]) > (0xFFFF if long_form else 0xFF):
        raise SccpEncodeError("SCCP parameter too long for this message type")
    count = len(variables) + (optional is not None)
    bodies = []
    for index, value in enumerate(variables):
        if long_form and index == len(variables) - 1:
            bodies.append(struct.pack("<H", len(value)) + value)
        else:
            bodies.append(bytes([len(value)]) + value)
    # Two-octet pointers count from their second octet (as Wireshark and
    # deployed LUDT implementations read Q.713 3.1).
    skew = 1 if long_form else 0
    pointers = []
    offset = count * width
    for index, body in enumerate(bodies):
        pointers.append(offset - index * width - skew)
        offset += len(body)
    if optional is not None:
        pointers.append(offset - len(bodies) * width - skew if optional else 0)
    limit = 0xFFFF if long_form else 0xFF
    if any(p > limit for p in pointers):
        raise SccpEncodeError("SCCP parameters too long for this message type")
    fmt = "<H" if long_form else "B"
    return (fixed + b"".join(struct.pack(fmt, p) for p in pointers)
            + b"".join(bodies) + (optional or b""))


def _optional(params):
    if not params:
        return b""
    return b"".join(bytes([tag, len(value)]) + value
                    for tag, value in params) + bytes([PARAM_END_OF_OPTIONAL])


def sccp_udt(called, calling, data, protocol_class=0, return_on_error=False):
    fixed = bytes([UDT, (protocol_class & 0x0F) | (0x80 if return_on_error
                                                    else 0)])
    return _pointer_message(fixed, [_address(called), _address(calling), data])


def sccp_udts(called, calling, data, return_cause=1):
    return _pointer_message(bytes([UDTS, return_cause]),
                            [_address(called), _address(calling), data])


def segmentation_param(remaining, local_ref, first, protocol_class=0):
    octet = (0x80 if first else 0) | (0x40 if protocol_class & 1 else 0) \
        | (remaining & 0x0F)
    return octet.to_bytes(1, "big") + (local_ref & 0xFFFFFF).to_bytes(3, "big")


def sccp_xudt(called, calling, data, protocol_class=0, hop_counter=15,
              segmentation=None, optional=()):
    """``segmentation``: (remaining, local_ref, first) or None."""
    params = list(optional)
    if segmentation is not None:
        params.insert(0, (PARAM_SEGMENTATION,
                          segmentation_param(*segmentation, protocol_class)))
    fixed = bytes([XUDT, protocol_class & 0x0F, hop_counter])
    return _pointer_message(fixed, [_address(called), _address(calling), data],
                            optional=_optional(params))


def sccp_xudts(called, calling, data, return_cause=1, hop_counter=15):
    fixed = bytes([XUDTS, return_cause, hop_counter])
    return _pointer_message(fixed, [_address(called), _address(calling), data],
                            optional=b"")


def sccp_ludt(called, calling, data, protocol_class=0, hop_counter=15):
    fixed = bytes([LUDT, protocol_class & 0x0F, hop_counter])
    return _pointer_message(fixed, [_address(called), _address(calling), data],
                            optional=b"", long_form=True)


def sccp_xudt_segments(called, calling, data, local_ref, segment_size=200,
                       protocol_class=1, hop_counter=15):
    """A user message too long for one XUDT, as segmented XUDTs (Q.714
    4.1.1.2): the first segment carries the F bit, every segment the count of
    segments still to come.  At most 16 segments."""
    pieces = [data[i:i + segment_size]
              for i in range(0, len(data), segment_size)]
    if not 1 < len(pieces) <= 16:
        raise SccpEncodeError("segmentation needs 2..16 segments, got %d"
                         % len(pieces))
    return [sccp_xudt(called, calling, piece, protocol_class=protocol_class,
                      hop_counter=hop_counter,
                      segmentation=(len(pieces) - 1 - index, local_ref,
                                    index == 0))
            for index, piece in enumerate(pieces)]
