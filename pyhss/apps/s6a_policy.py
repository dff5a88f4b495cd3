"""Whom S6a serves, and how much: the rules AIR and ULR refuse by.

One public object (:class:`S6aPolicy`) holds them, so that the refusal a
handler answers with and the state the store requires before it writes
(:class:`~pyhss.storage.interface.RequiredState`) come from one place
and cannot drift apart.
"""

from pyhss.apps.errors import ApplicationConfigError
from pyhss.auc.centre import DEFAULT_MAX_VECTORS
from pyhss.auc.kdf import encode_plmn_id
from pyhss.protocols import results
from pyhss.storage.interface import RequiredState

# TS 29.272 7.3.31 Access-Restriction-Data bit for each RAT-Type (TS 29.212 5.3.31)
RAT_RESTRICTION_BITS = {1000: 1 << 0, 1001: 1 << 1, 1002: 1 << 2, 1003: 1 << 3, 1004: 1 << 4, 1005: 1 << 6}

UTRAN_GERAN_VECTORS = ("utran", "geran")

# What the store must find before it writes, at home and visiting.
_AT_HOME = RequiredState(enabled=True)
_VISITING = RequiredState(enabled=True, roaming=True)


class S6aPolicy:
    """The HSS's own PLMN and what its subscribers may do.

    @param home_mcc, home_mnc: the HSS's PLMN (``hss.MCC``/``hss.MNC``).
    @param max_vectors: the cap on Number-Of-Requested-Vectors.
    @param utran_geran_vectors: what Requested-UTRAN-GERAN-Authentication-Info
        gets: C{"utran"} quintuplets (USIM subscribers, the default) or
        C{"geran"} triplets (SRES/Kc through c2/c3).
    """

    def __init__(self, home_mcc, home_mnc, max_vectors=DEFAULT_MAX_VECTORS, utran_geran_vectors="utran"):
        self.home_plmn = encode_plmn_id(home_mcc, home_mnc)
        self.max_vectors = max_vectors
        self.utran_geran_vectors = utran_geran_vectors
        self._ulr_states = {}   # (visiting, RAT-Type) -> RequiredState

    @property
    def utran_geran_vectors(self):
        return self._utran_geran_vectors

    @utran_geran_vectors.setter
    def utran_geran_vectors(self, kind):
        if kind not in UTRAN_GERAN_VECTORS:
            raise ApplicationConfigError("utran_geran_vectors must be 'utran' or 'geran'")
        self._utran_geran_vectors = kind

    def air_refusal(self, subscriber, visited_plmn):
        """(Experimental-Result-Code, Error-Message) refusing an AIR, or None."""
        if subscriber is None:
            return results.DIAMETER_ERROR_USER_UNKNOWN, None
        if not subscriber.enabled:
            return results.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION, "subscriber disabled"
        if visited_plmn != self.home_plmn and not subscriber.roaming_allowed:
            return results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED, None
        return None

    def air_state(self, visited_plmn):
        """The RequiredState that :meth:`air_refusal` lets through."""
        return _AT_HOME if visited_plmn == self.home_plmn else _VISITING

    def ulr_refusal(self, subscriber, visited_plmn, rat_type):
        """(Experimental-Result-Code, Error-Message) refusing a ULR, or None."""
        refusal = self.air_refusal(subscriber, visited_plmn)
        if refusal is not None:
            return refusal
        if subscriber.access_restriction_data & RAT_RESTRICTION_BITS.get(rat_type, 0):
            return results.DIAMETER_ERROR_RAT_NOT_ALLOWED, None
        return None

    def ulr_state(self, visited_plmn, rat_type):
        """The RequiredState that :meth:`ulr_refusal` lets through."""
        visiting = visited_plmn != self.home_plmn
        key = (visiting, rat_type)
        state = self._ulr_states.get(key)
        if state is None:
            state = RequiredState(enabled=True, roaming=visiting,
                                  restrictions=RAT_RESTRICTION_BITS.get(rat_type, 0))
            if len(self._ulr_states) < 64:   # RAT-Type comes from the peer: bounded
                self._ulr_states[key] = state
        return state

    def vector_counts(self, eutran, utran_geran):
        """(E-UTRAN, UTRAN, GERAN) vector counts for the counts an AIR asked
        for in its two groups (already capped at max_vectors)."""
        if self._utran_geran_vectors == "utran":
            return eutran, utran_geran, 0
        return eutran, 0, utran_geran
