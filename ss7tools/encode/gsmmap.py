"""GSM MAP (3GPP TS 29.002) operations for the traffic builder.

``OPERATIONS`` declares each operation once: code, application context,
argument and result ASN.1 types and how to fill them from a subscriber's
identities.  ``MapBuilder`` turns that into TCAP dialogues; pycrate's
MAP ASN.1 module does the BER encoding.
"""

from dataclasses import dataclass, field

from ss7tools.encode import tcap

MAP_AC_ROOT = (0, 4, 0, 0, 1, 0)

# application context name -> (id in 0.4.0.0.1.0.id.version)
APPLICATION_CONTEXTS = {
    "networkLocUpContext": 1, "locationCancellationContext": 2,
    "roamingNumberEnquiryContext": 3, "locationInfoRetrievalContext": 5,
    "resetContext": 10, "equipmentMngtContext": 13,
    "infoRetrievalContext": 14, "interVlrInfoRetrievalContext": 15,
    "subscriberDataMngtContext": 16, "tracingContext": 17,
    "networkFunctionalSsContext": 18, "networkUnstructuredSsContext": 19,
    "shortMsgGatewayContext": 20, "shortMsgMO-RelayContext": 21,
    "shortMsgAlertContext": 23, "mwdMngtContext": 24,
    "shortMsgMT-RelayContext": 25, "imsiRetrievalContext": 26,
    "msPurgingContext": 27, "subscriberInfoEnquiryContext": 28,
    "anyTimeInfoEnquiryContext": 29, "gprsLocationUpdateContext": 32,
    "gprsLocationInfoRetrievalContext": 33, "anyTimeInfoHandlingContext": 43,
}


def application_context(name, version):
    return MAP_AC_ROOT + (APPLICATION_CONTEXTS[name], version)


def tbcd(digits):
    """TBCD string (TS 29.002 TBCD-STRING): low nibble first, F filler."""
    nibbles = ["0123456789*#abc".index(d) for d in digits.lower()]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4)
                 for i in range(0, len(nibbles), 2))


def isdn(digits, nature=1, plan=1):
    """ISDN-AddressString: ext bit, nature of address, numbering plan."""
    return bytes([0x80 | (nature << 4) | plan]) + tbcd(digits)


@dataclass
class Subscriber:
    """Identities a generated dialogue can carry."""
    imsi: str = "001010123456789"
    msisdn: str = "491711234567"
    msc: str = "491720000001"
    vlr: str = "491720000002"
    hlr: str = "491720000003"
    sgsn: str = "491720000004"
    smsc: str = "491720000005"
    gsmscf: str = "491720000006"

    def addr(self, name):
        return isdn(getattr(self, name))


_LOCATION_INFO = {"locationInformation": 0, "subscriberState": 0}


@dataclass
class Operation:
    name: str
    code: int
    context: str
    version: int
    arg_type: str = None
    arg: object = None           # Subscriber -> pycrate value
    res_type: str = None
    res: object = None
    carries: tuple = field(default=())   # identities the argument carries


def _op(name, code, context, version, arg_type=None, arg=None, res_type=None,
        res=None, carries=()):
    return Operation(name, code, context, version, arg_type, arg, res_type,
                     res, carries)


