"""Cx (TS 29.228/29.229, application 16777216): the HSS side of UAR, MAR,
SAR and LIR, and the RTR and PPR it sends to an S-CSCF.

UAR -> UAA (6.1.1.1): unknown identities 5001, a public identity of
another private one 5002, a Visited-Network-Identifier outside
``cx.visited_networks`` 5004, a barred identity whose implicit set has no
other identity DIAMETER_AUTHORIZATION_REJECTED; then, for REGISTRATION,
the assigned S-CSCF with DIAMETER_SUBSEQUENT_REGISTRATION or, without one,
DIAMETER_FIRST_REGISTRATION with Server-Capabilities; for
REGISTRATION_AND_CAPABILITIES without an S-CSCF, Server-Capabilities with
DIAMETER_SERVER_SELECTION (TS 29.229 2005; the I-CSCF chooses again), with
one, Server-Capabilities with DIAMETER_FIRST_REGISTRATION (the I-CSCF
re-selects); for DE_REGISTRATION, the S-CSCF with DIAMETER_SUCCESS, or
DIAMETER_ERROR_IDENTITY_NOT_REGISTERED.

MAR -> MAA (6.3.1): Digest-AKAv1-MD5 items (SIP-Authenticate RAND||AUTN,
SIP-Authorization XRES, CK, IK) from the S6a AuC and SQN counter (one
store transaction reserves the SQNs and records the S-CSCF as pending);
a SIP-Authorization of RAND||AUTS is a resynchronisation, verified before
any SQN moves (a forged AUTS: DIAMETER_AUTHENTICATION_REJECTED, SQN and
S-CSCF untouched); SIP Digest (Digest-Realm, Digest-QoP, Digest-HA1) for a
subscription with a digest password; "Unknown" gets AKA; any other scheme,
or SIP Digest without a password, DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED.

SAR -> SAA (6.1.2.1): the state change of
:func:`pyhss.storage.ims_state.assigned`, applied by the store; User-Data
(:mod:`pyhss.apps.cx_userdata`) and Charging-Information for the types
that download the profile; another S-CSCF assigned:
DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED with its Server-Name (the
de-registration types: DIAMETER_UNABLE_TO_COMPLY); a type that does not
fit the state, or is not Cx's: DIAMETER_ERROR_IN_ASSIGNMENT_TYPE.

LIR -> LIA (6.1.4.1): registered: Server-Name; unregistered, or not
registered with the S-CSCF name kept: Server-Name with
DIAMETER_UNREGISTERED_SERVICE; not registered with services for the
unregistered state (an iFC with SessionCase 2): Server-Capabilities with
DIAMETER_UNREGISTERED_SERVICE; else DIAMETER_ERROR_IDENTITY_NOT_REGISTERED.

RTR (6.1.3) and PPR (6.2.2): :meth:`CxApplication.deregister` and
:meth:`CxApplication.push_profile`, driven by ``pyhss-admin ims`` over the
control socket (:mod:`pyhss.apps.cx_control`), are in :mod:`pyhss.apps.cx_push`.
"""

from twisted.internet import defer
from twisted.logger import Logger

from pyhss.apps import cx_control
from pyhss.apps.base import DiameterApplication
from pyhss.apps.cx_messages import aka_answer, read_request
from pyhss.apps.cx_push import VSAI, ScscfRequests
from pyhss.apps.cx_policy import AKA_SCHEME, DIGEST_ALIASES, DIGEST_SCHEME, UNKNOWN_SCHEME, CxPolicy
from pyhss.apps.cx_userdata import UserData
from pyhss.auc.centre import AuthenticationCentre
from pyhss.auc.errors import AucError, ResyncError
from pyhss.protocols import results
from pyhss.protocols.dictionary import APP_CX, CMD_LIR, CMD_MAR, CMD_SAR, CMD_UAR, VENDOR_3GPP
from pyhss.storage.errors import NotFoundError, ValidationError
from pyhss.storage.ims_records import NOT_REGISTERED, REGISTERED
from pyhss.storage.ims_state import (
    DONE, NAME_NOT_STORED, NO_ASSIGNMENT, OTHER_SCSCF, RE_REGISTRATION, REGISTRATION,
    UNREGISTERED_USER, Assignment, Authentication,
)
from pyhss.storage.interface import RequiredState

# TS 29.229 6.3.24 User-Authorization-Type
UAR_REGISTRATION, UAR_DE_REGISTRATION, UAR_REGISTRATION_AND_CAPABILITIES = 0, 1, 2
# 6.3.26 User-Data-Already-Available
USER_DATA_ALREADY_AVAILABLE = 1
# TS 29.228 Annex F SessionCase 2: TERMINATING_UNREGISTERED
TERMINATING_UNREGISTERED = "2"
# SAR types whose answer carries the user profile (6.1.2.1).
_PROFILE_TYPES = (NO_ASSIGNMENT, REGISTRATION, RE_REGISTRATION, UNREGISTERED_USER)
_AKA_ENABLED = RequiredState(enabled=True)

