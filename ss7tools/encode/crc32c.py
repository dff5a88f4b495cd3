"""CRC32c (Castagnoli), the SCTP checksum of RFC 9260 appendix A.

Table driven, reflected polynomial 0x82F63B78.  ``sctp_checksum`` returns the
four bytes as they go on the wire.
"""

import struct

_POLY = 0x82F63B78


def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC32C_TABLE = _make_table()


def _slice_tables():
    # table k advances a byte through k further zero bytes ("slicing by 8")
    tables = [CRC32C_TABLE]
    for _ in range(7):
        prev = tables[-1]
        tables.append(tuple((prev[i] >> 8) ^ CRC32C_TABLE[prev[i] & 0xFF]
                            for i in range(256)))
    return tuple(tables)


_SLICES = _slice_tables()


def crc32c(data, crc=0):
    """CRC32c of ``data``; ``crc`` continues a previous result."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _SLICES
    crc ^= 0xFFFFFFFF
    whole = len(data) - len(data) % 8
    if whole:
        for word in struct.unpack_from("<%dQ" % (whole // 8), data):
            word ^= crc
            crc = (t7[word & 0xFF] ^ t6[(word >> 8) & 0xFF]
                   ^ t5[(word >> 16) & 0xFF] ^ t4[(word >> 24) & 0xFF]
                   ^ t3[(word >> 32) & 0xFF] ^ t2[(word >> 40) & 0xFF]
                   ^ t1[(word >> 48) & 0xFF] ^ t0[word >> 56])
    for byte in data[whole:]:
        crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def sctp_checksum(packet):
    """Wire bytes of the checksum for an SCTP packet (checksum field ignored)."""
    packet = bytes(packet)
    crc = crc32c(packet[:8] + b"\x00\x00\x00\x00" + packet[12:])
    # RFC 9260 A: the CRC is transmitted least significant byte first.
    return struct.pack("<I", crc)


def with_sctp_checksum(packet):
    """The SCTP packet with its checksum field recomputed."""
    packet = bytes(packet)
    return packet[:8] + sctp_checksum(packet) + packet[12:]
