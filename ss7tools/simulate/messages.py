"""The MAP messages the simulator sends: for each operation how pycrate
values are built from the identities its argument and result carry
(slots); codes, contexts and ASN.1 types are the catalogue's
(:mod:`ss7tools.map_catalogue`).  ``MapCodec`` renders TCAP messages through
:class:`~ss7tools.simulate.templates.TemplateCache`, so every message is
pycrate's BER encoding with the slot values written in."""

from ss7tools.encode import tcap
from ss7tools.encode.gsmmap import isdn, tbcd
from ss7tools.map_catalogue import ERRORS, MAP_BY_NAME, context_oid
from ss7tools.sms_tpdu import SHORT_MESSAGE_TYPE_0

#: slot name -> 'digits' (TBCD digits) or 'raw' (bytes of a fixed length)
RAW_SLOTS = frozenset(["otid", "dtid", "cgi", "sgsn_ip"]
                      + ["%s%d" % (n, i) for n in ("rand", "xres", "ck", "ik", "autn")
                         for i in range(5)])

_REQUESTED_INFO = {"locationInformation": 0, "subscriberState": 0}
# TS 23.040 TPDUs: SMS-DELIVER (from +46708251358, SCTS 2024-12-09 15:39:19
# +02:00) and SMS-SUBMIT (TP-MR 0x11, no TP-VP, to +46708251358), around the
# user data of each short message kind
_DELIVER_HEAD = bytes.fromhex("040b916407281553f8")
_SCTS = bytes.fromhex("42219051939180")
_SUBMIT_HEAD = bytes.fromhex("01110b916407281553f8")
#: short message kind -> (TP-PID, TP-DCS, TP-UDL, TP-UD); the simulator's
#: ``sms_kinds`` behaviour draws among them, None is "text"
SHORT_MESSAGE_KINDS = {
    # "Hello world" in the GSM 7-bit default alphabet, 11 septets
    "text": (0x00, 0x00, 11, bytes.fromhex("c8329bfd06dddf723619")),
    # "Hello" in UCS2, 10 octets
    "ucs2": (0x00, 0x08, 10, "Hello".encode("utf-16-be")),
    # a class 0 ("flash") message, shown at once: "Hello world"
    "flash": (0x00, 0x10, 11, bytes.fromhex("c8329bfd06dddf723619")),
    # a short message type 0 (TS 23.040 9.2.3.9): acknowledged, never shown
    "silent": (SHORT_MESSAGE_TYPE_0, 0x00, 0, b""),
}


def sms_deliver(kind):
    """The SMS-DELIVER TPDU of a short message kind."""
    pid, dcs, udl, ud = SHORT_MESSAGE_KINDS[kind or "text"]
    return _DELIVER_HEAD + bytes((pid, dcs)) + _SCTS + bytes((udl,)) + ud


def sms_submit(kind):
    """The SMS-SUBMIT TPDU of a short message kind."""
    pid, dcs, udl, ud = SHORT_MESSAGE_KINDS[kind or "text"]
    return _SUBMIT_HEAD + bytes((pid, dcs, udl)) + ud


_SMS_DELIVER = {kind: sms_deliver(kind) for kind in SHORT_MESSAGE_KINDS}
_SMS_SUBMIT = {kind: sms_submit(kind) for kind in SHORT_MESSAGE_KINDS}
_USSD_REQUEST = bytes.fromhex("aa180da682dd6c31192d36bbdd46")   # *100#-style request
_USSD_ANSWER = bytes.fromhex("c2303bec0e83e86f3b0c")


def _location_info(v):
    return {"subscriberInfo": {
        "locationInformation": {
            "ageOfLocationInformation": 2,
            "vlr-number": isdn(v["vlr"]),
            "cellGlobalIdOrServiceAreaIdOrLAI": (
                "cellGlobalIdOrServiceAreaIdFixedLength", v["cgi"])},
        "subscriberState": ("assumedIdle", 0)}}


def _vectors(v, count):
    return ("quintupletList", [{
        "rand": v["rand%d" % i], "xres": v["xres%d" % i], "ck": v["ck%d" % i],
        "ik": v["ik%d" % i], "autn": v["autn%d" % i]} for i in range(count)])


def _forwarding(v):
    return ("forwardingInfo", {"ss-Code": b"\x21", "forwardingFeatureList": [
        {"ss-Status": b"\x07", "forwardedToNumber": isdn(v["ftn"])}]})


