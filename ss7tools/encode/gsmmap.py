"""GSM MAP (3GPP TS 29.002) operations for the traffic builder.

Codes, application contexts and ASN.1 type names are the catalogue's
(:mod:`ss7tools.map_catalogue`); ``OPERATIONS`` adds, for the operations
this builder makes, how to fill their argument and result from a
subscriber's identities.  ``MapBuilder`` turns that into TCAP dialogues;
pycrate's MAP ASN.1 module does the BER encoding.
"""

from dataclasses import dataclass, field

from ss7tools.encode import tcap
from ss7tools.map_catalogue import CONTEXT_IDS, ERRORS, MAP_BY_NAME, context_oid

#: application context name -> id in 0.4.0.0.1.0.id.version
APPLICATION_CONTEXTS = CONTEXT_IDS


def application_context(name, version):
    return context_oid(name, version)


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
    """A catalogue operation with the builders of its values; ``arg_type`` /
    ``res_type`` are None where this builder makes no argument / result."""
    name: str
    code: int
    context: str
    version: int
    arg_type: str = None
    arg: object = None           # Subscriber -> pycrate value
    res_type: str = None
    res: object = None
    carries: tuple = field(default=())   # identities the argument carries


def _op(name, arg=None, res=None, carries=()):
    spec = MAP_BY_NAME[name]
    return Operation(name, spec.code, spec.context, spec.version,
                     spec.argument_type if arg is not None else None, arg,
                     spec.result_type if res is not None else None, res, carries)


