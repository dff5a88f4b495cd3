"""M2PA (RFC 4165) messages and the MTP3 (ITU Q.704) routing label they carry.

``decode(data)`` returns ``(type_name, mtp3)`` where ``mtp3`` is None for
link status messages and otherwise ``(si, ni, opc, dpc, sls, user_data)``.
"""

import struct

from .errors import M2paError

MESSAGE_CLASS_M2PA = 11
TYPE_USER_DATA = 1
TYPE_LINK_STATUS = 2
TYPE_NAMES = {TYPE_USER_DATA: "User Data", TYPE_LINK_STATUS: "Link Status"}

_HEADER = struct.Struct("!BBBBI")


def decode_mtp3(data, pos=0):
    """ITU MTP3 SIO and routing label: ``(si, ni, opc, dpc, sls, user_data)``.

    The label is 32 bits little-endian: DPC (14 bits), OPC (14), SLS (4).
    """
    if len(data) < pos + 5:
        raise M2paError("mtp3: truncated routing label")
    sio = data[pos]
    label = int.from_bytes(data[pos + 1:pos + 5], "little")
    return (sio & 0x0F, sio >> 6, (label >> 14) & 0x3FFF, label & 0x3FFF,
            label >> 28, data[pos + 5:])


def decode(data):
    """Decode one M2PA message (header, BSN/FSN, priority octet, MTP3)."""
    if len(data) < 8:
        raise M2paError("m2pa: truncated common header")
    version, _spare, msg_class, msg_type, length = _HEADER.unpack_from(data, 0)
    if version != 1 or msg_class != MESSAGE_CLASS_M2PA:
        raise M2paError("m2pa: version %d class %d" % (version, msg_class))
    if length < 16 or length > len(data):
        raise M2paError("m2pa: message length %d for %d octets" % (length, len(data)))
    name = TYPE_NAMES.get(msg_type, "type_%d" % msg_type)
    if msg_type != TYPE_USER_DATA:
        return name, None
    if length == 16:
        # an empty user data message acknowledges only (BSN update)
        return name, None
    # 8 header + BSN 4 + FSN 4 + priority octet 1
    return name, decode_mtp3(data[:length], 17)
