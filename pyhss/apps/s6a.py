"""S6a (TS 29.272, application 16777251): the HSS side of AIR, ULR, PUR,
NOR, and the CLR and IDR the HSS sends to an MME.

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

ULR -> ULA (5.2.1.1): same 5001/5420/5004 checks, plus 5421
(DIAMETER_ERROR_RAT_NOT_ALLOWED) when Access-Restriction-Data bars the
RAT-Type.  The serving MME (Origin-Host, Origin-Realm, the peer it came
over, time) is stored; Subscription-Data is built from the subscriber and
its APN profiles unless ULR-Flags has Skip-Subscriber-Data.  When the MME
changed and the old one is connected (and not purged), CLR goes to it
(Cancellation-Type INITIAL_ATTACH_PROCEDURE when ULR-Flags has
Initial-Attach-Indicator, else MME_UPDATE_PROCEDURE); the ULA does not wait
for the CLA, which is logged.

The checks are :class:`~pyhss.apps.s6a_policy.S6aPolicy`'s; the store
applies them as data (a ``RequiredState``) in the one transaction that
reserves SQNs (AIR) or swaps the serving node (ULR).

PUR -> PUA (5.2.3.2): the UE is marked purged when the purging MME is the
registered one, and only then PUA-Flags has "freeze M-TMSI".
NOR -> NOA (5.2.5.1): 2001 for a known subscriber; nothing in NOR changes
what this HSS stores.

IDR (5.2.2.1) and CLR with SUBSCRIPTION_WITHDRAWAL: :meth:`insert_subscriber_data`
and :meth:`withdraw_subscription`, for whatever tells the server that a
profile changed or a subscriber was cancelled (the control socket's
commands, :mod:`pyhss.apps.s6a_control`).
"""

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from pyhss.apps import s6a_control
from pyhss.apps.base import DiameterApplication
from pyhss.apps.s6a_messages import (
    OPERATOR_DETERMINED_BARRING, SubscriptionData, authentication_information_answer, encode_msisdn,
)
from pyhss.apps.s6a_plans import ULR_SKIP_SUBSCRIBER_DATA, AirPlan, UlrPlan
from pyhss.apps.s6a_policy import RAT_RESTRICTION_BITS, S6aPolicy
from pyhss.auc.centre import DEFAULT_MAX_VECTORS, AuthenticationCentre
from pyhss.auc.errors import AucError, ResyncError
from pyhss.auc.sqn import DEFAULT_IND_BITS
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_S6A, CMD_AIR, CMD_CLR, CMD_IDR, CMD_NOR, CMD_PUR, CMD_ULR, VENDOR_3GPP
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.records import ServingNode

__all__ = [
    "CLR_S6A_S6D_INDICATOR", "INITIAL_ATTACH_PROCEDURE", "MME_UPDATE_PROCEDURE", "OPERATOR_DETERMINED_BARRING",
    "PUA_FREEZE_M_TMSI", "RAT_RESTRICTION_BITS", "SUBSCRIPTION_WITHDRAWAL", "S6aApplication",
    "ULA_SEPARATION_INDICATION", "ULR_INITIAL_ATTACH", "ULR_S6A_S6D_INDICATOR", "ULR_SINGLE_REGISTRATION",
    "ULR_SKIP_SUBSCRIBER_DATA", "encode_msisdn",
]

# TS 29.272 7.3.7 ULR-Flags (bit 2, Skip-Subscriber-Data, in s6a_plans)
ULR_SINGLE_REGISTRATION = 1 << 0
ULR_S6A_S6D_INDICATOR = 1 << 1
ULR_INITIAL_ATTACH = 1 << 5
# 7.3.8 ULA-Flags: bit 0 Separation-Indication
ULA_SEPARATION_INDICATION = 1 << 0
# 7.3.48 PUA-Flags: bit 0 freeze M-TMSI
PUA_FREEZE_M_TMSI = 1 << 0
# 7.3.152 CLR-Flags: bit 0 S6a/S6d-Indicator (sent on S6a)
CLR_S6A_S6D_INDICATOR = 1 << 0
# 7.3.24 Cancellation-Type
MME_UPDATE_PROCEDURE = 0
SUBSCRIPTION_WITHDRAWAL = 2
INITIAL_ATTACH_PROCEDURE = 4

_ULA_FLAGS = codec.constant_avp("ULA-Flags", ULA_SEPARATION_INDICATION)