class CxApplication(ScscfRequests, DiameterApplication):
    """The Cx handlers of one HSS.

    @param policy: the L{CxPolicy}.
    @param auc: the L{AuthenticationCentre} (``ind_bits``: S6a's, so that
        both interfaces step the one SQN counter alike).
    """

    name = "cx"
    application_id = APP_CX
    vendor_id = VENDOR_3GPP
    log = Logger(namespace="pyhss.cx")

    def __init__(self, node, store, policy=None, auc=None, ind_bits=None):
        DiameterApplication.__init__(self, node, store)
        self.policy = policy if policy is not None else CxPolicy()
        if auc is None:
            auc = AuthenticationCentre(store) if ind_bits is None else AuthenticationCentre(store, ind_bits=ind_bits)
        self.auc = auc
        self.user_data = UserData()
        self.control = cx_control.CxControl(self)

    @classmethod
    def from_config(cls, node, store, config):
        """None when ``cx.enabled`` is false (nothing is announced)."""
        if not config.cx.enabled:
            return None
        return cls(node, store, CxPolicy.from_config(config.cx), ind_bits=config.s6a.ind_bits)

    def handlers(self):
        return {
            CMD_UAR: self.user_authorization,
            CMD_MAR: self.multimedia_auth,
            CMD_SAR: self.server_assignment,
            CMD_LIR: self.location_info,
        }

    def control_commands(self):
        return self.control.commands()

    # --- answers -----------------------------------------------------------------------
    def answer(self, request, result_code=None):
        answer = DiameterApplication.answer(self, request, result_code)
        answer.avps.append(VSAI)
        return answer

    def experimental_answer(self, request, code, message=None):
        answer = self.answer(request)
        answer.add("Experimental-Result", [("Vendor-Id", VENDOR_3GPP), ("Experimental-Result-Code", code)])
        if message:
            answer.add("Error-Message", message[:200])
        return answer

    def _unknown_on_bad_identity(self, reason, request):
        if reason.check(NotFoundError, ValidationError):
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        return reason

    @defer.inlineCallbacks
    def _identities_refusal(self, request, subscription, impu):
        """USER_UNKNOWN or IDENTITIES_DONT_MATCH for a request whose
        private identity does not hold ``impu``."""
        if subscription is None or (yield self.store.find_ims_subscription(impu)) is None:
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        return self.experimental_answer(request, results.DIAMETER_ERROR_IDENTITIES_DONT_MATCH)

    # --- UAR ---------------------------------------------------------------------------
    def user_authorization(self, request, peer):
        values = read_request(request)
        impi, impu = values.get("User-Name"), values.get("Public-Identity")
        d = self.store.ims_lookup(impi)
        d.addCallback(self._uaa, request, impu, values)
        d.addErrback(self._unknown_on_bad_identity, request)
        return d

    def _uaa(self, found, request, impu, values):
        subscription, registration = found
        if subscription is None or subscription.identity(impu) is None:
            return self._identities_refusal(request, subscription, impu)
        kind = values.get("User-Authorization-Type", UAR_REGISTRATION)
        if kind != UAR_DE_REGISTRATION:
            if not self.policy.roaming_allowed(values.get("Visited-Network-Identifier")):
                return self.experimental_answer(request, results.DIAMETER_ERROR_ROAMING_NOT_ALLOWED)
            if all(identity.barred for identity in subscription.implicit_set(impu)):
                return self.answer(request, results.DIAMETER_AUTHORIZATION_REJECTED).add(
                    "Error-Message", "public identity barred")
        # A name MAR stored (pending) counts: the user's next REGISTER goes
        # to the S-CSCF that challenged it.
        server_name = registration.server_name
        if kind == UAR_DE_REGISTRATION:
            if server_name is None:
                return self.experimental_answer(request, results.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED)
            return self.answer(request, results.DIAMETER_SUCCESS).add("Server-Name", server_name)
        if kind == UAR_REGISTRATION_AND_CAPABILITIES:
            code = results.DIAMETER_SERVER_SELECTION if server_name is None else results.DIAMETER_FIRST_REGISTRATION
            return self._with_capabilities(self.experimental_answer(request, code))
        if server_name is not None:
            return self.experimental_answer(request, results.DIAMETER_SUBSEQUENT_REGISTRATION).add(
                "Server-Name", server_name)
        return self._with_capabilities(self.experimental_answer(request, results.DIAMETER_FIRST_REGISTRATION))

    def _with_capabilities(self, answer):
        """Server-Capabilities when any are configured: an empty one makes
        Kamailio's cdp drop the whole answer (AAACreateAVP: NULL value),
        and without it the I-CSCF chooses among all its S-CSCFs."""
        capabilities = self.policy.server_capabilities()
        if capabilities:
            answer.add("Server-Capabilities", capabilities)
        return answer

    # --- MAR ---------------------------------------------------------------------------
    def multimedia_auth(self, request, peer):
        values = read_request(request)
        item = request.find("SIP-Auth-Data-Item")
        scheme = item.get("SIP-Authentication-Scheme", UNKNOWN_SCHEME) if item is not None else UNKNOWN_SCHEME
        authorization = item.get("SIP-Authorization") if item is not None else None
        count = self.policy.auth_items(values.get("SIP-Number-Auth-Items"))
        authentication = dict(impi=values.get("User-Name"), impu=values.get("Public-Identity"),
                              server_name=values.get("Server-Name"), scscf_host=values.get("Origin-Host"),
                              scscf_realm=values.get("Origin-Realm"),
                              peer=peer.origin_host if peer is not None else None, now=self.node.clock.seconds())
        if scheme in (AKA_SCHEME, UNKNOWN_SCHEME):
            if authorization:
                d = self._mar_resync(request, authentication, count, authorization)
            else:
                d = self.store.ims_authenticate(Authentication(
                    sqn_request=self.auc.sqn_request(count), required=_AKA_ENABLED, **authentication))
                d.addCallback(self._maa_aka, request, count, False)
        elif scheme in DIGEST_ALIASES:
            d = self.store.ims_lookup(authentication["impi"])
            d.addCallback(self._mar_digest, request, authentication)
        else:
            return defer.succeed(self.experimental_answer(
                request, results.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED, f"unknown scheme {scheme[:60]}"))
        d.addErrback(self._mar_failed, request, authentication["impi"])
        return d

    @defer.inlineCallbacks
    def _mar_resync(self, request, authentication, count, authorization):
        """AUTS verified with the subscriber's key before the SQN moves."""
        subscription, _ = yield self.store.ims_lookup(authentication["impi"])
        if subscription is None or subscription.identity(authentication["impu"]) is None:
            return (yield self._identities_refusal(request, subscription, authentication["impu"]))
        subscriber = yield self.store.get_subscriber(subscription.imsi)
        if subscriber is None:
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        resync_sqn = self.auc.resynchronise(subscriber, authorization)   # ResyncError: nothing written
        found = yield self.store.ims_authenticate(Authentication(
            sqn_request=self.auc.sqn_request(count, resync_sqn), required=_AKA_ENABLED, resync=True,
            **authentication))
        return (yield self._maa_aka(found, request, count, True))

    def _maa_aka(self, found, request, count, resynchronised):
        subscription, before, subscriber, sqns = found
        impu = request.get("Public-Identity")
        if before is None:
            return self._identities_refusal(request, subscription, impu)
        if sqns is None:
            return self.answer(request, results.DIAMETER_AUTHORIZATION_REJECTED).add(
                "Error-Message", "subscriber disabled")
        vectors = self.auc.vectors(subscriber, sqns, utran=count, resynchronised=resynchronised).utran
        self._cancel_old_scscf(subscription, before, request)
        # Written as bytes (cx_messages): the MAA is one per MAR under load.
        return aka_answer(request, self.node.origin_avps(), subscription.impi, impu, vectors)

    def _maa(self, request, subscription, items):
        answer = self.answer(request, results.DIAMETER_SUCCESS)
        answer.add("User-Name", subscription.impi)
        answer.add("Public-Identity", request.get("Public-Identity"))
        answer.add("SIP-Number-Auth-Items", len(items))
        for name, value in items:
            answer.add(name, value)
        return answer

    @defer.inlineCallbacks
    def _mar_digest(self, found, request, authentication):
        subscription, _ = found
        if subscription is None or subscription.identity(authentication["impu"]) is None:
            return (yield self._identities_refusal(request, subscription, authentication["impu"]))
        if subscription.digest_ha1 is None:
            return self.experimental_answer(request, results.DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED,
                                            "no SIP Digest password for this user")
        _, before, _, _ = yield self.store.ims_authenticate(Authentication(**authentication))
        self._cancel_old_scscf(subscription, before, request)
        return self._maa(request, subscription, [("SIP-Auth-Data-Item", [
            ("SIP-Item-Number", 1),
            ("SIP-Authentication-Scheme", DIGEST_SCHEME),
            ("SIP-Digest-Authenticate", [
                ("Digest-Realm", subscription.digest_realm),
                ("Digest-QoP", self.policy.digest_qop),
                ("Digest-HA1", subscription.digest_ha1),
                ("Digest-Algorithm", "MD5"),
            ]),
        ])])

    def _mar_failed(self, reason, request, impi):
        if reason.check(AucError):
            self.log.warn("MAR for {impi}: {error}", impi=impi, error=reason.value)
            text = "re-synchronisation failed" if reason.check(ResyncError) else "no usable key material"
            return self.answer(request, results.DIAMETER_AUTHENTICATION_REJECTED).add("Error-Message", text)
        return self._unknown_on_bad_identity(reason, request)

    # --- SAR ---------------------------------------------------------------------------
    def server_assignment(self, request, peer):
        values = read_request(request)
        kind = values.get("Server-Assignment-Type")
        impi, impu = values.get("User-Name"), values.get("Public-Identity")
        if impi is None and impu is None:
            answer = self.answer(request, results.DIAMETER_MISSING_AVP)
            answer.add("Error-Message", "SAR needs User-Name or Public-Identity")
            answer.add("Failed-AVP", [("Public-Identity", "")])
            return defer.succeed(answer)
        assignment = Assignment(kind, impi, impu, values.get("Server-Name"), values.get("Origin-Host"),
                                values.get("Origin-Realm"), peer.origin_host if peer is not None else None,
                                self.node.clock.seconds(), self.policy.keep_server_name)
        d = self.store.ims_assign(assignment)
        d.addCallback(self._saa, request, kind, values)
        d.addErrback(self._unknown_on_bad_identity, request)
        return d

    def _saa(self, found, request, kind, values):
        subscription, before, after, outcome, template = found
        impu = values.get("Public-Identity")
        if subscription is None or before is None:
            return self._identities_refusal(request, subscription, impu)
        if outcome == OTHER_SCSCF:
            if kind in (REGISTRATION, RE_REGISTRATION, UNREGISTERED_USER):
                return self.experimental_answer(request, results.DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED).add(
                    "Server-Name", before.server_name)
            return self.answer(request, results.DIAMETER_UNABLE_TO_COMPLY).add(
                "Error-Message", "another S-CSCF is assigned" if before.server_name else "no S-CSCF is assigned")
        if outcome == NAME_NOT_STORED:
            return self.experimental_answer(request, results.DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED).add(
                "User-Name", subscription.impi)
        if outcome != DONE:
            return self.experimental_answer(request, results.DIAMETER_ERROR_IN_ASSIGNMENT_TYPE)
        answer = self.answer(request, results.DIAMETER_SUCCESS).add("User-Name", subscription.impi)
        if kind in _PROFILE_TYPES:
            if values.get("User-Data-Already-Available") != USER_DATA_ALREADY_AVAILABLE \
                    or kind != RE_REGISTRATION:
                identities = subscription.implicit_set(impu) if impu is not None else subscription.impus
                answer.add("User-Data", self.user_data(subscription, identities, template))
            charging = self.policy.charging_information()
            if charging:
                answer.add("Charging-Information", charging)
        return answer

    # --- LIR ---------------------------------------------------------------------------
    def location_info(self, request, peer):
        impu = request.get("Public-Identity")
        d = self.store.ims_lookup(impu=impu)
        d.addCallback(self._lia, request, impu)
        d.addErrback(self._unknown_on_bad_identity, request)
        return d

    @defer.inlineCallbacks
    def _lia(self, found, request, impu):
        subscription, registration = found
        if subscription is None:
            return self.experimental_answer(request, results.DIAMETER_ERROR_USER_UNKNOWN)
        state = registration.state(subscription.identity(impu).uri)
        confirmed = registration.server_name if not registration.pending else None
        if state == REGISTERED:
            return self.answer(request, results.DIAMETER_SUCCESS).add("Server-Name", registration.server_name)
        if confirmed is not None:   # unregistered, or de-registered with the name kept
            return self.experimental_answer(request, results.DIAMETER_UNREGISTERED_SERVICE).add(
                "Server-Name", confirmed)
        if state == NOT_REGISTERED and (yield self._unregistered_services(subscription)):
            return self._with_capabilities(self.experimental_answer(request, results.DIAMETER_UNREGISTERED_SERVICE))
        return self.experimental_answer(request, results.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED)

    @defer.inlineCallbacks
    def _unregistered_services(self, subscription):
        """Whether the user's iFCs serve the terminating-unregistered case."""
        if subscription.ifc is None:
            return False
        template = yield self.store.get_ifc_template(subscription.ifc)
        return any(case.text.strip() == TERMINATING_UNREGISTERED
                   for criteria in self.user_data.criteria(template) for case in criteria.iter("SessionCase"))
