"""AIR and ULR read once, on the reactor, into plain values (see
L{pyhss.apps.s6a}).

A plan is what the handler needs of its request between asking the store
and answering: the store itself only gets records and
L{pyhss.storage.interface.RequiredState}.
"""

from pyhss.protocols.dictionary import DICTIONARY

# TS 29.272 7.3.7 ULR-Flags bit 2
ULR_SKIP_SUBSCRIBER_DATA = 1 << 2


# The AVPs an AIR is read for, by definition.
_SESSION_ID, _USER_NAME, _VISITED_PLMN_ID, _REQUESTED_EUTRAN, _PROXY_INFO, _REQUESTED_UTRAN_GERAN = range(6)
_AIR_FIELDS = {DICTIONARY.avp(name): field for field, name in enumerate((
    "Session-Id", "User-Name", "Visited-PLMN-Id", "Requested-EUTRAN-Authentication-Info", "Proxy-Info",
    "Requested-UTRAN-GERAN-Authentication-Info"))}
_NUMBER_OF_REQUESTED_VECTORS = DICTIONARY.avp("Number-Of-Requested-Vectors")
_RESYNCHRONIZATION_INFO = DICTIONARY.avp("Re-Synchronization-Info")


def requested_vectors(group, max_vectors):
    """(count, resync_info) of a Requested-*-Authentication-Info AVP, the
    count capped at ``max_vectors``."""
    count = resync = None
    for child in group.value:
        definition = child.definition
        if definition is _NUMBER_OF_REQUESTED_VECTORS:
            if count is None:
                count = child.value
        elif definition is _RESYNCHRONIZATION_INFO:
            if resync is None:
                resync = child.value
    return min(1 if count is None else count, max_vectors), resync


class AirPlan:
    """One AIR: its Session-Id, Proxy-Infos, IMSI, Visited-PLMN-Id and the
    vectors it asks for, as counts by kind (``policy``, an
    L{pyhss.apps.s6a_policy.S6aPolicy}, caps them and says whether the
    UTRAN/GERAN group gets quintuplets or triplets) and the
    Re-Synchronization-Info, if any (the E-UTRAN group's first)."""

    __slots__ = ("request", "session_id", "proxy_infos", "imsi", "visited_plmn", "visited_plmn_avp",
                 "eutran", "utran", "geran", "resync_info")

    def __init__(self, policy, request):
        self.request = request
        self.imsi = self.visited_plmn = self.visited_plmn_avp = self.session_id = None
        self.proxy_infos = []
        eutran = utran_geran = None
        max_vectors = policy.max_vectors
        # One pass over the top-level AVPs instead of a search per name;
        # decoded AVPs carry their definition (one object per code/vendor),
        # as node validation, which already ran, relies on.
        field_of = _AIR_FIELDS.get
        for avp in request.avps:
            field = field_of(avp.definition)
            if field is None:
                continue
            if field == _SESSION_ID:
                if self.session_id is None:
                    self.session_id = avp.value
            elif field == _USER_NAME:
                if self.imsi is None:
                    self.imsi = avp.value
            elif field == _VISITED_PLMN_ID:
                if self.visited_plmn_avp is None:
                    self.visited_plmn_avp = avp
                    self.visited_plmn = avp.value
            elif field == _REQUESTED_EUTRAN:
                if eutran is None:
                    eutran = requested_vectors(avp, max_vectors)
            elif field == _PROXY_INFO:
                self.proxy_infos.append(avp)
            elif field == _REQUESTED_UTRAN_GERAN:
                if utran_geran is None:
                    utran_geran = requested_vectors(avp, max_vectors)
        eutran_count, self.resync_info = eutran if eutran else (0, None)
        if utran_geran:
            if self.resync_info is None:
                self.resync_info = utran_geran[1]
            self.eutran, self.utran, self.geran = policy.vector_counts(eutran_count, utran_geran[0])
        else:
            self.eutran, self.utran, self.geran = eutran_count, 0, 0


class UlrPlan:
    """One ULR: the IMSI, ULR-Flags, Visited-PLMN-Id, RAT-Type, the MME
    (Origin-Host, Origin-Realm, the peer it came over) and the time."""

    __slots__ = ("request", "imsi", "flags", "visited_plmn", "visited_plmn_avp", "rat_type", "mme_host",
                 "mme_realm", "peer_host", "now")

    def __init__(self, request, peer, now):
        self.request = request
        self.imsi = request.get("User-Name")
        self.flags = request.get("ULR-Flags", 0)
        self.visited_plmn_avp = request.find("Visited-PLMN-Id")
        self.visited_plmn = self.visited_plmn_avp.value if self.visited_plmn_avp is not None else None
        self.rat_type = request.get("RAT-Type")
        self.mme_host = request.get("Origin-Host")
        self.mme_realm = request.get("Origin-Realm")
        self.peer_host = peer.origin_host if peer is not None else None
        self.now = now