OPERATIONS = {op.name: op for op in [
    _op("updateLocation",
        lambda s: {"imsi": tbcd(s.imsi), "msc-Number": s.addr("msc"),
                   "vlr-Number": s.addr("vlr")},
        lambda s: {"hlr-Number": s.addr("hlr")},
        carries=("imsi", "msc", "vlr")),
    _op("cancelLocation",
        lambda s: {"identity": ("imsi", tbcd(s.imsi)),
                   "cancellationType": "updateProcedure"},
        lambda s: {},
        carries=("imsi",)),
    _op("provideRoamingNumber",
        lambda s: {"imsi": tbcd(s.imsi), "msc-Number": s.addr("msc"),
                   "msisdn": s.addr("msisdn")},
        lambda s: {"roamingNumber": isdn("491790000099")},
        carries=("imsi", "msc", "msisdn")),
    _op("insertSubscriberData",
        lambda s: {"imsi": tbcd(s.imsi), "msisdn": s.addr("msisdn"),
                   "category": b"\x0a", "subscriberStatus": "serviceGranted"},
        lambda s: {},
        carries=("imsi", "msisdn")),
    _op("deleteSubscriberData",
        lambda s: {"imsi": tbcd(s.imsi), "ss-List": [b"\x21"]},
        lambda s: {},
        carries=("imsi",)),
    _op("registerSS",
        lambda s: {"ss-Code": b"\x21",
                   "forwardedToNumber": isdn("491790000042")}),
    _op("activateSS",
        lambda s: {"ss-Code": b"\x21"}),
    _op("deactivateSS",
        lambda s: {"ss-Code": b"\x21"}),
    _op("sendRoutingInfo",
        lambda s: {"msisdn": s.addr("msisdn"), "interrogationType": "basicCall",
                   "gmsc-OrGsmSCF-Address": s.addr("msc")},
        lambda s: {"imsi": tbcd(s.imsi),
                   "extendedRoutingInfo": ("routingInfo", (
                       "roamingNumber", isdn("491790000099")))},
        carries=("msisdn", "msc")),
    _op("updateGprsLocation",
        lambda s: {"imsi": tbcd(s.imsi), "sgsn-Number": s.addr("sgsn"),
                   "sgsn-Address": b"\x04\x0a\x00\x00\x01"},
        lambda s: {"hlr-Number": s.addr("hlr")},
        carries=("imsi", "sgsn")),
    _op("sendRoutingInfoForGprs",
        lambda s: {"imsi": tbcd(s.imsi), "ggsn-Number": isdn("491720000007")},
        lambda s: {"sgsn-Address": b"\x04\x0a\x00\x00\x01"},
        carries=("imsi",)),
    _op("reset",
        lambda s: {"sendingNodenumber": ("hlr-Number", s.addr("hlr"))},
        carries=("hlr",)),
    _op("checkIMEI",
        lambda s: {"imei": tbcd("3520990017614823"),
                   "requestedEquipmentInfo": (2, 2)}),
    _op("mt-forwardSM",
        lambda s: {"sm-RP-DA": ("imsi", tbcd(s.imsi)),
                   "sm-RP-OA": ("serviceCentreAddressOA", s.addr("smsc")),
                   "sm-RP-UI": bytes.fromhex(
                       "040b919471214365f700006270110000000005c8329bfd06")},
        lambda s: {},
        carries=("imsi", "smsc")),
    _op("sendRoutingInfoForSM",
        lambda s: {"msisdn": s.addr("msisdn"), "sm-RP-PRI": True,
                   "serviceCentreAddress": s.addr("smsc")},
        lambda s: {"imsi": tbcd(s.imsi), "locationInfoWithLMSI": {
            "networkNode-Number": s.addr("msc")}},
        carries=("msisdn", "smsc")),
    _op("mo-forwardSM",
        lambda s: {"sm-RP-DA": ("serviceCentreAddressDA", s.addr("smsc")),
                   "sm-RP-OA": ("msisdn", s.addr("msisdn")),
                   "sm-RP-UI": bytes.fromhex("01000b919471214365f7000005c8329bfd06")},
        lambda s: {},
        carries=("msisdn", "smsc")),
    _op("reportSM-DeliveryStatus",
        lambda s: {"msisdn": s.addr("msisdn"),
                   "serviceCentreAddress": s.addr("smsc"),
                   "sm-DeliveryOutcome": "absentSubscriber"},
        lambda s: {},
        carries=("msisdn", "smsc")),
    _op("sendIdentification",
        lambda s: {"tmsi": b"\x01\x02\x03\x04"},
        lambda s: {"imsi": tbcd(s.imsi)}),
    _op("sendAuthenticationInfo",
        lambda s: {"imsi": tbcd(s.imsi), "numberOfRequestedVectors": 3,
                   "requestingNodeType": "vlr"},
        lambda s: {"authenticationSetList": ("quintupletList", [{
            "rand": bytes(range(16)), "xres": bytes(8), "ck": bytes(16),
            "ik": bytes(16), "autn": bytes(16)}])},
        carries=("imsi",)),
    _op("sendIMSI",
        lambda s: s.addr("msisdn"),
        lambda s: tbcd(s.imsi),
        carries=("msisdn",)),
    _op("processUnstructuredSS-Request",
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("aa180da682dd6c31192d36bbdd46"),
                   "msisdn": s.addr("msisdn")},
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("c2303bec0e83")},
        carries=("msisdn",)),
    _op("unstructuredSS-Request",
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("c2303bec0e83")},
        lambda s: {"ussd-DataCodingScheme": b"\x0f",
                   "ussd-String": bytes.fromhex("31")}),
    _op("informServiceCentre",
        lambda s: {"storedMSISDN": s.addr("msisdn")},
        carries=("msisdn",)),
    _op("alertServiceCentre",
        lambda s: {"msisdn": s.addr("msisdn"),
                   "serviceCentreAddress": s.addr("smsc")},
        carries=("msisdn", "smsc")),
    _op("anyTimeModification",
        lambda s: {"subscriberIdentity": ("msisdn", s.addr("msisdn")),
                   "gsmSCF-Address": s.addr("gsmscf"),
                   "modificationRequestFor-ODB-data": {
                       "modifyNotificationToCSE": "deactivate"}},
        lambda s: {},
        carries=("msisdn",)),
    _op("readyForSM",
        lambda s: {"imsi": tbcd(s.imsi), "alertReason": "ms-Present"},
        lambda s: {},
        carries=("imsi",)),
    _op("purgeMS",
        lambda s: {"imsi": tbcd(s.imsi), "vlr-Number": s.addr("vlr")},
        lambda s: {},
        carries=("imsi", "vlr")),
    _op("provideSubscriberInfo",
        lambda s: {"imsi": tbcd(s.imsi), "requestedInfo": _LOCATION_INFO},
        lambda s: {"subscriberInfo": {"subscriberState": ("assumedIdle", 0)}},
        carries=("imsi",)),
    _op("anyTimeInterrogation",
        lambda s: {"subscriberIdentity": ("msisdn", s.addr("msisdn")),
                   "requestedInfo": _LOCATION_INFO,
                   "gsmSCF-Address": s.addr("gsmscf")},
        lambda s: {"subscriberInfo": {"subscriberState": ("assumedIdle", 0)}},
        carries=("msisdn",)),
]}

OPERATIONS_BY_CODE = {op.code: op for op in OPERATIONS.values()}

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
