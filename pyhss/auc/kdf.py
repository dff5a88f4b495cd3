"""The generic 3GPP key derivation function and K_ASME.

TS 33.220 Annex B.2: KDF(Key, S) = HMAC-SHA-256(Key, S) with
S = FC || P0 || L0 || P1 || L1 || ... , Li the length of Pi in octets as a
two-octet big-endian number.

TS 33.401 Annex A.2: K_ASME = KDF(CK || IK, S) with FC = 0x10,
P0 = serving network identity (SN id: the PLMN identity, 3 octets, encoded
like Visited-PLMN-Id of TS 29.272 / TS 24.008 10.5.1.13), P1 = SQN xor AK
(6 octets).
"""

import hmac

from pyhss.auc.errors import InvalidKeyMaterial

FC_KASME = 0x10


def kdf(key, fc, *parameters):
    """TS 33.220 Annex B KDF; returns 32 octets."""
    if not 0 <= fc <= 0xFF:
        raise InvalidKeyMaterial(f"FC must fit one octet, got {fc}")
    parts = [bytes((fc,))]
    for parameter in parameters:
        if len(parameter) > 0xFFFF:
            raise InvalidKeyMaterial("KDF parameter longer than 65535 octets")
        parts.append(bytes(parameter))
        parts.append(len(parameter).to_bytes(2, "big"))
    return hmac.digest(key, b"".join(parts), "sha256")


def derive_kasme(ck, ik, serving_network_id, sqn_xor_ak):
    """K_ASME (32 octets) per TS 33.401 Annex A.2."""
    if len(ck) != 16 or len(ik) != 16:
        raise InvalidKeyMaterial("CK and IK must be 16 octets each")
    if len(sqn_xor_ak) != 6:
        raise InvalidKeyMaterial("SQN xor AK must be 6 octets")
    return kasme_deriver(serving_network_id)(bytes(ck) + bytes(ik), bytes(sqn_xor_ak))


def kasme_deriver(serving_network_id):
    """``derive(ck_ik, sqn_xor_ak)`` -> K_ASME for one serving network.

    For the vectors of one AIR: the serving network id is checked and the
    constant part of S built once.  ``ck_ik`` is CK || IK (32 octets) and
    ``sqn_xor_ak`` 6 octets, as Milenage returns them (not re-checked).
    """
    if len(serving_network_id) != 3:
        raise InvalidKeyMaterial("serving network id (PLMN id) must be 3 octets")
    # S = 0x10 || SN id || 0x0003 || SQN^AK || 0x0006, written out flat.
    prefix = bytes((FC_KASME,)) + bytes(serving_network_id) + b"\x00\x03"

    def derive(ck_ik, sqn_xor_ak):
        return hmac.digest(ck_ik, prefix + sqn_xor_ak + b"\x00\x06", "sha256")
    return derive


def encode_plmn_id(mcc, mnc):
    """PLMN identity octets from MCC/MNC digit strings (TS 24.008 10.5.1.13).

    Octet 1: MCC digit 2 | MCC digit 1; octet 2: MNC digit 3 (0xF for a
    two-digit MNC) | MCC digit 3; octet 3: MNC digit 2 | MNC digit 1.
    ``encode_plmn_id('208', '95') == bytes.fromhex('02f859')``.
    """
    if len(mcc) != 3 or not mcc.isdigit() or len(mnc) not in (2, 3) or not mnc.isdigit():
        raise InvalidKeyMaterial(f"bad MCC/MNC {mcc!r}/{mnc!r}")
    d = [int(c) for c in mcc]
    n = [int(c) for c in mnc]
    mnc3 = n[2] if len(n) == 3 else 0xF
    return bytes(((d[1] << 4) | d[0], (mnc3 << 4) | d[2], (n[1] << 4) | n[0]))


def decode_plmn_id(octets):
    """Inverse of :func:`encode_plmn_id`: returns (mcc, mnc) strings."""
    if len(octets) != 3:
        raise InvalidKeyMaterial("PLMN id must be 3 octets")
    o1, o2, o3 = octets
    digits = (o1 & 0xF, o1 >> 4, o2 & 0xF, o3 & 0xF, o3 >> 4)
    mnc3 = o2 >> 4
    if any(x > 9 for x in digits) or (mnc3 > 9 and mnc3 != 0xF):
        raise InvalidKeyMaterial(f"PLMN id is not BCD: {bytes(octets).hex()}")
    mcc = "%d%d%d" % digits[:3]
    mnc = "%d%d" % digits[3:] + ("" if mnc3 == 0xF else str(mnc3))
    return mcc, mnc
