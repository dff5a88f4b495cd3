"""Conversion functions c2 and c3 of TS 33.102 section 6.8.1.2.

They turn a UMTS quintuplet into GSM values, so an AuC holding only USIM
credentials can answer with GERAN triplets (RAND, SRES, Kc).
"""

from pyhss.auc.errors import InvalidKeyMaterial


def c2(xres):
    """SRES (4 octets) from XRES (4 to 16 octets).

    SRES = XRES*1 xor XRES*2 xor XRES*3 xor XRES*4, the XRES*i being the
    32-bit parts of XRES* = XRES padded with zero bits to 128 bits.  A
    32-bit XRES is therefore its own SRES.
    """
    if not 4 <= len(xres) <= 16:
        raise InvalidKeyMaterial(f"XRES must be 4 to 16 octets, got {len(xres)}")
    padded = int.from_bytes(bytes(xres).ljust(16, b"\x00"), "big")
    sres = (padded >> 96) ^ (padded >> 64) ^ (padded >> 32) ^ padded
    return (sres & 0xFFFFFFFF).to_bytes(4, "big")


def c3(ck, ik):
    """Kc (8 octets) = CK1 xor CK2 xor IK1 xor IK2 (64-bit halves)."""
    if len(ck) != 16 or len(ik) != 16:
        raise InvalidKeyMaterial("CK and IK must be 16 octets each")
    c = int.from_bytes(ck, "big")
    i = int.from_bytes(ik, "big")
    kc = (c >> 64) ^ c ^ (i >> 64) ^ i
    return (kc & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
