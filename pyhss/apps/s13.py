"""S13/S13' (TS 29.272 section 6, application 16777252): the EIR side of
the ME Identity Check, ECR -> ECA.

The node has validated the request against the dictionary (a missing
Terminal-Information is answered 5005 before we are called).  Then
(6.2.1.3, :mod:`pyhss.apps.s13_policy`):

- an ECR whose Terminal-Information or User-Name cannot be evaluated is
  answered with the protocol's error (5009, 5005, 5004) and Failed-AVP;
- the store is asked, in one round trip, for the rule of the IMEI (its 14
  digits) and the rule of its TAC; an IMEI rule wins over a TAC rule,
  and an IMEI rule bound to an IMSI gives ``s13.imsi_mismatch_status``
  when the ECR names another IMSI or none;
- with no rule, ``s13.unknown_status``: an Equipment-Status, or
  Experimental-Result DIAMETER_ERROR_EQUIPMENT_UNKNOWN (5422, the spec's
  answer for equipment the EIR does not know, and the default);
- a store that fails: DIAMETER_UNABLE_TO_COMPLY (5012), as 6.2.1.3 says
  for "a database error".

A status is answered with Result-Code DIAMETER_SUCCESS and
Equipment-Status.  Every check (refused ones too) is appended to the
history (:mod:`pyhss.apps.s13_history`), which the answer never waits for.
"""

from twisted.internet import defer
from twisted.logger import Logger

from pyhss.apps.base import AUTH_SESSION_STATE, DiameterApplication
from pyhss.apps.s13_history import CheckHistory
from pyhss.apps.s13_policy import EcrPlan, EirPolicy
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_S13, CMD_ECR, VENDOR_3GPP
from pyhss.storage.records_eir import REFUSED, STORE_FAILED, answered_check

__all__ = ["S13Application"]

_W_SESSION_ID = codec.AvpWriter("Session-Id")
_SUCCESS = codec.result_code_avp(results.DIAMETER_SUCCESS).encode()
_EQUIPMENT_UNKNOWN = codec.Avp.new("Experimental-Result", [
    ("Vendor-Id", VENDOR_3GPP), ("Experimental-Result-Code", results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN)]).encode()


class S13Application(DiameterApplication):
    """The EIR.

    @param policy: the L{EirPolicy} (statuses for unknown and mismatched
        IMEIs).
    @param history: a L{CheckHistory}, or None to record nothing.
    """

    name = "s13"
    application_id = APP_S13
    vendor_id = VENDOR_3GPP
    log = Logger(namespace="pyhss.s13")

    def __init__(self, node, store, policy=None, history=None):
        DiameterApplication.__init__(self, node, store)
        self.policy = policy if policy is not None else EirPolicy()
        self.history = history
        self._summary = node.log_summary(self.log)
        self._tails = {}        # status -> (Origin-Host, Origin-Realm, the encoded AVPs after them)

    @classmethod
    def from_config(cls, node, store, config):
        """Reads the ``s13`` section."""
        s13 = config.s13
        history = None
        if s13.history.enabled:
            history = CheckHistory.from_config(store, node.clock, node.log_summary, s13.history)
        return cls(node, store, EirPolicy.from_names(s13.unknown_status, s13.imsi_mismatch_status), history)

    def handlers(self):
        return {CMD_ECR: self.me_identity_check}

    def stop(self):
        """Write the history that waits (the service calls this before
        closing the store)."""
        if self.history is None:
            return defer.succeed(0)
        return self.history.stop()

    # --- ECR ---------------------------------------------------------------------------

    def me_identity_check(self, request, peer):
        plan = EcrPlan(request)
        refusal = plan.refusal
        if refusal is not None:
            self._summary.info(("refused", plan.origin_host, refusal.result_code),
                               "ECR from {host} refused with {code}: {problem}", host=plan.origin_host,
                               code=refusal.result_code, problem=refusal.message)
            self._record(plan, refusal.result_code, None, REFUSED)
            answer = self.answer(request, refusal.result_code)
            answer.add("Error-Message", refusal.message[:200])
            answer.append(codec.Avp.new("Failed-AVP", [refusal.failed_avp]))
            return defer.succeed(answer)
        d = self.store.match_equipment(plan.imei)
        d.addCallbacks(self._matched, self._store_failed, callbackArgs=(plan,), errbackArgs=(plan,))
        return d

    def _matched(self, rules, plan):
        status, reason = self.policy.decide(rules[0], rules[1], plan.imsi)
        if status is None:
            self._record(plan, results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN, None, reason)
        else:
            self._record(plan, results.DIAMETER_SUCCESS, status, reason)
        return self._answer(plan, status)

    def _store_failed(self, reason, plan):
        # The node logs a handler's failure once per cause and answers 5012.
        self._record(plan, results.DIAMETER_UNABLE_TO_COMPLY, None, STORE_FAILED)
        return reason

    def _record(self, plan, result_code, status, reason):
        if self.history is not None:
            self.history.append(answered_check(
                self.node.clock.seconds(), (plan.origin_host or "")[:255], result_code, reason, plan.imei,
                plan.software_version, plan.imsi, status))

    def _answer(self, plan, status):
        """The ECA, written as bytes: Session-Id, the result, the request's
        Proxy-Info, Origin-Host, Origin-Realm, Auth-Session-State and
        Equipment-Status (the order node.answer gives)."""
        request = plan.request
        parts = []
        if plan.session_id is not None:
            parts.append(_W_SESSION_ID(plan.session_id.encode("utf-8")))
        parts.append(_SUCCESS if status is not None else _EQUIPMENT_UNKNOWN)
        parts.extend(avp.encode() for avp in plan.proxy_infos)
        parts.append(self._tail(status))
        return codec.EncodedAnswer(request.flags & codec.FLAG_PROXIABLE, request.command_code,
                                   request.application_id, request.hop_by_hop, request.end_to_end,
                                   b"".join(parts), request.version)

    def _tail(self, status):
        origin_host, origin_realm = self.node.origin_avps()
        cached = self._tails.get(status)
        if cached is None or cached[0] is not origin_host or cached[1] is not origin_realm:
            # Built once per status (again only if our identity changed).
            avps = [origin_host, origin_realm, AUTH_SESSION_STATE]
            if status is not None:
                avps.append(codec.Avp.new("Equipment-Status", status))
            cached = self._tails[status] = (origin_host, origin_realm, b"".join(avp.encode() for avp in avps))
        return cached[2]
