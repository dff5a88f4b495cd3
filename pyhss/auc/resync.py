"""Re-synchronisation (TS 33.102 6.3.3, 6.3.5; TS 29.272 7.3.15).

Re-Synchronization-Info = RAND (16 octets) || AUTS (14 octets), with
AUTS = (SQN_MS xor AK*) || MAC-S, AK* = f5*(RAND), MAC-S =
f1*(SQN_MS || RAND || AMF*) and AMF* = 0x0000 (the dummy AMF of 6.3.3).

The AuC recovers SQN_MS, verifies MAC-S, and only then lets the store
move SQN_HE (a :class:`pyhss.auc.sqn.SqnRequest` with SQN_MS as its resync
point).  A MAC-S that does not verify raises :class:`ResyncMacMismatch`
before anything is written.
"""

import hmac
from dataclasses import dataclass

from pyhss.auc.errors import MalformedResyncInfo, ResyncMacMismatch
from pyhss.auc.sqn import DEFAULT_DELTA, DEFAULT_IND_BITS, SqnRequest

RESYNC_INFO_LENGTH = 30
AUTS_LENGTH = 14
RESYNC_AMF = b"\x00\x00"


@dataclass(frozen=True, slots=True)
class Resynchronisation:
    """A verified AUTS: the USIM's SQN_MS and the RAND it answered."""

    rand: bytes
    sqn_ms: int

    def request(self, count, ind_bits=DEFAULT_IND_BITS, delta=DEFAULT_DELTA):
        """The :class:`SqnRequest` for ``count`` fresh SQNs continuing from
        SQN_MS (or from SQN_HE when that is still acceptable to the USIM)."""
        return SqnRequest(count, ind_bits, self.sqn_ms, delta)

    def __repr__(self):
        return f"Resynchronisation(sqn_ms={self.sqn_ms})"


def split_resync_info(resync_info):
    """(RAND, AUTS) from Re-Synchronization-Info; checks the length."""
    if not isinstance(resync_info, (bytes, bytearray)) or len(resync_info) != RESYNC_INFO_LENGTH:
        length = len(resync_info) if isinstance(resync_info, (bytes, bytearray)) else type(resync_info).__name__
        raise MalformedResyncInfo(f"Re-Synchronization-Info must be {RESYNC_INFO_LENGTH} octets, got {length}")
    resync_info = bytes(resync_info)
    return resync_info[:16], resync_info[16:]


def resynchronise(milenage, resync_info):
    """Verify AUTS and return the :class:`Resynchronisation`.

    Raises :class:`MalformedResyncInfo` or :class:`ResyncMacMismatch`.
    """
    rand, auts = split_resync_info(resync_info)
    ak_star = milenage.f5_star(rand)
    sqn_ms = bytes(a ^ b for a, b in zip(auts[:6], ak_star))
    expected = milenage.f1_star(rand, sqn_ms, RESYNC_AMF)
    if not hmac.compare_digest(expected, auts[6:]):
        raise ResyncMacMismatch("MAC-S in AUTS does not verify")
    return Resynchronisation(rand, int.from_bytes(sqn_ms, "big"))


def compute_auts(milenage, rand, sqn_ms):
    """AUTS as a USIM builds it (for tests, simulators and tools)."""
    sqn_ms = sqn_ms.to_bytes(6, "big") if isinstance(sqn_ms, int) else bytes(sqn_ms)
    ak_star = milenage.f5_star(rand)
    concealed = bytes(a ^ b for a, b in zip(sqn_ms, ak_star))
    return concealed + milenage.f1_star(rand, sqn_ms, RESYNC_AMF)