OPERATIONS = {op.name: op for op in [
    _op("updateLocation", 2, "networkLocUpContext", 3, "UpdateLocationArg",
        lambda s: {"imsi": tbcd(s.imsi), "msc-Number": s.addr("msc"),
                   "vlr-Number": s.addr("vlr")},
        "UpdateLocationRes", lambda s: {"hlr-Number": s.addr("hlr")},
        ("imsi", "msc", "vlr")),
    _op("cancelLocation", 3, "locationCancellationContext", 3,
        "CancelLocationArg",
        lambda s: {"identity": ("imsi", tbcd(s.imsi)),
                   "cancellationType": "updateProcedure"},
        "CancelLocationRes", lambda s: {}, ("imsi",)),
    _op("provideRoamingNumber", 4, "roamingNumberEnquiryContext", 3,
        "ProvideRoamingNumberArg",
        lambda s: {"imsi": tbcd(s.imsi), "msc-Number": s.addr("msc"),
                   "msisdn": s.addr("msisdn")},
        "ProvideRoamingNumberRes",
        lambda s: {"roamingNumber": isdn("491790000099")},
        ("imsi", "msc", "msisdn")),
    _op("insertSubscriberData", 7, "subscriberDataMngtContext", 3,
        "InsertSubscriberDataArg",
        lambda s: {"imsi": tbcd(s.imsi), "msisdn": s.addr("msisdn"),
                   "category": b"\x0a", "subscriberStatus": "serviceGranted"},
        "InsertSubscriberDataRes", lambda s: {}, ("imsi", "msisdn")),
    _op("deleteSubscriberData", 8, "subscriberDataMngtContext", 3,
        "DeleteSubscriberDataArg",
        lambda s: {"imsi": tbcd(s.imsi), "ss-List": [b"\x21"]},
        "DeleteSubscriberDataRes", lambda s: {}, ("imsi",)),
    _op("registerSS", 10, "networkFunctionalSsContext", 2, "RegisterSS-Arg",
        lambda s: {"ss-Code": b"\x21",
                   "forwardedToNumber": isdn("491790000042")}),
    _op("activateSS", 12, "networkFunctionalSsContext", 2, "SS-ForBS-Code",
        lambda s: {"ss-Code": b"\x21"}),
    _op("deactivateSS", 13, "networkFunctionalSsContext", 2, "SS-ForBS-Code",
        lambda s: {"ss-Code": b"\x21"}),
    _op("sendRoutingInfo", 22, "locationInfoRetrievalContext", 3,
        "SendRoutingInfoArg",
        lambda s: {"msisdn": s.addr("msisdn"), "interrogationType": "basicCall",
                   "gmsc-OrGsmSCF-Address": s.addr("msc")},
        "SendRoutingInfoRes",
        lambda s: {"imsi": tbcd(s.imsi),
                   "extendedRoutingInfo": ("routingInfo", (
                       "roamingNumber", isdn("491790000099")))},
        ("msisdn", "msc")),
    _op("updateGprsLocation", 23, "gprsLocationUpdateContext", 3,
        "UpdateGprsLocationArg",
        lambda s: {"imsi": tbcd(s.imsi), "sgsn-Number": s.addr("sgsn"),
                   "sgsn-Address": b"\x04\x0a\x00\x00\x01"},
        "UpdateGprsLocationRes", lambda s: {"hlr-Number": s.addr("hlr")},
        ("imsi", "sgsn")),
    _op("sendRoutingInfoForGprs", 24, "gprsLocationInfoRetrievalContext", 3,
        "SendRoutingInfoForGprsArg",
        lambda s: {"imsi": tbcd(s.imsi), "ggsn-Number": isdn("491720000007")},
        "SendRoutingInfoForGprsRes",
        lambda s: {"sgsn-Address": b"\x04\x0a\x00\x00\x01"}, ("imsi",)),
    _op("reset", 37, "resetContext", 2, "ResetArg",
        lambda s: {"sendingNodenumber": ("hlr-Number", s.addr("hlr"))},
        carries=("hlr",)),
    _op("checkIMEI", 43, "equipmentMngtContext", 3, "CheckIMEI-Arg",
        lambda s: {"imei": tbcd("3520990017614823"),
                   "requestedEquipmentInfo": (2, 2)}),
    _op("mt-forwardSM", 44, "shortMsgMT-RelayContext", 3, "MT-ForwardSM-Arg",
        lambda s: {"sm-RP-DA": ("imsi", tbcd(s.imsi)),
                   "sm-RP-OA": ("serviceCentreAddressOA", s.addr("smsc")),
                   "sm-RP-UI": bytes.fromhex(
                       "040b919471214365f700006270110000000005c8329bfd06")},
        "MT-ForwardSM-Res", lambda s: {}, ("imsi", "smsc")),
    _op("sendRoutingInfoForSM", 45, "shortMsgGatewayContext", 3,
        "RoutingInfoForSM-Arg",
        lambda s: {"msisdn": s.addr("msisdn"), "sm-RP-PRI": True,
                   "serviceCentreAddress": s.addr("smsc")},
        "RoutingInfoForSM-Res",
        lambda s: {"imsi": tbcd(s.imsi), "locationInfoWithLMSI": {
            "networkNode-Number": s.addr("msc")}},
        ("msisdn", "smsc")),
    _op("mo-forwardSM", 46, "shortMsgMO-RelayContext", 3, "MO-ForwardSM-Arg",
        lambda s: {"sm-RP-DA": ("serviceCentreAddressDA", s.addr("smsc")),
                   "sm-RP-OA": ("msisdn", s.addr("msisdn")),
                   "sm-RP-UI": bytes.fromhex("01000b919471214365f7000005c8329bfd06")},
        "MO-ForwardSM-Res", lambda s: {}, ("msisdn", "smsc")),
    _op("reportSM-DeliveryStatus", 47, "shortMsgGatewayContext", 3,
        "ReportSM-DeliveryStatusArg",
        lambda s: {"msisdn": s.addr("msisdn"),
                   "serviceCentreAddress": s.addr("smsc"),
                   "sm-DeliveryOutcome": "absentSubscriber"},
        "ReportSM-DeliveryStatusRes", lambda s: {}, ("msisdn", "smsc")),
    _op("sendIdentification", 55, "interVlrInfoRetrievalContext", 3,
        "SendIdentificationArg", lambda s: {"tmsi": b"\x01\x02\x03\x04"},
        "SendIdentificationRes", lambda s: {"imsi": tbcd(s.imsi)}),
    _op("sendAuthenticationInfo", 56, "infoRetrievalContext", 3,
        "SendAuthenticationInfoArg",
        lambda s: {"imsi": tbcd(s.imsi), "numberOfRequestedVectors": 3,
                   "requestingNodeType": "vlr"},
        "SendAuthenticationInfoRes",
        lambda s: {"authenticationSetList": ("quintupletList", [{
            "rand": bytes(range(16)), "xres": bytes(8), "ck": bytes(16),
            "ik": bytes(16), "autn": bytes(16)}])}, ("imsi",)),
    _op("sendIMSI", 58, "imsiRetrievalContext", 2, "ISDN-AddressString",
        lambda s: s.addr("msisdn"), "IMSI", lambda s: tbcd(s.imsi),
        ("msisdn",)),
    _op("processUnstructuredSS-Request", 59, "networkUnstructuredSsContext",
        2, "USSD-Arg",
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("aa180da682dd6c31192d36bbdd46"),
                   "msisdn": s.addr("msisdn")},
        "USSD-Res",
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("c2303bec0e83")},
        ("msisdn",)),
    _op("unstructuredSS-Request", 60, "networkUnstructuredSsContext", 2,
        "USSD-Arg",
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("c2303bec0e83")},
        "USSD-Res",
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("31")}),
    _op("informServiceCentre", 63, "shortMsgGatewayContext", 3,
        "InformServiceCentreArg", lambda s: {"storedMSISDN": s.addr("msisdn")},
        carries=("msisdn",)),
    _op("alertServiceCentre", 64, "shortMsgAlertContext", 2,
        "AlertServiceCentreArg",
        lambda s: {"msisdn": s.addr("msisdn"),
                   "serviceCentreAddress": s.addr("smsc")},
        carries=("msisdn", "smsc")),
    _op("anyTimeModification", 65, "anyTimeInfoHandlingContext", 3,
        "AnyTimeModificationArg",
        lambda s: {"subscriberIdentity": ("msisdn", s.addr("msisdn")),
                   "gsmSCF-Address": s.addr("gsmscf"),
                   "modificationRequestFor-ODB-data": {
                       "modifyNotificationToCSE": "deactivate"}},
        "AnyTimeModificationRes", lambda s: {}, ("msisdn",)),
    _op("readyForSM", 66, "mwdMngtContext", 3, "ReadyForSM-Arg",
        lambda s: {"imsi": tbcd(s.imsi), "alertReason": "ms-Present"},
        "ReadyForSM-Res", lambda s: {}, ("imsi",)),
    _op("purgeMS", 67, "msPurgingContext", 3, "PurgeMS-Arg",
        lambda s: {"imsi": tbcd(s.imsi), "vlr-Number": s.addr("vlr")},
        "PurgeMS-Res", lambda s: {}, ("imsi", "vlr")),
    _op("provideSubscriberInfo", 70, "subscriberInfoEnquiryContext", 3,
        "ProvideSubscriberInfoArg",
        lambda s: {"imsi": tbcd(s.imsi), "requestedInfo": _LOCATION_INFO},
        "ProvideSubscriberInfoRes",
        lambda s: {"subscriberInfo": {"subscriberState": ("assumedIdle", 0)}},
        ("imsi",)),
    _op("anyTimeInterrogation", 71, "anyTimeInfoEnquiryContext", 3,
        "AnyTimeInterrogationArg",
        lambda s: {"subscriberIdentity": ("msisdn", s.addr("msisdn")),
                   "requestedInfo": _LOCATION_INFO,
                   "gsmSCF-Address": s.addr("gsmscf")},
        "AnyTimeInterrogationRes",
        lambda s: {"subscriberInfo": {"subscriberState": ("assumedIdle", 0)}},
        ("msisdn",)),
]}

