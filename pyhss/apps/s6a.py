"""S6a (TS 29.272, application 16777251): the HSS side of AIR, ULR, PUR,
NOR, and the CLR the HSS sends to an MME that lost the UE.

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

PUR -> PUA (5.2.3.2): the UE is marked purged when the purging MME is the
registered one, and only then PUA-Flags has "freeze M-TMSI".
NOR -> NOA (5.2.5.1): 2001 for a known subscriber; nothing in NOR changes
what this HSS stores.

IDR (5.2.2.1) and CLR with SUBSCRIPTION_WITHDRAWAL: :meth:`insert_subscriber_data`
and :meth:`withdraw_subscription`, for whatever tells the server that a
profile changed or a subscriber was cancelled.
"""

import struct

from twisted.internet import defer
from twisted.logger import Logger

from pyhss.apps.s6a_plans import ULR_SKIP_SUBSCRIBER_DATA, AirPlan, UlrPlan
from pyhss.auc.centre import DEFAULT_MAX_VECTORS, AuthenticationCentre
from pyhss.auc.errors import AucError, ResyncError
from pyhss.auc.kdf import encode_plmn_id
from pyhss.auc.sqn import DEFAULT_IND_BITS
from pyhss.protocols import results
from pyhss.protocols import codec
from pyhss.protocols.dictionary import APP_S6A, CMD_AIR, CMD_CLR, CMD_IDR, CMD_NOR, CMD_PUR, CMD_ULR, VENDOR_3GPP
from pyhss.storage.errors import NotFoundError, ValidationError

NO_STATE_MAINTAINED = 1

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
# 7.3.29 Subscriber-Status, 7.3.30 Operator-Determined-Barring bit 0
SERVICE_GRANTED = 0
OPERATOR_DETERMINED_BARRING = 1
ODB_ALL_PACKET_ORIENTED_SERVICES = 1 << 0
# 7.3.24 Cancellation-Type
MME_UPDATE_PROCEDURE = 0
SUBSCRIPTION_WITHDRAWAL = 2
INITIAL_ATTACH_PROCEDURE = 4
# 7.3.31 Access-Restriction-Data bit for each RAT-Type (TS 29.212 5.3.31)
RAT_RESTRICTION_BITS = {1000: 1 << 0, 1001: 1 << 1, 1002: 1 << 2, 1003: 1 << 3, 1004: 1 << 4, 1005: 1 << 6}


# AVPs every answer of a kind carries unchanged, encoded once.
_AUTH_SESSION_STATE = codec.constant_avp("Auth-Session-State", NO_STATE_MAINTAINED)
_ULA_FLAGS = codec.constant_avp("ULA-Flags", ULA_SEPARATION_INDICATION)
_SERVICE_GRANTED = codec.constant_avp("Subscriber-Status", SERVICE_GRANTED)
# The AIA, written as bytes.
_W_SESSION_ID = codec.AvpWriter("Session-Id")
_W_AUTHENTICATION_INFO = codec.AvpWriter("Authentication-Info")
_W_EUTRAN_VECTOR = codec.AvpWriter("E-UTRAN-Vector")
_W_UTRAN_VECTOR = codec.AvpWriter("UTRAN-Vector")
_W_GERAN_VECTOR = codec.AvpWriter("GERAN-Vector")
_W_ITEM_NUMBER = codec.AvpWriter("Item-Number")
_W_RAND = codec.AvpWriter("RAND")
_W_XRES = codec.AvpWriter("XRES")
_W_AUTN = codec.AvpWriter("AUTN")
_W_KASME = codec.AvpWriter("KASME")
_W_CK = codec.AvpWriter("Confidentiality-Key")
_W_IK = codec.AvpWriter("Integrity-Key")
_W_SRES = codec.AvpWriter("SRES")
_W_KC = codec.AvpWriter("Kc")


