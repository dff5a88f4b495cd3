"""S6a (TS 29.272, application 16777251): the HSS side of AIR.

Handlers take ``(request, peer)`` and return a Deferred of the answer, as
``DiameterNode.register_application`` expects.  The node has already
validated the request against the dictionary (so a missing User-Name or
Visited-PLMN-Id is answered 5005 before we are called).

AIR -> AIA (TS 29.272 5.2.3.1):
 - unknown IMSI: Experimental-Result DIAMETER_ERROR_USER_UNKNOWN (5001);
 - subscriber disabled: DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION (5420),
   the code for "no EPS subscription associated with the IMSI";
 - Visited-PLMN-Id not the home PLMN and roaming not allowed:
   DIAMETER_ERROR_ROAMING_NOT_ALLOWED (5004);
 - Re-Synchronization-Info whose AUTS does not verify, or key material
   that cannot be used: DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE (4181),
   SQN unchanged;
 - neither Requested-EUTRAN- nor Requested-UTRAN-GERAN-Authentication-Info:
   2001 without Authentication-Info (nothing was asked for, no SQN used).
Number-Of-Requested-Vectors is capped at ``max_vectors`` (default 32).
Immediate-Response-Preferred is accepted and needs no action: every vector
is computed before answering anyway, in microseconds.
"""

from twisted.internet import defer
from twisted.logger import Logger

from pyhss.auc.centre import DEFAULT_MAX_VECTORS, AuthenticationCentre
from pyhss.auc.errors import AucError, ResyncError
from pyhss.auc.kdf import encode_plmn_id
from pyhss.auc.sqn import DEFAULT_IND_BITS
from pyhss.protocols import results
from pyhss.protocols.dictionary import APP_S6A, CMD_AIR, VENDOR_3GPP
from pyhss.storage.errors import NotFoundError, ValidationError

NO_STATE_MAINTAINED = 1


