"""Authentication vectors: E-UTRAN (TS 33.401 6.1), UTRAN quintuplets and
GERAN triplets (TS 33.102 6.3.2, 6.8.1).

Every function takes a bound :class:`~pyhss.auc.milenage.Milenage` and an
SQN reserved through the store (see :mod:`pyhss.auc.sqn`); RAND comes from
the operating system CSPRNG unless a test passes one.
"""

import os
from typing import NamedTuple

from pyhss.auc.conversions import c2, c3
from pyhss.auc.errors import InvalidKeyMaterial
from pyhss.auc.kdf import kasme_deriver

RAND_LENGTH = 16


# Vectors are NamedTuples (immutable, built in a third of the time of a
# frozen dataclass: one per vector under AIR load); repr never shows keys.

class EutranVector(NamedTuple):
    """E-UTRAN-Vector of TS 29.272 7.3.18 (``sqn`` is for the AuC's own use,
    never sent)."""

    rand: bytes
    xres: bytes
    autn: bytes
    kasme: bytes
    sqn: int

    def __repr__(self):
        return f"EutranVector(sqn={self.sqn}, rand={self.rand.hex()})"


class UtranVector(NamedTuple):
    """UTRAN-Vector (quintuplet) of TS 29.272 7.3.19."""

    rand: bytes
    xres: bytes
    autn: bytes
    ck: bytes
    ik: bytes
    sqn: int

    def __repr__(self):
        return f"UtranVector(sqn={self.sqn}, rand={self.rand.hex()})"


class GeranVector(NamedTuple):
    """GERAN-Vector (triplet) of TS 29.272 7.3.20."""

    rand: bytes
    sres: bytes
    kc: bytes

    def __repr__(self):
        return f"GeranVector(rand={self.rand.hex()})"


def _amf(amf):
    if len(amf) != 2:
        raise InvalidKeyMaterial(f"AMF must be 2 octets, got {len(amf)}")
    return bytes(amf)


def eutran_amf(amf):
    """AMF with the 'separation bit' (bit 0, 0x8000) set: TS 33.401 6.1.1
    requires it in every vector meant for E-UTRAN."""
    amf = _amf(amf)
    return bytes((amf[0] | 0x80, amf[1]))


def _autn_parts(milenage, rand, sqn, amf):
    mac_a, xres, ck, ik, ak = milenage.authenticate(rand, sqn, amf)
    sqn_xor_ak = (sqn ^ int.from_bytes(ak, "big")).to_bytes(6, "big")
    return sqn_xor_ak + amf + mac_a, sqn_xor_ak, xres, ck, ik


def eutran_vector(milenage, sqn, amf, serving_network_id, rand=None):
    """One E-UTRAN vector: RAND, XRES, AUTN = SQN^AK || AMF || MAC-A, K_ASME.

    ``amf`` is the subscriber's stored AMF; the separation bit is set here.
    ``serving_network_id`` is Visited-PLMN-Id (3 octets).
    """
    if rand is None:
        rand = os.urandom(RAND_LENGTH)
    return eutran_vectors(milenage, (sqn,), amf, serving_network_id, lambda _: rand)[0]


def eutran_vectors(milenage, sqns, amf, serving_network_id, random=os.urandom):
    """One E-UTRAN vector per SQN (what one AIA carries), as :func:`eutran_vector`
    computes it, with the AMF and serving network checked once.  ``random(16)``
    gives each RAND."""
    amf = eutran_amf(amf)
    derive = kasme_deriver(serving_network_id)
    authenticate = milenage.authenticate
    vectors = []
    for sqn in sqns:
        rand = random(RAND_LENGTH)
        mac_a, xres, ck, ik, ak = authenticate(rand, sqn, amf)
        sqn_xor_ak = (sqn ^ int.from_bytes(ak, "big")).to_bytes(6, "big")
        vectors.append(EutranVector(rand, xres, sqn_xor_ak + amf + mac_a, derive(ck + ik, sqn_xor_ak), sqn))
    return tuple(vectors)


def utran_vector(milenage, sqn, amf, rand=None):
    """One UTRAN quintuplet: RAND, XRES, AUTN (AMF as stored), CK, IK."""
    if rand is None:
        rand = os.urandom(RAND_LENGTH)
    autn, _, xres, ck, ik = _autn_parts(milenage, rand, sqn, _amf(amf))
    return UtranVector(rand, xres, autn, ck, ik, sqn)


def geran_vector(milenage, rand=None):
    """One GERAN triplet from the UMTS functions: SRES = c2(XRES),
    Kc = c3(CK, IK) (TS 33.102 6.8.1.2).  Uses no SQN."""
    if rand is None:
        rand = os.urandom(RAND_LENGTH)
    xres, ck, ik, _ = milenage.f2345(rand)
    return GeranVector(rand, c2(xres), c3(ck, ik))
