"""M3UA (RFC 4666) message decoding.

``decode(data)`` returns an :class:`M3uaMessage`; for DATA messages the
Protocol Data parameter gives the MTP3 routing label and the user data.
Class and type names are the RFC's abbreviations (class ``Transfer``, type
``DATA``; ``ASPSM``/``BEAT_ACK`` ...); unknown ones read ``class_N``/``type_N``.
"""

import struct

from .errors import M3uaError

CLASS_MGMT = 0
CLASS_TRANSFER = 1
CLASS_SSNM = 2
CLASS_ASPSM = 3
CLASS_ASPTM = 4
CLASS_RKM = 9

CLASS_NAMES = {
    CLASS_MGMT: "MGMT",
    CLASS_TRANSFER: "Transfer",
    CLASS_SSNM: "SSNM",
    CLASS_ASPSM: "ASPSM",
    CLASS_ASPTM: "ASPTM",
    CLASS_RKM: "RKM",
}

TYPE_NAMES = {
    CLASS_MGMT: {0: "ERR", 1: "NTFY"},
    CLASS_TRANSFER: {1: "DATA"},
    CLASS_SSNM: {1: "DUNA", 2: "DAVA", 3: "DAUD", 4: "SCON", 5: "DUPU", 6: "DRST"},
    CLASS_ASPSM: {1: "ASPUP", 2: "ASPDN", 3: "BEAT", 4: "ASPUP_ACK", 5: "ASPDN_ACK", 6: "BEAT_ACK"},
    CLASS_ASPTM: {1: "ASPAC", 2: "ASPIA", 3: "ASPAC_ACK", 4: "ASPIA_ACK"},
    CLASS_RKM: {1: "REG_REQ", 2: "REG_RSP", 3: "DEREG_REQ", 4: "DEREG_RSP"},
}

TAG_NETWORK_APPEARANCE = 0x0200
TAG_ROUTING_CONTEXT = 0x0006
TAG_PROTOCOL_DATA = 0x0210
TAG_CORRELATION_ID = 0x0013

PARAMETER_NAMES = {
    0x0004: "INFO String", 0x0006: "Routing Context", 0x0007: "Diagnostic Information",
    0x0009: "Heartbeat Data", 0x000B: "Traffic Mode Type", 0x000C: "Error Code",
    0x000D: "Status", 0x0011: "ASP Identifier", 0x0012: "Affected Point Code",
    0x0013: "Correlation ID", 0x0200: "Network Appearance", 0x0204: "User/Cause",
    0x0205: "Congestion Indications", 0x0206: "Concerned Destination",
    0x0207: "Routing Key", 0x0208: "Registration Result", 0x0209: "Deregistration Result",
    0x020A: "Local Routing Key Identifier", 0x020B: "Destination Point Code",
    0x020C: "Service Indicators", 0x020E: "Originating Point Code List",
    0x0210: "Protocol Data", 0x0212: "Registration Status",
    0x0213: "Deregistration Status",
}

_HEADER = struct.Struct("!BBBBI")
_PROTOCOL_DATA = struct.Struct("!IIBBBB")


def class_name(msg_class):
    return CLASS_NAMES.get(msg_class) or "class_%d" % msg_class


def type_name(msg_class, msg_type):
    return TYPE_NAMES.get(msg_class, {}).get(msg_type) or "type_%d" % msg_type


class M3uaMessage:
    """One decoded M3UA message; absent parameters are None."""

    __slots__ = ("msg_class", "msg_type", "class_name", "type_name",
                 "opc", "dpc", "si", "ni", "mp", "sls", "network_appearance",
                 "routing_context", "correlation_id", "user_data", "parameters",
                 "error")

    def __init__(self, msg_class, msg_type):
        self.msg_class = msg_class
        self.msg_type = msg_type
        self.class_name = class_name(msg_class)
        self.type_name = type_name(msg_class, msg_type)
        self.opc = self.dpc = self.si = self.ni = self.mp = self.sls = None
        self.network_appearance = self.routing_context = None
        self.correlation_id = None
        self.user_data = None
        self.parameters = []
        self.error = None