class S6aApplication:
    """The S6a handlers of one HSS.

    @param node: the L{pyhss.node.DiameterNode} answering.
    @param store: an C{IStore}.
    @param home_mcc, home_mnc: the HSS's own PLMN (``hss.MCC``/``hss.MNC``).
    @param utran_geran_vectors: what Requested-UTRAN-GERAN-Authentication-Info
        gets: C{"utran"} quintuplets (USIM subscribers, the default) or
        C{"geran"} triplets (SRES/Kc through c2/c3).
    """

    log = Logger(namespace="pyhss.s6a")

    def __init__(self, node, store, home_mcc, home_mnc, max_vectors=DEFAULT_MAX_VECTORS,
                 ind_bits=DEFAULT_IND_BITS, utran_geran_vectors="utran", auc=None):
        if utran_geran_vectors not in ("utran", "geran"):
            raise ValueError("utran_geran_vectors must be 'utran' or 'geran'")
        self.node = node
        self.store = store
        self.home_plmn = encode_plmn_id(home_mcc, home_mnc)
        self.max_vectors = max_vectors
        self.utran_geran_vectors = utran_geran_vectors
        self.auc = auc if auc is not None else AuthenticationCentre(store, ind_bits=ind_bits,
                                                                    max_vectors=max_vectors)

    def handlers(self):
        return {CMD_AIR: self.authentication_information}

    def register(self):
        self.node.register_application(APP_S6A, VENDOR_3GPP, self.handlers())

    # --- answers ---------------------------------------------------------------------

    def _answer(self, request, result_code=None):
        answer = self.node.answer(request, result_code)
        answer.add("Auth-Session-State", NO_STATE_MAINTAINED)
        return answer

    def experimental_answer(self, request, code, message=None):
        """Answer with Experimental-Result (Vendor-Id 10415, ``code``)."""
        answer = self._answer(request)
        answer.add("Experimental-Result", [("Vendor-Id", VENDOR_3GPP), ("Experimental-Result-Code", code)])
        if message:
            answer.add("Error-Message", message[:200])
        return answer

    # --- AIR ---------------------------------------------------------------------------

    def _requested(self, request, name):
        """(count, resync_info) of a Requested-*-Authentication-Info, or None."""
        group = request.find(name)
        if group is None:
            return None
        count = group.get("Number-Of-Requested-Vectors", 1)
        return min(count, self.max_vectors), group.get("Re-Synchronization-Info")

    def authentication_information(self, request, peer):
        imsi = request.get("User-Name")
        d = defer.maybeDeferred(self.store.get_subscriber, imsi)
        d.addCallback(self._air_subscriber, request)
        d.addErrback(self._air_failed, request, imsi)
        return d

    def _air_subscriber(self, subscriber, request):
        if subscriber is None:
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        if not subscriber.enabled:
            return self.experimental_answer(request, results.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION,
                                            "subscriber disabled")
        visited = request.get("Visited-PLMN-Id")
        if visited != self.home_plmn and not subscriber.roaming_allowed:
            return self.experimental_answer(request, results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED)

        eutran = self._requested(request, "Requested-EUTRAN-Authentication-Info")
        utran_geran = self._requested(request, "Requested-UTRAN-GERAN-Authentication-Info")
        eutran_count, resync = eutran if eutran else (0, None)
        other_count, other_resync = utran_geran if utran_geran else (0, None)
        if resync is None:
            resync = other_resync
        if self.utran_geran_vectors == "utran":
            utran_count, geran_count = other_count, 0
        else:
            utran_count, geran_count = 0, other_count
        d = self.auc.generate(subscriber, eutran=eutran_count, utran=utran_count, geran=geran_count,
                              serving_network_id=visited, resync_info=resync)
        d.addCallback(self._aia, request)
        return d

    def _aia(self, vectors, request):
        answer = self._answer(request, results.DIAMETER_SUCCESS)
        items = []
        number = 1
        for v in vectors.eutran:
            items.append(("E-UTRAN-Vector", [("Item-Number", number), ("RAND", v.rand), ("XRES", v.xres),
                                             ("AUTN", v.autn), ("KASME", v.kasme)]))
            number += 1
        for v in vectors.utran:
            items.append(("UTRAN-Vector", [("Item-Number", number), ("RAND", v.rand), ("XRES", v.xres),
                                           ("AUTN", v.autn), ("Confidentiality-Key", v.ck),
                                           ("Integrity-Key", v.ik)]))
            number += 1
        for v in vectors.geran:
            items.append(("GERAN-Vector", [("Item-Number", number), ("RAND", v.rand), ("SRES", v.sres),
                                           ("Kc", v.kc)]))
            number += 1
        if items:
            answer.add("Authentication-Info", items)
        return answer

    def _air_failed(self, reason, request, imsi):
        if reason.check(AucError):
            self.log.warn("AIR for {imsi}: {error}", imsi=imsi, error=reason.value)
            # Fixed text: the error may concern key material.
            text = "re-synchronisation failed" if reason.check(ResyncError) else "no usable key material"
            return self.experimental_answer(request, results.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE, text)
        if reason.check(NotFoundError, ValidationError):
            # Deleted between the read and the SQN reservation, or an
            # unparseable IMSI in User-Name.
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        return reason


def register(node, store, config):
    """Entry point for ``pyhss.apps.load_applications``.

    Reads ``hss.MCC``/``hss.MNC`` and, when the config has an ``s6a``
    section, its ``max_vectors``, ``ind_bits`` and ``utran_geran_vectors``.
    """
    section = getattr(config, "s6a", None)
    options = {}
    for name in ("max_vectors", "ind_bits", "utran_geran_vectors"):
        if section is not None and getattr(section, name, None) is not None:
            options[name] = getattr(section, name)
    app = S6aApplication(node, store, config.hss.mcc, config.hss.mnc, **options)
    app.register()
    return app