OPERATIONS_BY_CODE = {op.code: op for op in OPERATIONS.values()}

# MAP error codes used for generated ReturnError components.
ERRORS = {"unknownSubscriber": 1, "unidentifiedSubscriber": 5,
          "absentSubscriberSM": 6, "roamingNotAllowed": 8,
          "illegalSubscriber": 9, "teleserviceNotProvisioned": 11,
          "callBarred": 13, "facilityNotSupported": 21,
          "absentSubscriber": 27, "systemFailure": 34, "dataMissing": 35,
          "unexpectedDataValue": 36}


class MapBuilder:
    """MAP dialogues as TCAP bytes.  Keeps invoke ids; transaction ids are
    the caller's (ints or 1-4 bytes)."""

    def __init__(self, subscriber=None):
        self.subscriber = subscriber or Subscriber()
        self._invoke_id = 0

    def next_invoke_id(self):
        self._invoke_id = self._invoke_id % 127 + 1
        return self._invoke_id

    @staticmethod
    def operation(name_or_code):
        if isinstance(name_or_code, int):
            return OPERATIONS_BY_CODE[name_or_code]
        return OPERATIONS[name_or_code]

    def context(self, op):
        return application_context(op.context, op.version)

    def argument(self, op, subscriber=None):
        if op.arg_type is None:
            return None
        return (op.arg_type, op.arg(subscriber or self.subscriber))

    def result(self, op, subscriber=None):
        if op.res_type is None:
            return None
        return (op.res_type, op.res(subscriber or self.subscriber))

    def invoke(self, name, subscriber=None, invoke_id=None):
        op = self.operation(name)
        invoke_id = self.next_invoke_id() if invoke_id is None else invoke_id
        return tcap.invoke(invoke_id, op.code, self.argument(op, subscriber))

    def begin(self, name, otid, subscriber=None, invoke_id=None,
              dialogue=True):
        op = self.operation(name)
        return tcap.tcap_begin(
            otid, [self.invoke(name, subscriber, invoke_id)],
            tcap.dialogue_request(self.context(op)) if dialogue else None)

    def result_component(self, name, invoke_id, subscriber=None):
        op = self.operation(name)
        res = self.result(op, subscriber)
        if res is None:
            return tcap.return_result_last(invoke_id)
        return tcap.return_result_last(invoke_id, op.code, res)

    def end_result(self, name, dtid, invoke_id, subscriber=None,
                   dialogue=True):
        op = self.operation(name)
        return tcap.tcap_end(
            dtid, [self.result_component(name, invoke_id, subscriber)],
            tcap.dialogue_response(self.context(op)) if dialogue else None)

    def continue_result(self, name, otid, dtid, invoke_id, subscriber=None,
                        dialogue=True):
        op = self.operation(name)
        return tcap.tcap_continue(
            otid, dtid, [self.result_component(name, invoke_id, subscriber)],
            tcap.dialogue_response(self.context(op)) if dialogue else None)

    def end_error(self, dtid, invoke_id, error="unknownSubscriber"):
        code = ERRORS[error] if isinstance(error, str) else error
        return tcap.tcap_end(dtid, [tcap.return_error(invoke_id, code)])

    def end_reject(self, dtid, invoke_id, problem_type="invoke", problem=1):
        return tcap.tcap_end(dtid, [tcap.reject(invoke_id, problem_type,
                                                problem)])
