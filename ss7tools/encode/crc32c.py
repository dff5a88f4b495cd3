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


def crc32c(data, crc=0):
    """CRC32c of ``data``; ``crc`` continues a previous result."""
    table = CRC32C_TABLE
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def sctp_checksum(packet):
    """Wire bytes of the checksum for an SCTP packet (checksum field ignored)."""
    packet = bytes(packet)
    crc = crc32c(packet[:8])
    crc = crc32c(b"\x00\x00\x00\x00", crc)
    crc = crc32c(packet[12:], crc)
    # RFC 9260 A: the CRC is transmitted least significant byte first.
    return struct.pack("<I", crc)


def with_sctp_checksum(packet):
    """The SCTP packet with its checksum field recomputed."""
    packet = bytes(packet)
    return packet[:8] + sctp_checksum(packet) + packet[12:]