class S6aApplication(DiameterApplication):
    """The S6a handlers of one HSS.

    @param node: the L{pyhss.node.DiameterNode} answering.
    @param store: an C{IStore}.
    @param home_mcc, home_mnc, max_vectors, utran_geran_vectors: the
        L{S6aPolicy} (``policy``).
    @param auc: the L{AuthenticationCentre} (one with ``ind_bits`` and
        ``max_vectors`` when None).
    @param cancel_old_mme: send CLR to the MME a ULR moves the UE from.
    """

    name = "s6a"
    application_id = APP_S6A
    vendor_id = VENDOR_3GPP
    log = Logger(namespace="pyhss.s6a")

    def __init__(self, node, store, home_mcc, home_mnc, max_vectors=DEFAULT_MAX_VECTORS,
                 ind_bits=DEFAULT_IND_BITS, utran_geran_vectors="utran", auc=None,
                 cancel_old_mme=True):
        DiameterApplication.__init__(self, node, store)
        self.policy = S6aPolicy(home_mcc, home_mnc, max_vectors, utran_geran_vectors)
        self.cancel_old_mme = cancel_old_mme
        self.auc = auc if auc is not None else AuthenticationCentre(store, ind_bits=ind_bits,
                                                                    max_vectors=max_vectors)
        self.subscription_data = SubscriptionData()
        self.control = s6a_control.S6aControl(self)

    @classmethod
    def from_config(cls, node, store, config):
        """Reads ``hss.MCC``/``hss.MNC`` and, when the config has an ``s6a``
        section, its ``max_vectors``, ``ind_bits``, ``utran_geran_vectors``
        and ``cancel_old_mme``."""
        section = getattr(config, cls.name, None)
        options = {}
        for name in ("max_vectors", "ind_bits", "utran_geran_vectors", "cancel_old_mme"):
            if section is not None and getattr(section, name, None) is not None:
                options[name] = getattr(section, name)
        return cls(node, store, config.hss.mcc, config.hss.mnc, **options)

    def handlers(self):
        return {
            CMD_AIR: self.authentication_information,
            CMD_ULR: self.update_location,
            CMD_PUR: self.purge_ue,
            CMD_NOR: self.notify,
        }

    def control_commands(self):
        return self.control.commands()

    def _bad_visited_plmn(self, request, avp):
        """5004 with Failed-AVP when ``avp``, the request's Visited-PLMN-Id
        (None when absent), is not 3 octets."""
        if avp is not None and len(avp.value) != 3:
            return self.node.error_answer(request, results.DIAMETER_INVALID_AVP_VALUE, [avp],
                                          "Visited-PLMN-Id must be 3 octets")
        return None

    # --- AIR ---------------------------------------------------------------------------

    def authentication_information(self, request, peer):
        plan = AirPlan(self.policy, request)
        bad = self._bad_visited_plmn(request, plan.visited_plmn_avp)
        if bad is not None:
            return defer.succeed(bad)
        auc = self.auc
        if plan.resync_info is not None:
            return self._air_in_two_steps(plan)
        try:
            auc.check_request(plan.eutran, plan.utran, plan.geran, plan.visited_plmn)
        except AucError:
            return self._air_in_two_steps(plan)   # refusals first, then 4181
        # Reading the subscriber and reserving its SQNs is one store
        # transaction: one round trip to the SQLite worker, not two.
        d = self.store.reserve_sqns(plan.imsi, auc.sqn_request(plan.eutran + plan.utran),
                                    self.policy.air_state(plan.visited_plmn))
        d.addCallbacks(self._air_answer, self._air_failed, callbackArgs=(plan, False),
                       errbackArgs=(plan.request, plan.imsi))
        return d

    def _air_in_two_steps(self, plan):
        """An AIR whose AUTS must be verified with the subscriber's key before
        any SQN moves (or whose vector request is unusable): read, check,
        then reserve."""
        d = self.store.get_subscriber(plan.imsi)
        d.addCallback(self._air_checked, plan)
        d.addErrback(self._air_failed, plan.request, plan.imsi)
        return d

    def _air_checked(self, subscriber, plan):
        refusal = self.policy.air_refusal(subscriber, plan.visited_plmn)
        if refusal is not None:
            return self.experimental_answer(plan.request, *refusal)
        auc = self.auc
        auc.check_request(plan.eutran, plan.utran, plan.geran, plan.visited_plmn)
        resync_sqn = None if plan.resync_info is None else self._resynchronise(subscriber, plan)
        d = self.store.reserve_sqns(plan.imsi, auc.sqn_request(plan.eutran + plan.utran, resync_sqn),
                                    self.policy.air_state(plan.visited_plmn))
        return d.addCallback(self._air_answer, plan, resync_sqn is not None)

    def _resynchronise(self, subscriber, plan):
        stats = self.node.stats
        try:
            sqn = self.auc.resynchronise(subscriber, plan.resync_info)
        except ResyncError:
            if stats is not None:
                stats.count("sqn_resynchronisations_failed")
            raise
        if stats is not None:
            stats.count("sqn_resynchronisations")
        return sqn

    def _air_answer(self, found, plan, resynchronised):
        subscriber, sqns = found
        if sqns is None:
            code, message = self.policy.air_refusal(subscriber, plan.visited_plmn)
            return self.experimental_answer(plan.request, code, message)
        try:
            vectors = self.auc.vectors(subscriber, sqns, plan.eutran, plan.utran, plan.geran, plan.visited_plmn,
                                       resynchronised)
        except AucError:
            return self._air_failed(Failure(), plan.request, plan.imsi)
        return authentication_information_answer(plan, vectors, self.node.origin_avps())

    def _air_failed(self, reason, request, imsi):
        if reason.check(AucError):
            self.log.warn("AIR for {imsi}: {error}", imsi=imsi, error=reason.value)
            # Fixed text: the error may concern key material.
            text = "re-synchronisation failed" if reason.check(ResyncError) else "no usable key material"
            return self.experimental_answer(request, results.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE, text)
        if reason.check(NotFoundError, ValidationError):
            # A store that refuses the IMSI itself (one with a typed
            # column): as for an unknown one.
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        return reason

    # --- ULR ---------------------------------------------------------------------------

    def update_location(self, request, peer):
        plan = UlrPlan(request, peer, self.node.clock.seconds())
        bad = self._bad_visited_plmn(request, plan.visited_plmn_avp)
        if bad is not None:
            return defer.succeed(bad)
        try:
            node = ServingNode(plan.imsi, plan.mme_host, plan.mme_realm, plan.peer_host, plan.now, False)
        except ValidationError:
            # No subscriber has such an IMSI.
            return defer.succeed(self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN))
        # Subscriber, old serving node, the new one and the APN profiles in
        # one store transaction: one round trip to the SQLite worker.
        d = self.store.swap_serving_node(node, self.policy.ulr_state(plan.visited_plmn, plan.rat_type))
        d.addCallbacks(self._ulr_answer, self._unknown_user_on_bad_imsi, callbackArgs=(plan,),
                       errbackArgs=(request,))
        return d

    def _ulr_answer(self, found, plan):
        subscriber, old, profiles = found
        request = plan.request
        if profiles is None:
            code, message = self.policy.ulr_refusal(subscriber, plan.visited_plmn, plan.rat_type)
            return self.experimental_answer(request, code, message)
        self._cancel_old_mme(old, plan.mme_host, plan.flags)
        answer = self.answer(request, results.DIAMETER_SUCCESS)
        answer.avps.append(_ULA_FLAGS)
        if not plan.flags & ULR_SKIP_SUBSCRIBER_DATA:
            answer.add("Subscription-Data", self.subscription_data(subscriber, profiles))
        return answer

    def _cancel_old_mme(self, old, mme_host, flags):
        """CLR to the MME that served the UE before, when it is another one."""
        if (self.cancel_old_mme and old is not None and not old.purged
                and old.mme_host.lower() != mme_host.lower()):
            kind = INITIAL_ATTACH_PROCEDURE if flags & ULR_INITIAL_ATTACH else MME_UPDATE_PROCEDURE
            self.cancel_location(old, kind)

    def _unknown_user_on_bad_imsi(self, reason, request):
        if reason.check(NotFoundError, ValidationError):
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        return reason

    # --- CLR and IDR (HSS -> MME) --------------------------------------------------------

    def _to_mme(self, serving, command, avps):
        """Send an S6a request to the serving MME: a Deferred of the answer's
        result code (None without one), or None when not connected."""
        message = self.new_request(command, [
            ("Destination-Host", serving.mme_host),
            ("Destination-Realm", serving.mme_realm),
            ("User-Name", serving.imsi),
        ] + avps)
        return self.send_request(serving.peer or serving.mme_host, message, serving.imsi)

    def cancel_location(self, serving, cancellation_type):
        """Send CLR to ``serving``'s MME over its peer connection.

        Returns a Deferred firing with the CLA's result code, or None when
        no connection to that MME is open (nothing is sent then).  Failures
        (timeout, disconnect) are logged, never raised into the caller.
        """
        return self._to_mme(serving, CMD_CLR, [
            ("Cancellation-Type", cancellation_type),
            ("CLR-Flags", CLR_S6A_S6D_INDICATOR),
        ])

    @defer.inlineCallbacks
    def push_to_mme(self, imsi, what):
        """IDR (``what`` "IDR": the subscriber's new Subscription-Data) or CLR
        ("CLR": Cancellation-Type SUBSCRIPTION_WITHDRAWAL) to the serving MME.

        Fires the outcome (``pyhss.apps.s6a_control.outcome``: sent, mme,
        result_code, reason), or None when there is no such subscriber.
        Nothing is sent without an unpurged serving MME that is connected.
        """
        subscriber = yield self.store.get_subscriber(imsi)
        serving = yield self.store.get_serving_node(imsi)
        if subscriber is None:
            return None
        if serving is None:
            return s6a_control.outcome(False, reason=s6a_control.NO_SERVING_MME)
        if serving.purged:
            return s6a_control.outcome(False, serving.mme_host, reason=s6a_control.PURGED)
        if self.node.peer(serving.peer or serving.mme_host) is None:
            return s6a_control.outcome(False, serving.mme_host, reason=s6a_control.NOT_CONNECTED)
        if what == s6a_control.IDR:
            profiles = yield defer.gatherResults([self.store.get_apn(name) for name in subscriber.apns],
                                                 consumeErrors=True)
            sent = self._to_mme(serving, CMD_IDR, [
                ("Subscription-Data", self.subscription_data(subscriber, profiles))])
        else:
            sent = self.cancel_location(serving, SUBSCRIPTION_WITHDRAWAL)
        if sent is None:   # the MME went away meanwhile
            return s6a_control.outcome(False, serving.mme_host, reason=s6a_control.NOT_CONNECTED)
        code = yield sent
        # None here: timeout, or the MME went away meanwhile.
        return s6a_control.outcome(True, serving.mme_host, code, None if code is not None else s6a_control.NO_ANSWER)

    def insert_subscriber_data(self, imsi):
        """After a profile change: IDR with the new Subscription-Data to the
        subscriber's serving MME.  Fires with the IDA's result code, or None
        when nothing was sent (no such subscriber, no unpurged and
        connected serving MME) or no answer came."""
        return self.push_to_mme(imsi, s6a_control.IDR).addCallback(_result_code)

    def withdraw_subscription(self, imsi):
        """``pyhss-admin subscriber cancel``: CLR with Cancellation-Type
        SUBSCRIPTION_WITHDRAWAL to the serving MME.  Fires with the CLA's
        result code, or None when nothing was sent or no answer came."""
        return self.push_to_mme(imsi, s6a_control.CLR).addCallback(_result_code)

    # --- PUR / NOR -----------------------------------------------------------------------

    def purge_ue(self, request, peer):
        imsi = request.get("User-Name")
        d = defer.maybeDeferred(self.store.get_subscriber, imsi)
        d.addCallback(self._pur_subscriber, request)
        d.addErrback(self._unknown_user_on_bad_imsi, request)
        return d

    def _pur_subscriber(self, subscriber, request):
        if subscriber is None:
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        d = self.store.mark_purged(subscriber.imsi, request.get("Origin-Host"))

        def answer(purged):
            pua = self.answer(request, results.DIAMETER_SUCCESS)
            # Freeze M-TMSI only when the purging MME is the registered one.
            pua.add("PUA-Flags", PUA_FREEZE_M_TMSI if purged else 0)
            return pua

        return d.addCallback(answer)

    def notify(self, request, peer):
        imsi = request.get("User-Name")
        d = defer.maybeDeferred(self.store.get_subscriber, imsi)

        def answer(subscriber):
            if subscriber is None:
                return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
            return self.answer(request, results.DIAMETER_SUCCESS)

        d.addCallback(answer)
        d.addErrback(self._unknown_user_on_bad_imsi, request)
        return d


def _result_code(outcome):
    return None if outcome is None else outcome["result_code"]
