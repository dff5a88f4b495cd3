"""The per-request plans of S6a AIR and ULR (see L{pyhss.apps.s6a}).

A plan reads its request once, on the reactor, into plain values; the
store calls it with the subscriber inside one transaction, possibly on the
store's thread, where it touches only those values; its ``answer`` then
builds the answer on the reactor.
"""

from twisted.python.failure import Failure

from pyhss.auc.errors import AucError
from pyhss.protocols.dictionary import DICTIONARY
from pyhss.storage.records import ServingNode

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
    """One AIR's ``plan`` for ``IStore.reserve_sqns_for``.

    The request is read once, on the reactor, into plain values; the plan
    is then called with the subscriber inside the store's transaction
    (possibly on the store's thread) and touches only those values: it
    refuses by reserving nothing, else asks the AuC what to reserve.
    :meth:`answer` then builds the AIA on the reactor.
    """

    __slots__ = ("app", "request", "session_id", "proxy_infos", "imsi", "visited_plmn", "visited_plmn_avp",
                 "eutran", "utran_geran", "build")

    def __init__(self, app, request):
        self.app = app
        self.request = request
        self.imsi = self.visited_plmn = self.visited_plmn_avp = self.eutran = self.utran_geran = None
        self.session_id = self.build = None
        self.proxy_infos = []
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
                if self.eutran is None:
                    self.eutran = requested_vectors(avp, app.max_vectors)
            elif field == _PROXY_INFO:
                self.proxy_infos.append(avp)
            elif field == _REQUESTED_UTRAN_GERAN:
                if self.utran_geran is None:
                    self.utran_geran = requested_vectors(avp, app.max_vectors)

    def __call__(self, subscriber):
        if self.app._air_refusal(subscriber, self.visited_plmn) is not None:
            return None
        allocate, self.build = self.app._prepare_vectors(subscriber, self)
        return allocate

    def answer(self, found):
        subscriber, sqns = found
        app, request = self.app, self.request
        if self.build is None:
            code, message = app._air_refusal(subscriber, self.visited_plmn)
            return app.experimental_answer(request, code, message)
        try:
            vectors = self.build(sqns if sqns is not None else [])
        except AucError:
            return app._air_failed(Failure(), request, self.imsi)
        return app._aia(vectors, self)


class UlrPlan:
    """One ULR's ``plan`` for ``IStore.register_location``: the request read
    on the reactor; called with the subscriber inside the store's
    transaction (possibly on the store's thread), it returns the new
    serving node or refuses by returning None.  :meth:`answer` then builds
    the ULA (and sends CLR to the old MME) on the reactor."""

    __slots__ = ("app", "request", "imsi", "flags", "visited_plmn", "visited_plmn_avp", "rat_type", "mme_host",
                 "mme_realm", "peer_host", "now", "refusal")

    def __init__(self, app, request, peer):
        self.app = app
        self.request = request
        self.imsi = request.get("User-Name")
        self.flags = request.get("ULR-Flags", 0)
        self.visited_plmn_avp = request.find("Visited-PLMN-Id")
        self.visited_plmn = self.visited_plmn_avp.value if self.visited_plmn_avp is not None else None
        self.rat_type = request.get("RAT-Type")
        self.mme_host = request.get("Origin-Host")
        self.mme_realm = request.get("Origin-Realm")
        self.peer_host = peer.origin_host if peer is not None else None
        self.now = app.node.clock.seconds()
        self.refusal = None

    def __call__(self, subscriber):
        self.refusal = self.app._ulr_refusal(subscriber, self.visited_plmn, self.rat_type)
        if self.refusal is not None:
            return None
        return ServingNode(subscriber.imsi, self.mme_host, self.mme_realm, self.peer_host, self.now, False)

    def answer(self, found):
        subscriber, old, profiles = found
        app, request = self.app, self.request
        if self.refusal is not None:
            code, message = self.refusal
            return app.experimental_answer(request, code, message)
        app._cancel_old_mme(old, self.mme_host, self.flags)
        if self.flags & ULR_SKIP_SUBSCRIBER_DATA:
            profiles = None
        return app._ula(profiles, request, subscriber)
