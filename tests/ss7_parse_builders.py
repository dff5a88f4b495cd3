"""Byte builders for the ss7tools parse unit tests (layer by layer)."""

import struct


def tlv(tag, value):
    value = bytes(value)
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    elif n < 0x100:
        length = bytes((0x81, n))
    else:
        length = bytes((0x82,)) + n.to_bytes(2, "big")
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big") + length + value


def tbcd(digits):
    digits = digits + ("f" if len(digits) % 2 else "")
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def isdn(digits):
    return b"\x91" + tbcd(digits)


def tcap_begin(otid, components, ac_oid=None):
    body = tlv(0x48, otid)
    if ac_oid is not None:
        aarq = tlv(0x60, tlv(0x80, b"\x07\x80") + tlv(0xA1, tlv(0x06, ac_oid)))
        body += tlv(0x6B, tlv(0x28, tlv(0x06, b"\x00\x11\x86\x05\x01\x01\x01") + tlv(0xA0, aarq)))
    body += tlv(0x6C, b"".join(components))
    return tlv(0x62, body)


def invoke(invoke_id, op_code, parameter=b"", linked=None):
    body = tlv(0x02, bytes((invoke_id,)))
    if linked is not None:
        body += tlv(0x80, bytes((linked,)))
    body += tlv(0x02, bytes((op_code,))) + parameter
    return tlv(0xA1, body)


def gt_address(digits, ssn, pc=None, gti=4):
    ind = (gti << 2) | 0x02 | (0x01 if pc is not None else 0)
    out = bytes((ind,))
    if pc is not None:
        out += struct.pack("<H", pc)
    out += bytes((ssn,))
    odd = len(digits) % 2
    if gti == 4:
        out += bytes((0, 0x10 | (1 if odd else 2), 0x04))
    elif gti == 1:
        out += bytes(((0x80 if odd else 0) | 0x04,))
    elif gti == 2:
        out += bytes((0,))
    elif gti == 3:
        out += bytes((0, 0x10 | (1 if odd else 2)))
    return out + tbcd(digits)


def udt(called, calling, data):
    # type, class, 3 pointers, then the variable parts
    p1 = 3
    p2 = p1 - 1 + 1 + len(called)
    p3 = p2 - 1 + 1 + len(calling)
    return (bytes((0x09, 0x00, p1, p2, p3)) + bytes((len(called),)) + called
            + bytes((len(calling),)) + calling + bytes((len(data),)) + data)


def xudt(called, calling, data, segmentation=None, msg_type=0x11, first=0x00):
    p1 = 4
    p2 = p1 - 1 + 1 + len(called)
    p3 = p2 - 1 + 1 + len(calling)
    p4 = (p3 - 1 + 1 + len(data)) if segmentation else 0
    out = (bytes((msg_type, first, 15, p1, p2, p3, p4)) + bytes((len(called),)) + called
           + bytes((len(calling),)) + calling + bytes((len(data),)) + data)
    if segmentation:
        out += bytes((0x10, 4)) + segmentation + b"\x00"
    return out


def m3ua_data(opc, dpc, user_data, si=3, ni=2, sls=5, rc=None, na=None):
    params = b""
    if na is not None:
        params += struct.pack("!HHI", 0x0200, 8, na)
    if rc is not None:
        params += struct.pack("!HHI", 0x0006, 8, rc)
    pd = struct.pack("!IIBBBB", opc, dpc, si, ni, 0, sls) + user_data
    pad = (-len(pd)) % 4
    params += struct.pack("!HH", 0x0210, 4 + len(pd)) + pd + b"\x00" * pad
    return struct.pack("!BBBBI", 1, 0, 1, 1, 8 + len(params)) + params


def m3ua_message(msg_class, msg_type, params=b""):
    return struct.pack("!BBBBI", 1, 0, msg_class, msg_type, 8 + len(params)) + params


def m2pa_user_data(opc, dpc, sls, user_data, si=3, ni=2):
    label = (dpc & 0x3FFF) | ((opc & 0x3FFF) << 14) | ((sls & 0xF) << 28)
    mtp3 = bytes(((ni << 6) | si,)) + label.to_bytes(4, "little") + user_data
    body = struct.pack("!II", 0, 1) + b"\x00" + mtp3
    return struct.pack("!BBBBI", 1, 0, 11, 1, 8 + len(body)) + body


def data_chunk(tsn, payload, stream=1, ssn=0, ppid=3, flags=3):
    chunk = struct.pack("!BBHIHHI", 0, flags, 16 + len(payload), tsn, stream, ssn, ppid) + payload
    return chunk + b"\x00" * ((-len(chunk)) % 4)


def i_data_chunk(tsn, payload, mid, ppid_fsn, stream=1, flags=3):
    chunk = struct.pack("!BBHIHHII", 64, flags, 20 + len(payload), tsn, stream, 0, mid, ppid_fsn) + payload
    return chunk + b"\x00" * ((-len(chunk)) % 4)


def sctp(chunks, sport=2905, dport=2905, vtag=1):
    return struct.pack("!HHII", sport, dport, vtag, 0) + b"".join(chunks)


def ipv4(payload, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", proto=132, ident=1, frag=0):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, src, dst)
    return header + payload


def ipv6(payload, nxt=132, extensions=b""):
    src = bytes(15) + b"\x01"
    dst = bytes(15) + b"\x02"
    return struct.pack("!IHBB", 0x60000000, len(extensions) + len(payload), nxt, 64) + src + dst + extensions + payload


def ethernet(ip_packet, ethertype=0x0800, vlans=()):
    out = b"\x00\x01\x02\x03\x04\x05" + b"\x00\x01\x02\x03\x04\x06"
    for tpid, vid in vlans:
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", ethertype) + ip_packet


def pcap_file(frames, linktype=1, nsec=False, big_endian=False):
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(order + "IIII", 1000 + i, 500 if not nsec else 500000, len(frame), len(frame)) + frame
    return out


def pcapng_file(frames, linktype=1, tsresol=None):
    def block(btype, body):
        body += b"\x00" * ((-len(body)) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = b""
    if tsresol is not None:
        options = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
    out += block(1, struct.pack("<HHI", linktype, 0, 65535) + options)
    for i, frame in enumerate(frames):
        if tsresol == 9:
            ticks = (1000 + i) * 10 ** 9 + 500000
        else:
            ticks = (1000 + i) * 10 ** 6 + 500
        out += block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    return out