def decode(data):
    """Decode one M3UA message.

    A bad common header raises :class:`M3uaError`; a bad parameter ends the
    walk with ``error`` set, keeping the class, type and parameters before it.
    ``routing_context`` is the first context of the parameter (tshark shows
    the same); every parameter is kept in ``parameters`` as ``(tag, value)``.
    """
    size = len(data)
    if size < 8:
        raise M3uaError("m3ua: truncated common header")
    version, _reserved, msg_class, msg_type, length = _HEADER.unpack_from(data, 0)
    if version != 1:
        raise M3uaError("m3ua: version %d" % version)
    if length < 8 or length > size:
        raise M3uaError("m3ua: message length %d for %d octets" % (length, size))
    msg = M3uaMessage(msg_class, msg_type)
    pos = 8
    while pos + 4 <= length:
        tag = (data[pos] << 8) | data[pos + 1]
        plen = (data[pos + 2] << 8) | data[pos + 3]
        if plen < 4 or pos + plen > length:
            msg.error = "m3ua: parameter 0x%04x length %d" % (tag, plen)
            return msg
        value = data[pos + 4:pos + plen]
        if tag == TAG_PROTOCOL_DATA:
            if plen < 16:
                msg.error = "m3ua: protocol data too short"
                return msg
            (msg.opc, msg.dpc, msg.si, msg.ni, msg.mp, msg.sls) = _PROTOCOL_DATA.unpack_from(value, 0)
            msg.user_data = value[12:]
        elif tag == TAG_ROUTING_CONTEXT:
            if plen >= 8:
                msg.routing_context = int.from_bytes(value[0:4], "big")
        elif tag == TAG_NETWORK_APPEARANCE:
            if plen >= 8:
                msg.network_appearance = int.from_bytes(value[0:4], "big")
        elif tag == TAG_CORRELATION_ID:
            if plen >= 8:
                msg.correlation_id = int.from_bytes(value[0:4], "big")
        msg.parameters.append((tag, value))
        pos += (plen + 3) & ~3
    if msg_class == CLASS_TRANSFER and msg_type == 1 and msg.user_data is None:
        msg.error = "m3ua: DATA without protocol data"
    return msg


# (class << 8 | type) -> names: an int key, no tuple to build per message
_NAMES = {}
for _c, _types in TYPE_NAMES.items():
    for _t, _n in _types.items():
        _NAMES[_c << 8 | _t] = (CLASS_NAMES[_c], _n)
del _c, _t, _n, _types
_HEADER_UNPACK = _HEADER.unpack_from
_PD_UNPACK = _PROTOCOL_DATA.unpack_from


def decode_fields(data):
    """:func:`decode_label`'s values in one tuple: ``(class_name, type_name,
    opc, dpc, si, ni, sls, network_appearance, routing_context, user_data,
    error)``."""
    label, user_data, error = decode_label(data)
    return label + (user_data, error)


def decode_label(data):
    """What the parse hot path needs, without building objects:
    ``(label, user_data, error)`` with ``label`` the values of a
    :class:`~ss7tools.model.RoutingLabel`, ``(class_name, type_name, opc,
    dpc, si, ni, sls, network_appearance, routing_context)``.  Raises
    :class:`M3uaError` for a bad common header, like :func:`decode`.
    """
    size = len(data)
    if size < 8:
        raise M3uaError("m3ua: truncated common header")
    version, _reserved, msg_class, msg_type, length = _HEADER_UNPACK(data, 0)
    if version != 1:
        raise M3uaError("m3ua: version %d" % version)
    if length < 8 or length > size:
        raise M3uaError("m3ua: message length %d for %d octets" % (length, size))
    names = _NAMES.get(msg_class << 8 | msg_type)
    if names is None:
        names = (class_name(msg_class), type_name(msg_class, msg_type))
    opc = dpc = si = ni = sls = na = rc = user_data = error = None
    pos = 8
    while pos + 4 <= length:
        tag = (data[pos] << 8) | data[pos + 1]
        plen = (data[pos + 2] << 8) | data[pos + 3]
        if plen < 4 or pos + plen > length:
            error = "m3ua: parameter 0x%04x length %d" % (tag, plen)
            break
        if tag == TAG_PROTOCOL_DATA:
            if plen < 16:
                error = "m3ua: protocol data too short"
                break
            opc, dpc, si, ni, _mp, sls = _PD_UNPACK(data, pos + 4)
            user_data = data[pos + 16:pos + plen]
        elif tag == TAG_ROUTING_CONTEXT:
            if plen >= 8 and rc is None:
                rc = int.from_bytes(data[pos + 4:pos + 8], "big")
        elif tag == TAG_NETWORK_APPEARANCE:
            if plen >= 8:
                na = int.from_bytes(data[pos + 4:pos + 8], "big")
        pos += (plen + 3) & ~3
    if user_data is None and error is None and msg_class == CLASS_TRANSFER and msg_type == 1:
        error = "m3ua: DATA without protocol data"
    return (names[0], names[1], opc, dpc, si, ni, sls, na, rc), user_data, error