def _isd(v, variant):
    arg = {"imsi": tbcd(v["imsi"]), "msisdn": isdn(v["msisdn"]),
           "category": b"\x0a", "subscriberStatus": "serviceGranted",
           "bearerServiceList": [b"\x1f"], "teleserviceList": [b"\x11", b"\x21", b"\x22"]}
    if variant == "forwarding":
        arg["provisionedSS"] = [_forwarding(v)]
    return arg


# op -> argument(values, variant) and result(values, variant)
ARGUMENTS = {
    "updateLocation": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "msc-Number": isdn(v["msc"]),
        "vlr-Number": isdn(v["vlr"]),
        "vlr-Capability": {"supportedCamelPhases": (0xE0, 3)}},
    "insertSubscriberData": _isd,
    "cancelLocation": lambda v, x: {
        "identity": ("imsi", tbcd(v["imsi"])),
        "cancellationType": x or "updateProcedure"},
    "purgeMS": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "vlr-Number": isdn(v["vlr"])},
    "sendAuthenticationInfo": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "numberOfRequestedVectors": x or 1,
        "requestingNodeType": "vlr"},
    "provideRoamingNumber": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "msc-Number": isdn(v["msc"]),
        "msisdn": isdn(v["msisdn"]), "gmsc-Address": isdn(v["gmsc"])},
    "sendRoutingInfo": lambda v, x: {
        "msisdn": isdn(v["msisdn"]), "interrogationType": "basicCall",
        "gmsc-OrGsmSCF-Address": isdn(v["gmsc"])},
    "sendRoutingInfoForSM": lambda v, x: {
        "msisdn": isdn(v["msisdn"]), "sm-RP-PRI": True,
        "serviceCentreAddress": isdn(v["smsc"])},
    "mt-forwardSM": lambda v, x: {
        "sm-RP-DA": ("imsi", tbcd(v["imsi"])),
        "sm-RP-OA": ("serviceCentreAddressOA", isdn(v["smsc"])),
        "sm-RP-UI": _SMS_DELIVER[x or "text"]},
    "mo-forwardSM": lambda v, x: {
        "sm-RP-DA": ("serviceCentreAddressDA", isdn(v["smsc"])),
        "sm-RP-OA": ("msisdn", isdn(v["msisdn"])), "sm-RP-UI": _SMS_SUBMIT[x or "text"]},
    "reportSM-DeliveryStatus": lambda v, x: {
        "msisdn": isdn(v["msisdn"]), "serviceCentreAddress": isdn(v["smsc"]),
        "sm-DeliveryOutcome": x or "absentSubscriber"},
    "processUnstructuredSS-Request": lambda v, x: {
        "ussd-DataCodingScheme": b"\x0f", "ussd-String": _USSD_REQUEST,
        "msisdn": isdn(v["msisdn"])},
    "provideSubscriberInfo": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "requestedInfo": _REQUESTED_INFO},
    "anyTimeInterrogation": lambda v, x: {
        "subscriberIdentity": ("msisdn", isdn(v["msisdn"])),
        "requestedInfo": _REQUESTED_INFO, "gsmSCF-Address": isdn(v["gsmscf"])},
    "sendRoutingInfoForGprs": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "ggsn-Number": isdn(v["ggsn"])},
    "sendIMSI": lambda v, x: isdn(v["msisdn"]),
    "registerSS": lambda v, x: {
        "ss-Code": b"\x21", "forwardedToNumber": isdn(v["ftn"])},
    "activateSS": lambda v, x: {"ss-Code": b"\x21"},
    "anyTimeModification": lambda v, x: {
        "subscriberIdentity": ("msisdn", isdn(v["msisdn"])),
        "gsmSCF-Address": isdn(v["gsmscf"]),
        "modificationRequestFor-CF-Info": {
            "ss-Code": b"\x21", "forwardedToNumber": isdn(v["ftn"]),
            "modifyNotificationToCSE": "deactivate"}},
}

