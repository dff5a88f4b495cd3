"""SCCP connectionless messages (ITU-T Q.713): UDT, XUDT (with
segmentation), LUDT, UDTS, XUDTS and party addresses with GTI 1-4."""

import struct
from dataclasses import dataclass

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


def bcd_digits(digits):
    """Digits (0-9, *, #, a-c) to BCD with filler 0 for an odd count (the
    GT encoding of Q.713, low nibble first)."""
    table = "0123456789*#abc"
    nibbles = [table.index(d) if d in table else int(d, 16)
               for d in digits.lower()]
    if len(nibbles) % 2:
        nibbles.append(0)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4)
                 for i in range(0, len(nibbles), 2))


class SccpEncodeError(ValueError):
    """A value does not fit the message format."""


@dataclass
class SccpAddress:
    """A called/calling party address.  ``gti`` 0 means no global title."""
    ssn: int = None
    digits: str = None
    gti: int = 4
    pc: int = None
    tt: int = 0
    np: int = 1          # E.164
    nai: int = 4         # international
    route_on_ssn: bool = False

    def encode(self):
        indicator = 0
        if self.pc is not None:
            indicator |= 0x01
        if self.ssn is not None:
            indicator |= 0x02
        gti = self.gti if self.digits is not None else 0
        indicator |= (gti & 0x0F) << 2
        if self.route_on_ssn or gti == 0:
            indicator |= 0x40
        out = bytes([indicator])
        if self.pc is not None:
            out += struct.pack("<H", self.pc & 0x3FFF)
        if self.ssn is not None:
            out += bytes([self.ssn])
        if gti:
            odd = len(self.digits) % 2
            scheme = 1 if odd else 2
            if gti == 1:
                out += bytes([(odd << 7) | (self.nai & 0x7F)])
            elif gti == 2:
                out += bytes([self.tt])
            elif gti == 3:
                out += bytes([self.tt, (self.np << 4) | scheme])
            elif gti == 4:
                out += bytes([self.tt, (self.np << 4) | scheme,
                              self.nai & 0x7F])
            else:
                raise ValueError("GTI %d is not defined" % gti)
            out += bcd_digits(self.digits)
        return out


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
        raise ValueError("segmentation needs 2..16 segments, got %d"
                         % len(pieces))
    return [sccp_xudt(called, calling, piece, protocol_class=protocol_class,
                      hop_counter=hop_counter,
                      segmentation=(len(pieces) - 1 - index, local_ref,
                                    index == 0))
            for index, piece in enumerate(pieces)]
