"""MILENAGE written out from TS 35.206 section 4.1 for the tests, apart
from pyhss.auc (which it checks): the Cx tests and the test SIP UA
compute RES, CK, IK and AUTN with it, as a USIM would."""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# TS 35.206 4.1: rotations r1..r5 (bits) and constants c1..c5.
_R = (64, 0, 32, 64, 96)
_C = tuple((0).to_bytes(15, "big") + bytes([value]) for value in (0, 1, 2, 4, 8))


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def _rotate(block, bits):
    value = int.from_bytes(block, "big")
    bits %= 128
    return (((value << bits) | (value >> (128 - bits))) & ((1 << 128) - 1)).to_bytes(16, "big")


def _encrypt(key, block):
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def opc_from_op(k, op):
    return _xor(op, _encrypt(k, op))


def functions(k, opc, rand, sqn, amf):
    """{f1, f1*, f2 (RES), f3 (CK), f4 (IK), f5 (AK), f5* (AK*)} for 6-octet
    ``sqn`` and 2-octet ``amf``."""
    temp = _encrypt(k, _xor(rand, opc))
    in1 = sqn + amf + sqn + amf
    out1 = _xor(_encrypt(k, _xor(_xor(temp, _rotate(_xor(in1, opc), _R[0])), _C[0])), opc)
    outs = [_xor(_encrypt(k, _xor(_rotate(_xor(temp, opc), _R[i]), _C[i])), opc) for i in range(1, 5)]
    return {"f1": out1[:8], "f1*": out1[8:], "f2": outs[0][8:], "f5": outs[0][:6], "f3": outs[1],
            "f4": outs[2], "f5*": outs[3][:6]}


def usim_check(k, opc, rand, autn):
    """What a USIM does with RAND and AUTN: (SQN, RES, CK, IK) when MAC-A
    verifies, else AssertionError."""
    concealed, amf, mac = autn[:6], autn[6:8], autn[8:]
    ak = functions(k, opc, rand, b"\0" * 6, amf)["f5"]
    sqn = _xor(concealed, ak)
    values = functions(k, opc, rand, sqn, amf)
    if values["f1"] != mac:
        raise AssertionError("MAC-A does not verify")
    return int.from_bytes(sqn, "big"), values["f2"], values["f3"], values["f4"]


def auts(k, opc, rand, sqn_ms):
    """AUTS = SQN_MS xor AK* || MAC-S (TS 33.102 6.3.3, AMF* = 0000)."""
    sqn = sqn_ms.to_bytes(6, "big")
    dummy_amf = b"\0\0"
    values = functions(k, opc, rand, sqn, dummy_amf)
    return _xor(sqn, values["f5*"]) + values["f1*"]