RESULTS = {
    "updateLocation": lambda v, x: {"hlr-Number": isdn(v["hlr"])},
    "insertSubscriberData": lambda v, x: {},
    "cancelLocation": lambda v, x: {},
    "purgeMS": lambda v, x: {},
    "sendAuthenticationInfo": lambda v, x: {
        "authenticationSetList": _vectors(v, x or 1)},
    "provideRoamingNumber": lambda v, x: {
        "roamingNumber": isdn(v["msrn"])},
    "sendRoutingInfo": lambda v, x: {
        "imsi": tbcd(v["imsi"]), "extendedRoutingInfo": (
            "routingInfo", ("roamingNumber", isdn(v["msrn"])))},
    "sendRoutingInfoForSM": lambda v, x: {
        "imsi": tbcd(v["imsi"]),
        "locationInfoWithLMSI": {"networkNode-Number": isdn(v["msc"])}},
    "mt-forwardSM": lambda v, x: {},
    "mo-forwardSM": lambda v, x: {},
    "reportSM-DeliveryStatus": lambda v, x: {},
    "processUnstructuredSS-Request": lambda v, x: {
        "ussd-DataCodingScheme": b"\x0f", "ussd-String": _USSD_ANSWER},
    "provideSubscriberInfo": lambda v, x: _location_info(v),
    "anyTimeInterrogation": lambda v, x: _location_info(v),
    "sendRoutingInfoForGprs": lambda v, x: {
        "sgsn-Address": v["sgsn_ip"]},
    "sendIMSI": lambda v, x: tbcd(v["imsi"]),
    "registerSS": lambda v, x: _forwarding(v),
    "activateSS": lambda v, x: _forwarding(v),
    "anyTimeModification": lambda v, x: {},
}

def context(op):
    spec = MAP_BY_NAME[op]
    return context_oid(spec.context, spec.version)


def _kinds(values):
    return {n: ("raw" if n in RAW_SLOTS else "digits") for n in values}


class MapCodec:
    """TCAP messages for MAP dialogues.  ``values`` maps slot names to
    digit strings (identities) or bytes (``otid``/``dtid`` 4 octets, RAND
    ...); only the slots an operation uses may be given."""

    def __init__(self, cache=None):
        from ss7tools.simulate.templates import TemplateCache
        self.cache = cache or TemplateCache()

    def _render(self, key, build, values):
        return self.cache.render(key, build, values, _kinds(values))

    def begin(self, op, values, variant=None, invoke_id=1):
        spec, arg = MAP_BY_NAME[op], ARGUMENTS[op]
        code, arg_type = spec.code, spec.argument_type

        def build(v):
            return tcap.tcap_begin(v["otid"], [tcap.invoke(
                invoke_id, code, (arg_type, arg(v, variant)))],
                tcap.dialogue_request(context(op)))
        return self._render(("begin", op, variant, invoke_id), build, values)

    def continue_invoke(self, op, values, variant=None, invoke_id=1,
                        dialogue_of=None):
        """A TC-CONTINUE carrying an invoke (e.g. insertSubscriberData inside
        updateLocation); ``dialogue_of`` the operation whose AC to accept
        when this is the first backward message."""
        spec, arg = MAP_BY_NAME[op], ARGUMENTS[op]
        code, arg_type = spec.code, spec.argument_type
        dialogue = tcap.dialogue_response(context(dialogue_of)) if dialogue_of else None

        def build(v):
            return tcap.tcap_continue(v["otid"], v["dtid"], [tcap.invoke(
                invoke_id, code, (arg_type, arg(v, variant)))], dialogue)
        return self._render(("cinv", op, variant, invoke_id, dialogue_of),
                            build, values)

    def continue_result(self, op, values, variant=None, invoke_id=1):
        spec, res = MAP_BY_NAME[op], RESULTS[op]
        code, res_type = spec.code, spec.result_type

        def build(v):
            return tcap.tcap_continue(v["otid"], v["dtid"], [tcap.return_result_last(
                invoke_id, code, (res_type, res(v, variant)))])
        return self._render(("cres", op, variant, invoke_id), build, values)

    def end_result(self, op, values, variant=None, invoke_id=1, first=True):
        """TC-END with the result; ``first``: the first backward message, so
        it carries the dialogue response (AARE)."""
        spec, res = MAP_BY_NAME[op], RESULTS[op]
        code, res_type = spec.code, spec.result_type
        dialogue = tcap.dialogue_response(context(op)) if first else None

        def build(v):
            return tcap.tcap_end(v["dtid"], [tcap.return_result_last(
                invoke_id, code, (res_type, res(v, variant)))], dialogue)
        return self._render(("eres", op, variant, invoke_id, first), build, values)

    def end_error(self, op, error, values, invoke_id=1, first=True):
        dialogue = tcap.dialogue_response(context(op)) if first else None
        code = ERRORS[error]

        def build(v):
            return tcap.tcap_end(v["dtid"], [tcap.return_error(invoke_id, code)],
                                 dialogue)
        return self._render(("eerr", op, error, invoke_id, first), build, values)

    def abort(self, values, cause=4):
        """P-abort (Q.773 cause 4 resourceLimitation by default)."""
        return self._render(("abort", cause), lambda v: tcap.tcap_abort(
            v["dtid"], p_abort_cause=cause), values)