def _eutran_vector_packer():
    """(headers, Struct) that write an E-UTRAN-Vector of the sizes pyhss.auc
    makes (RAND 16, XRES 8, AUTN 16, KASME 32 octets: no padding anywhere)
    in one precompiled pack: Item-Number and the four children as the
    writers would, their headers packed once."""
    children = ((_W_RAND, 16), (_W_XRES, 8), (_W_AUTN, 16), (_W_KASME, 32))
    item = _W_ITEM_NUMBER.header(4)
    headers = [writer.header(size) for writer, size in children]
    payload = len(item) + 4 + sum(len(header) + size for header, (_, size) in zip(headers, children))
    vector = _W_EUTRAN_VECTOR.header(payload)
    layout = "!%ds%dsI" % (len(vector), len(item)) + "".join(
        "%ds%ds" % (len(header), size) for header, (_, size) in zip(headers, children))
    return (vector, item, *headers), struct.Struct(layout)


_EUTRAN_HEADERS, _EUTRAN_VECTOR = _eutran_vector_packer()

# APN-Configuration-Profile AVPs by the tuple of profiles they describe (the
# records are frozen dataclasses, so a changed profile is another key and a
# stale entry is never used); emptied when full.
_APN_CACHE_SIZE = 1024


# Swaps the two nibbles of an octet: TBCD puts the first digit in the low one.
_SWAP_NIBBLES = bytes(((i & 0x0F) << 4) | (i >> 4) for i in range(256))


