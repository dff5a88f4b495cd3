"""What the HSS sends an S-CSCF over Cx: Registration-Termination-Request
(TS 29.228 6.1.3; also to the old S-CSCF when a registered user
authenticates through another one, 8.1.1) and Push-Profile-Request
(6.2.2).  A mixin of :class:`pyhss.apps.cx.CxApplication`, which provides
``store``, ``node``, ``policy``, ``user_data``, ``new_request`` and
``send_request``."""

from twisted.internet import defer

from pyhss.apps import cx_control
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_CX, CMD_PPR, CMD_RTR, VENDOR_3GPP
from pyhss.storage.ims_records import NOT_REGISTERED
from pyhss.storage.ims_state import HSS_DEREGISTRATION, Assignment

# TS 29.229 6.3.16 Reason-Code
PERMANENT_TERMINATION = 0
NEW_SERVER_ASSIGNED = 1

VSAI = codec.constant_avp("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP),
                                                             ("Auth-Application-Id", APP_CX)])


class ScscfRequests:
    """RTR and PPR to the S-CSCF a subscription's registration names."""

    def _cancel_old_scscf(self, subscription, before, request):
        """TS 29.228 8.1.1: a registered user authenticating through another
        S-CSCF host: RTR (NEW_SERVER_ASSIGNED) to the old one."""
        old_host = before.scscf_host
        if (before.registered and old_host is not None and request.get("Server-Name") != before.server_name
                and old_host.lower() != request.get("Origin-Host", "").lower()):
            identities = [uri for uri, _ in before.states]
            self._send_rtr(before, subscription.impi, identities, NEW_SERVER_ASSIGNED, "a new S-CSCF was assigned")

    def _to_scscf(self, registration, command, avps, user):
        message = self.new_request(command, [
            VSAI,
            ("Destination-Host", registration.scscf_host),
            ("Destination-Realm", registration.scscf_realm),
        ] + avps)
        return self.send_request(registration.peer or registration.scscf_host, message, user)

    def _send_rtr(self, registration, impi, identities, reason_code, reason_info):
        reason = [("Reason-Code", reason_code)]
        if reason_info:
            reason.append(("Reason-Info", reason_info[:200]))
        return self._to_scscf(registration, CMD_RTR, [("User-Name", impi), ("Deregistration-Reason", reason)]
                              + [("Public-Identity", uri) for uri in identities], impi)

    @defer.inlineCallbacks
    def deregister(self, kind, identity, reason=None):
        """``pyhss-admin ims deregister``: RTR for a public identity's
        implicit set (``kind`` "impu") or every public identity of a
        private one ("impi"), then the registration is forgotten once the
        S-CSCF answered 2001.  Fires the outcome
        (:func:`pyhss.apps.cx_control.outcome`), or None when no
        subscription has ``identity``."""
        subscription, registration = yield (self.store.ims_lookup(impi=identity) if kind == "impi"
                                            else self.store.ims_lookup(impu=identity))
        if subscription is None:
            return None
        impu = None if kind == "impi" else identity
        chosen = subscription.impus if impu is None else subscription.implicit_set(impu)
        identities = [i.uri for i in chosen if registration.state(i.uri) != NOT_REGISTERED] \
            or [i.uri for i in chosen]
        if registration.server_name is None or registration.scscf_host is None:
            return cx_control.outcome(False, reason=cx_control.NOT_REGISTERED, identities=identities)
        host = registration.scscf_host
        if self.node.peer(registration.peer or host) is None:
            return cx_control.outcome(False, host, reason=cx_control.NOT_CONNECTED, identities=identities)
        sent = self._send_rtr(registration, subscription.impi, identities, PERMANENT_TERMINATION, reason)
        code = None if sent is None else (yield sent)
        if code is None:
            return cx_control.outcome(True, host, reason=cx_control.NO_ANSWER, identities=identities)
        if code == results.DIAMETER_SUCCESS:
            yield self.store.ims_assign(Assignment(HSS_DEREGISTRATION, subscription.impi, impu, None,
                                                   now=self.node.clock.seconds()))
        return cx_control.outcome(True, host, code, identities=identities)

    @defer.inlineCallbacks
    def push_profile(self, kind, impi):
        """After ``pyhss-admin ims update`` or a changed iFC template: PPR
        with the new User-Data to the S-CSCF of a registered subscription.
        Fires the outcome, or None when there is no such subscription."""
        subscription, registration = yield self.store.ims_lookup(impi=impi)
        if subscription is None:
            return None
        identities = [i for i in subscription.impus if registration.state(i.uri) != NOT_REGISTERED]
        uris = [i.uri for i in identities]
        if not identities or registration.scscf_host is None:
            return cx_control.outcome(False, reason=cx_control.NOT_REGISTERED, identities=uris)
        host = registration.scscf_host
        if self.node.peer(registration.peer or host) is None:
            return cx_control.outcome(False, host, reason=cx_control.NOT_CONNECTED, identities=uris)
        template = None if subscription.ifc is None else (yield self.store.get_ifc_template(subscription.ifc))
        avps = [("User-Name", impi), ("User-Data", self.user_data(subscription, tuple(identities), template))]
        charging = self.policy.charging_information()
        if charging:
            avps.append(("Charging-Information", charging))
        sent = self._to_scscf(registration, CMD_PPR, avps, impi)
        code = None if sent is None else (yield sent)
        if code is None:
            return cx_control.outcome(True, host, reason=cx_control.NO_ANSWER, identities=uris)
        return cx_control.outcome(True, host, code, identities=uris)