def encode_msisdn(digits):
    """MSISDN AVP value: TBCD digits, filler 0xF (TS 29.329 6.3.2, TS 23.003)."""
    # Runs for every ULA: two C calls instead of a generator per octet.
    return bytes.fromhex(digits + "f" * (len(digits) % 2)).translate(_SWAP_NIBBLES)


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
                 ind_bits=DEFAULT_IND_BITS, utran_geran_vectors="utran", auc=None,
                 cancel_old_mme=True):
        if utran_geran_vectors not in ("utran", "geran"):
            raise ValueError("utran_geran_vectors must be 'utran' or 'geran'")
        self.node = node
        self.store = store
        self.home_plmn = encode_plmn_id(home_mcc, home_mnc)
        self.max_vectors = max_vectors
        self.utran_geran_vectors = utran_geran_vectors
        self.cancel_old_mme = cancel_old_mme
        self._session_counter = 0
        self._apn_configurations = {}
        self.auc = auc if auc is not None else AuthenticationCentre(store, ind_bits=ind_bits,
                                                                    max_vectors=max_vectors)

    def handlers(self):
        return {
            CMD_AIR: self.authentication_information,
            CMD_ULR: self.update_location,
            CMD_PUR: self.purge_ue,
            CMD_NOR: self.notify,
        }

    def register(self):
        self.node.register_application(APP_S6A, VENDOR_3GPP, self.handlers())

    # --- answers ---------------------------------------------------------------------

    def _answer(self, request, result_code=None):
        answer = self.node.answer(request, result_code)
        answer.avps.append(_AUTH_SESSION_STATE)
        return answer

    def _bad_visited_plmn(self, request, avp):
        """5004 with Failed-AVP when ``avp``, the request's Visited-PLMN-Id
        (None when absent), is not 3 octets."""
        if avp is not None and len(avp.value) != 3:
            return self.node.error_answer(request, results.DIAMETER_INVALID_AVP_VALUE, [avp],
                                          "Visited-PLMN-Id must be 3 octets")
        return None

    def experimental_answer(self, request, code, message=None):
        """Answer with Experimental-Result (Vendor-Id 10415, ``code``)."""
        answer = self._answer(request)
        answer.add("Experimental-Result", [("Vendor-Id", VENDOR_3GPP), ("Experimental-Result-Code", code)])
        if message:
            answer.add("Error-Message", message[:200])
        return answer

    # --- AIR ---------------------------------------------------------------------------

    def authentication_information(self, request, peer):
        plan = AirPlan(self, request)
        bad = self._bad_visited_plmn(request, plan.visited_plmn_avp)
        if bad is not None:
            return defer.succeed(bad)
        # Reading the subscriber and reserving its SQNs is one store
        # transaction: one round trip to the SQLite worker, not two.
        d = self.store.reserve_sqns_for(plan.imsi, plan)
        # plan.answer handles the AuC's own errors: one callback pair.
        d.addCallbacks(plan.answer, self._air_failed, errbackArgs=(request, plan.imsi))
        return d

    def _air_refusal(self, subscriber, visited_plmn):
        """(Experimental-Result-Code, Error-Message) refusing the AIR, or None."""
        if subscriber is None:
            return results.DIAMETER_ERROR_USER_UNKNOWN, None
        if not subscriber.enabled:
            return results.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION, "subscriber disabled"
        if visited_plmn != self.home_plmn and not subscriber.roaming_allowed:
            return results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED, None
        return None

    def _prepare_vectors(self, subscriber, plan):
        """The AuC's (allocate, build) for what the AIR (read into ``plan``) asks."""
        eutran_count, resync = plan.eutran if plan.eutran else (0, None)
        other_count, other_resync = plan.utran_geran if plan.utran_geran else (0, None)
        if resync is None:
            resync = other_resync
        if self.utran_geran_vectors == "utran":
            utran_count, geran_count = other_count, 0
        else:
            utran_count, geran_count = 0, other_count
        return self.auc.prepare(subscriber, eutran=eutran_count, utran=utran_count, geran=geran_count,
                                serving_network_id=plan.visited_plmn, resync_info=resync)

    def _aia(self, vectors, plan):
        """The AIA, written as bytes (one per AIR under load; Avp objects cost
        more than the vectors): Session-Id, Result-Code, the request's
        Proxy-Info, Origin-Host, Origin-Realm (the order node.answer gives),
        Auth-Session-State, Authentication-Info."""
        request = plan.request
        parts = []
        if plan.session_id is not None:
            parts.append(_W_SESSION_ID(plan.session_id.encode("utf-8")))
        parts.append(codec.result_code_avp(results.DIAMETER_SUCCESS).encode())
        parts.extend(avp.encode() for avp in plan.proxy_infos)
        parts.extend(avp.encode() for avp in self.node.origin_avps())
        parts.append(_AUTH_SESSION_STATE.encode())
        items = []
        number = 1
        h_vector, h_item, h_rand, h_xres, h_autn, h_kasme = _EUTRAN_HEADERS
        for v in vectors.eutran:
            rand, xres, autn, kasme = v.rand, v.xres, v.autn, v.kasme
            if len(rand) == 16 and len(xres) == 8 and len(autn) == 16 and len(kasme) == 32:
                items.append(_EUTRAN_VECTOR.pack(h_vector, h_item, number, h_rand, rand, h_xres, xres,
                                                 h_autn, autn, h_kasme, kasme))
            else:
                items.append(_W_EUTRAN_VECTOR(_W_ITEM_NUMBER.unsigned32(number) + _W_RAND(rand) + _W_XRES(xres)
                                              + _W_AUTN(autn) + _W_KASME(kasme)))
            number += 1
        for v in vectors.utran:
            items.append(_W_UTRAN_VECTOR(_W_ITEM_NUMBER.unsigned32(number) + _W_RAND(v.rand) + _W_XRES(v.xres)
                                         + _W_AUTN(v.autn) + _W_CK(v.ck) + _W_IK(v.ik)))
            number += 1
        for v in vectors.geran:
            items.append(_W_GERAN_VECTOR(_W_ITEM_NUMBER.unsigned32(number) + _W_RAND(v.rand) + _W_SRES(v.sres)
                                         + _W_KC(v.kc)))
            number += 1
        if items:
            parts.append(_W_AUTHENTICATION_INFO(b"".join(items)))
        return codec.EncodedAnswer(request.flags & codec.FLAG_PROXIABLE, request.command_code,
                                   request.application_id, request.hop_by_hop, request.end_to_end,
                                   b"".join(parts), request.version)

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

    # --- ULR ---------------------------------------------------------------------------

    def update_location(self, request, peer):
        plan = UlrPlan(self, request, peer)
        bad = self._bad_visited_plmn(request, plan.visited_plmn_avp)
        if bad is not None:
            return defer.succeed(bad)
        # Subscriber, old serving node, the new one and the APN profiles in
        # one store transaction: one round trip to the SQLite worker.
        d = self.store.register_location(plan.imsi, plan)
        d.addCallbacks(plan.answer, self._unknown_user_on_bad_imsi, errbackArgs=(request,))
        return d

    def _ulr_refusal(self, subscriber, visited_plmn, rat_type):
        """(Experimental-Result-Code, Error-Message) refusing a ULR, or None."""
        if subscriber is None:
            return results.DIAMETER_ERROR_USER_UNKNOWN, None
        if not subscriber.enabled:
            return results.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION, "subscriber disabled"
        if visited_plmn != self.home_plmn and not subscriber.roaming_allowed:
            return results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED, None
        if subscriber.access_restriction_data & RAT_RESTRICTION_BITS.get(rat_type, 0):
            return results.DIAMETER_ERROR_RAT_NOT_ALLOWED, None
        return None

    def _cancel_old_mme(self, old, mme_host, flags):
        """CLR to the MME that served the UE before, when it is another one."""
        if (self.cancel_old_mme and old is not None and not old.purged
                and old.mme_host.lower() != mme_host.lower()):
            kind = INITIAL_ATTACH_PROCEDURE if flags & ULR_INITIAL_ATTACH else MME_UPDATE_PROCEDURE
            self.cancel_location(old, kind)

    def _apn_profiles(self, subscriber):
        return defer.gatherResults([self.store.get_apn(name) for name in subscriber.apns], consumeErrors=True)

    def _apn_configuration_profile(self, profiles):
        """The APN-Configuration-Profile AVP for ``profiles``, encoded once."""
        key = tuple(profiles)
        avp = self._apn_configurations.get(key)
        if avp is None:
            configurations = []
            for p in profiles:
                apn = [
                    ("Context-Identifier", p.context_id),
                    ("PDN-Type", p.pdn_type_value),
                    ("Service-Selection", p.name),
                    ("EPS-Subscribed-QoS-Profile", [
                        ("QoS-Class-Identifier", p.qci),
                        ("Allocation-Retention-Priority", [
                            ("Priority-Level", p.arp_priority),
                            ("Pre-emption-Capability", p.arp_preemption_capability),
                            ("Pre-emption-Vulnerability", p.arp_preemption_vulnerability)])]),
                ]
                if p.ambr_ul is not None and p.ambr_dl is not None:
                    apn.append(("AMBR", [("Max-Requested-Bandwidth-UL", p.ambr_ul),
                                         ("Max-Requested-Bandwidth-DL", p.ambr_dl)]))
                configurations.append(("APN-Configuration", apn))
            avp = codec.constant_avp("APN-Configuration-Profile", [
                ("Context-Identifier", profiles[0].context_id),  # the default APN
                ("All-APN-Configurations-Included-Indicator", 0),
            ] + configurations)
            if len(self._apn_configurations) >= _APN_CACHE_SIZE:
                self._apn_configurations.clear()
            self._apn_configurations[key] = avp
        return avp

    def subscription_data(self, subscriber, profiles):
        """Subscription-Data grouped value (TS 29.272 7.3.2) as (name, value) pairs."""
        data = []
        if subscriber.msisdn:
            data.append(("MSISDN", encode_msisdn(subscriber.msisdn)))
        if subscriber.enabled:
            data.append(_SERVICE_GRANTED)
        else:
            # Only an IDR carries a disabled profile (a ULR is refused with
            # 5420): bar all packet services so the MME drops the UE.
            data.append(("Subscriber-Status", OPERATOR_DETERMINED_BARRING))
            data.append(("Operator-Determined-Barring", ODB_ALL_PACKET_ORIENTED_SERVICES))
        data.append(("Network-Access-Mode", subscriber.network_access_mode))
        if subscriber.access_restriction_data:
            data.append(("Access-Restriction-Data", subscriber.access_restriction_data))
        if subscriber.ue_ambr_ul is not None and subscriber.ue_ambr_dl is not None:
            data.append(("AMBR", [("Max-Requested-Bandwidth-UL", subscriber.ue_ambr_ul),
                                  ("Max-Requested-Bandwidth-DL", subscriber.ue_ambr_dl)]))
        profiles = [p for p in profiles or () if p is not None]
        if profiles:
            data.append(self._apn_configuration_profile(profiles))
        if subscriber.periodic_rau_tau_timer is not None:
            data.append(("Subscribed-Periodic-RAU-TAU-Timer", subscriber.periodic_rau_tau_timer))
        return data

    def _ula(self, profiles, request, subscriber):
        answer = self._answer(request, results.DIAMETER_SUCCESS)
        answer.avps.append(_ULA_FLAGS)
        if profiles is not None:
            answer.add("Subscription-Data", self.subscription_data(subscriber, profiles))
        return answer

    def _unknown_user_on_bad_imsi(self, reason, request):
        if reason.check(NotFoundError, ValidationError):
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        return reason

    # --- CLR (HSS -> MME) ----------------------------------------------------------------

    def _session_id(self):
        self._session_counter += 1
        return "%s;%d;%d" % (self.node.origin_host, int(self.node.clock.seconds()), self._session_counter)

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

    # --- IDR / subscription withdrawal (HSS -> MME) --------------------------------------

    def _to_mme(self, serving, command, avps):
        """Send an S6a request to the serving MME; None when not connected."""
        peer_host = serving.peer or serving.mme_host
        if self.node.peer(peer_host) is None:
            self.log.info("{command} for {imsi} not sent: {host} not connected",
                          command=command, imsi=serving.imsi, host=peer_host)
            return None
        message = codec.Message.request(APP_S6A, command, [
            ("Session-Id", self._session_id()),
            ("Auth-Session-State", NO_STATE_MAINTAINED),
            ("Origin-Host", self.node.origin_host),
            ("Origin-Realm", self.node.origin_realm),
            ("Destination-Host", serving.mme_host),
            ("Destination-Realm", serving.mme_realm),
            ("User-Name", serving.imsi),
        ] + avps)
        name = message.name
        d = self.node.send_request(peer_host, message)

        def answered(answer):
            code = answer.get("Result-Code", answer.get("Experimental-Result/Experimental-Result-Code"))
            self.log.info("{name} answer from {host} for {imsi}: {code}", name=name,
                          host=serving.mme_host, imsi=serving.imsi, code=code)
            return code

        def failed(reason):
            self.log.warn("{name} to {host} for {imsi} failed: {error}", name=name, host=serving.mme_host,
                          imsi=serving.imsi, error=reason.getErrorMessage())
            return None

        return d.addCallbacks(answered, failed)

    @defer.inlineCallbacks
    def insert_subscriber_data(self, imsi):
        """After a profile change: IDR with the new Subscription-Data to the
        subscriber's serving MME.  Fires with the IDA's result code, or None
        when there is no (unpurged, connected) serving MME."""
        subscriber = yield self.store.get_subscriber(imsi)
        serving = yield self.store.get_serving_node(imsi)
        if subscriber is None or serving is None or serving.purged:
            return None
        profiles = yield self._apn_profiles(subscriber)
        result = yield self._to_mme(serving, CMD_IDR, [
            ("Subscription-Data", self.subscription_data(subscriber, profiles))])
        return result

    @defer.inlineCallbacks
    def withdraw_subscription(self, imsi):
        """``pyhss-admin subscriber cancel``: CLR with Cancellation-Type
        SUBSCRIPTION_WITHDRAWAL to the serving MME.  Fires with the CLA's
        result code, or None when nothing was sent."""
        serving = yield self.store.get_serving_node(imsi)
        if serving is None:
            return None
        result = yield self.cancel_location(serving, SUBSCRIPTION_WITHDRAWAL)
        return result

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
            pua = self._answer(request, results.DIAMETER_SUCCESS)
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
            return self._answer(request, results.DIAMETER_SUCCESS)

        d.addCallback(answer)
        d.addErrback(self._unknown_user_on_bad_imsi, request)
        return d


def register(node, store, config):
    """Entry point for ``pyhss.apps.load_applications``.

    Reads ``hss.MCC``/``hss.MNC`` and, when the config has an ``s6a``
    section, its ``max_vectors``, ``ind_bits``, ``utran_geran_vectors`` and
    ``cancel_old_mme``.
    """
    section = getattr(config, "s6a", None)
    options = {}
    for name in ("max_vectors", "ind_bits", "utran_geran_vectors", "cancel_old_mme"):
        if section is not None and getattr(section, name, None) is not None:
            options[name] = getattr(section, name)
    app = S6aApplication(node, store, config.hss.mcc, config.hss.mnc, **options)
    app.register()
    return app
