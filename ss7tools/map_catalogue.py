"""The GSM MAP (3GPP TS 29.002) and CAMEL (TS 29.078) vocabulary, declared
once for the decoder (:mod:`ss7tools.gsmmap`), the encoder
(:mod:`ss7tools.encode.gsmmap`), the simulator and rules.

:data:`MAP_OPERATIONS` has one :class:`MapOperation` per local operation
code: its name, the application context (and version) a dialogue for it
opens with where ss7tools builds one, the ASN.1 types of its argument and
result where known, and where the identities the decoder extracts lie in
them.  An identity path is a tuple of BER tags from the parameter's own tag
down, each a tag (its first occurrence among siblings) or ``(tag, n)`` for
the n-th occurrence; MAP v1/v2 and v3 encodings are listed side by side.

:data:`FS11_CATEGORIES` places operations in the GSMA FS.11 (SS7
interconnect security monitoring and firewall guidelines) screening
categories; each operation's ``fs11`` is its category (None: FS.11 screens
it otherwise, as the SMS operations, or not at all):

- category 1: never expected from the interconnect; a network sends them
  to its own nodes only (its GMSC, gsmSCF, GMLC, other VLRs).
- category 2: from the subscriber's home network only: the HLR's (or
  GMLC's) requests to the VLR/SGSN serving a subscriber.  From the
  interconnect they are acceptable for our inbound roamers, sent by their
  own home network.
- category 3: from the network the subscriber is in only: the VLR's/SGSN's
  requests to the HLR.  From the interconnect they are acceptable for our
  outbound roamers, if the subscriber can be where the sender is
  (location plausibility).
"""

IDENTITY_FIELDS = ("imsi", "msisdn", "msc", "vlr", "hlr", "sgsn", "smsc")

MAP_AC_ROOT = (0, 4, 0, 0, 1, 0)
MAP_AC_PREFIX = "0.4.0.0.1.0."
#: CAMEL application contexts: CAP v2-v4 and the gprsSSF / SMS ones
CAP_AC_PREFIXES = ("0.4.0.0.1.0.50.", "0.4.0.0.1.0.51.", "0.4.0.0.1.0.52.",
                   "0.4.0.0.1.21.3.", "0.4.0.0.1.22.3.", "0.4.0.0.1.23.3.")

#: MAP application contexts 0.4.0.0.1.0.<id>.<version> (TS 29.002 17.3.2).
APPLICATION_CONTEXTS = {
    1: "networkLocUpContext", 2: "locationCancellationContext",
    3: "roamingNumberEnquiryContext", 4: "istAlertingContext",
    5: "locationInfoRetrievalContext", 6: "callControlTransferContext",
    7: "reportingContext", 8: "callCompletionContext",
    9: "serviceTerminationContext", 10: "resetContext",
    11: "handoverControlContext", 12: "sIWFSAllocationContext",
    13: "equipmentMngtContext", 14: "infoRetrievalContext",
    15: "interVlrInfoRetrievalContext", 16: "subscriberDataMngtContext",
    17: "tracingContext", 18: "networkFunctionalSsContext",
    19: "networkUnstructuredSsContext", 20: "shortMsgGatewayContext",
    21: "shortMsgMO-RelayContext", 22: "subscriberDataModificationNotificationContext",
    23: "shortMsgAlertContext", 24: "mwdMngtContext",
    25: "shortMsgMT-RelayContext", 26: "imsiRetrievalContext",
    27: "msPurgingContext", 28: "subscriberInfoEnquiryContext",
    29: "anyTimeInfoEnquiryContext", 31: "groupCallControlContext",
    32: "gprsLocationUpdateContext", 33: "gprsLocationInfoRetrievalContext",
    34: "failureReportContext", 35: "gprsNotifyContext",
    36: "ss-InvocationNotificationContext", 37: "locationSvcGatewayContext",
    38: "locationSvcEnquiryContext", 39: "authenticationFailureReportContext",
    40: "secureTransportHandlingContext", 41: "shortMsgMT-Relay-VGCS-Context",
    42: "mm-EventReportingContext", 43: "anyTimeInfoHandlingContext",
    44: "resourceManagementContext", 45: "groupCallInfoRetrievalContext",
    46: "vcsgLocationUpdateContext", 47: "vcsgLocationCancellationContext",
}
#: In MAP v1 and v2 context 21 is the (single) short message relay context.
APPLICATION_CONTEXTS_V1V2 = {21: "shortMsgRelayContext"}
#: application context name -> its id (the arc before the version)
CONTEXT_IDS = {name: ac for ac, name in APPLICATION_CONTEXTS.items()}


def context_oid(name, version):
    """The arcs of a MAP application context name: ``(0, 4, 0, 0, 1, 0, id, version)``."""
    return MAP_AC_ROOT + (CONTEXT_IDS[name], version)


class MapOperation:
    """One MAP operation.  ``context``/``version``: the application context
    ss7tools opens a dialogue for it with (None where it builds none);
    ``*_type``: pycrate's TS 29.002 ASN.1 type names (None: none or not
    recorded); ``*_identities``: ``((path, field), ...)`` with ``field`` one
    of :data:`IDENTITY_FIELDS`."""

    __slots__ = ("code", "name", "context", "version", "argument_type", "result_type",
                 "argument_identities", "result_identities", "fs11")

    def __init__(self, code, name, context=None, version=None, argument_type=None,
                 result_type=None, argument_identities=(), result_identities=()):
        self.code, self.name, self.context, self.version = code, name, context, version
        self.argument_type, self.result_type = argument_type, result_type
        self.argument_identities = tuple(argument_identities)
        self.result_identities = tuple(result_identities)
        self.fs11 = None   # set from FS11_CATEGORIES below

    def __repr__(self):
        return "MapOperation(%d, %r)" % (self.code, self.name)


S = 0x30  # SEQUENCE
_SM_RP = [((S, 0x80), "imsi"), ((S, 0x84), "smsc"), ((S, 0x82), "msisdn"),
          ((S, (0x04, 1)), "imsi")]
_USSD = [((S, 0x80), "msisdn")]
_SUBSCRIBER_IDENTITY = [((S, 0xA0, 0x80), "imsi"), ((S, 0xA0, 0x81), "msisdn")]
_LOCATION_INFO = [((S, S, 0xA0, 0x81), "vlr"), ((S, S, 0xA0, 0x86), "msc")]
_IMSI_0 = [((S, 0x80), "imsi")]
_SS_INFO = "SS-Info"
_USSD_TYPES = ("USSD-Arg", "USSD-Res")


def _op(code, name, context=None, version=None, types=(None, None), arg=(), res=()):
    return MapOperation(code, name, context, version, types[0], types[1], arg, res)


#: Every local MAP operation code, in code order (named as Wireshark shows them).
MAP_OPERATIONS = (
    _op(2, "updateLocation", "networkLocUpContext", 3,
        ("UpdateLocationArg", "UpdateLocationRes"),
        [((S, 0x04), "imsi"), ((S, 0x81), "msc"), ((S, (0x04, 1)), "vlr")],
        [((S, 0x04), "hlr")]),
    _op(3, "cancelLocation", "locationCancellationContext", 3,
        ("CancelLocationArg", "CancelLocationRes"),
        [((0xA3, 0x04), "imsi"), ((0xA3, S, 0x04), "imsi"), ((0x04,), "imsi"),
         ((S, 0x04), "imsi")]),
    _op(4, "provideRoamingNumber", "roamingNumberEnquiryContext", 3,
        ("ProvideRoamingNumberArg", "ProvideRoamingNumberRes"),
        [((S, 0x80), "imsi"), ((S, 0x81), "msc"), ((S, 0x82), "msisdn")]),
    _op(5, "noteSubscriberDataModified",
        arg=[((S, 0x04), "imsi"), ((S, (0x04, 1)), "msisdn")]),
    _op(6, "resumeCallHandling", arg=[((S, 0x83), "imsi")]),
    _op(7, "insertSubscriberData", "subscriberDataMngtContext", 3,
        ("InsertSubscriberDataArg", "InsertSubscriberDataRes"),
        [((S, 0x80), "imsi"), ((S, 0x81), "msisdn")]),
    _op(8, "deleteSubscriberData", "subscriberDataMngtContext", 3,
        ("DeleteSubscriberDataArg", "DeleteSubscriberDataRes"), _IMSI_0),
    _op(9, "sendParameters", arg=_IMSI_0),
    _op(10, "registerSS", "networkFunctionalSsContext", 2, ("RegisterSS-Arg", _SS_INFO)),
    _op(11, "eraseSS"),
    _op(12, "activateSS", "networkFunctionalSsContext", 2, ("SS-ForBS-Code", _SS_INFO)),
    _op(13, "deactivateSS", "networkFunctionalSsContext", 2, ("SS-ForBS-Code", _SS_INFO)),
    _op(14, "interrogateSS"),
    _op(15, "authenticationFailureReport", arg=[((S, 0x04), "imsi")]),
    _op(16, "notifySS"),
    _op(17, "registerPassword"),
    _op(18, "getPassword"),
    _op(19, "processUnstructuredSS-Data"),
    _op(20, "releaseResources"),
    _op(21, "mt-ForwardSM-VGCS"),
    _op(22, "sendRoutingInfo", "locationInfoRetrievalContext", 3,
        ("SendRoutingInfoArg", "SendRoutingInfoRes"),
        [((S, 0x80), "msisdn"), ((S, 0x86), "msc")],
        [((0xA3, 0x89), "imsi"), ((0xA3, 0x82), "msc"), ((S, 0x04), "imsi")]),
    _op(23, "updateGprsLocation", "gprsLocationUpdateContext", 3,
        ("UpdateGprsLocationArg", "UpdateGprsLocationRes"),
        [((S, 0x04), "imsi"), ((S, (0x04, 1)), "sgsn")], [((S, 0x04), "hlr")]),
    _op(24, "sendRoutingInfoForGprs", "gprsLocationInfoRetrievalContext", 3,
        ("SendRoutingInfoForGprsArg", "SendRoutingInfoForGprsRes"), _IMSI_0),
    _op(25, "failureReport", arg=_IMSI_0),
    _op(26, "noteMsPresentForGprs", arg=_IMSI_0),
    _op(28, "performHandover"),
    _op(29, "sendEndSignal"),
    _op(30, "performSubsequentHandover"),
    _op(31, "provideSIWFSNumber"),
    _op(32, "sIWFSSignallingModify"),
    _op(33, "processAccessSignalling"),
    _op(34, "forwardAccessSignalling"),
    _op(35, "noteInternalHandover"),
    _op(36, "cancelVcsgLocation", arg=[((S, 0x04), "imsi")]),
    _op(37, "reset", "resetContext", 2, ("ResetArg", None), [((S, 0x04), "hlr")]),
    _op(38, "forwardCheckSS"),
    _op(39, "prepareGroupCall"),
    _op(40, "sendGroupCallEndSignal"),
    _op(41, "processGroupCallSignalling"),
    _op(42, "forwardGroupCallSignalling"),
    _op(43, "checkIMEI", "equipmentMngtContext", 3, ("CheckIMEI-Arg", "CheckIMEI-Res")),
    _op(44, "mt-forwardSM", "shortMsgMT-RelayContext", 3,
        ("MT-ForwardSM-Arg", "MT-ForwardSM-Res"), _SM_RP),
    _op(45, "sendRoutingInfoForSM", "shortMsgGatewayContext", 3,
        ("RoutingInfoForSM-Arg", "RoutingInfoForSM-Res"),
        [((S, 0x80), "msisdn"), ((S, 0x82), "smsc")],
        [((S, 0x04), "imsi"), ((S, 0xA0, 0x81), "msc")]),
    _op(46, "mo-forwardSM", "shortMsgMO-RelayContext", 3,
        ("MO-ForwardSM-Arg", "MO-ForwardSM-Res"), _SM_RP),
    _op(47, "reportSM-DeliveryStatus", "shortMsgGatewayContext", 3,
        ("ReportSM-DeliveryStatusArg", "ReportSM-DeliveryStatusRes"),
        [((S, 0x04), "msisdn"), ((S, (0x04, 1)), "smsc")], [((S, 0x04), "msisdn")]),
    _op(48, "noteSubscriberPresent", arg=[((0x04,), "imsi")]),
    _op(49, "alertServiceCentreWithoutResult",
        arg=[((S, 0x04), "msisdn"), ((S, (0x04, 1)), "smsc")]),
    _op(50, "activateTraceMode", arg=_IMSI_0),
    _op(51, "deactivateTraceMode", arg=_IMSI_0),
    _op(52, "traceSubscriberActivity"),
    _op(53, "updateVcsgLocation", arg=[((S, 0x04), "imsi")]),
    _op(54, "beginSubscriberActivity", arg=[((S, 0x04), "imsi")]),
    # v3 result: [3] SEQUENCE
    _op(55, "sendIdentification", "interVlrInfoRetrievalContext", 3,
        ("SendIdentificationArg", "SendIdentificationRes"),
        res=[((S, 0x04), "imsi"), ((0xA3, 0x04), "imsi")]),
    _op(56, "sendAuthenticationInfo", "infoRetrievalContext", 3,
        ("SendAuthenticationInfoArg", "SendAuthenticationInfoRes"),
        [((S, 0x80), "imsi"), ((0x04,), "imsi")]),
    _op(57, "restoreData", arg=[((S, 0x04), "imsi")], res=[((S, 0x04), "hlr")]),
    _op(58, "sendIMSI", "imsiRetrievalContext", 2, ("ISDN-AddressString", "IMSI"),
        [((0x04,), "msisdn")], [((0x04,), "imsi")]),
    _op(59, "processUnstructuredSS-Request", "networkUnstructuredSsContext", 2,
        _USSD_TYPES, _USSD),
    _op(60, "unstructuredSS-Request", "networkUnstructuredSsContext", 2, _USSD_TYPES, _USSD),
    _op(61, "unstructuredSS-Notify", arg=_USSD),
    _op(62, "anyTimeSubscriptionInterrogation", arg=_SUBSCRIBER_IDENTITY),
    _op(63, "informServiceCentre", "shortMsgGatewayContext", 3,
        ("InformServiceCentreArg", None), [((S, 0x04), "msisdn")]),
    _op(64, "alertServiceCentre", "shortMsgAlertContext", 2, ("AlertServiceCentreArg", None),
        [((S, 0x04), "msisdn"), ((S, (0x04, 1)), "smsc")]),
    _op(65, "anyTimeModification", "anyTimeInfoHandlingContext", 3,
        ("AnyTimeModificationArg", "AnyTimeModificationRes"), _SUBSCRIBER_IDENTITY),
    _op(66, "readyForSM", "mwdMngtContext", 3, ("ReadyForSM-Arg", "ReadyForSM-Res"), _IMSI_0),
    _op(67, "purgeMS", "msPurgingContext", 3, ("PurgeMS-Arg", "PurgeMS-Res"),
        [((0xA3, 0x04), "imsi"), ((0xA3, 0x80), "vlr"), ((0xA3, 0x81), "sgsn"),
         ((S, 0x04), "imsi"), ((S, (0x04, 1)), "vlr")]),
    _op(68, "prepareHandover"),
    _op(69, "prepareSubsequentHandover"),
    _op(70, "provideSubscriberInfo", "subscriberInfoEnquiryContext", 3,
        ("ProvideSubscriberInfoArg", "ProvideSubscriberInfoRes"), _IMSI_0, _LOCATION_INFO),
    _op(71, "anyTimeInterrogation", "anyTimeInfoEnquiryContext", 3,
        ("AnyTimeInterrogationArg", "AnyTimeInterrogationRes"),
        _SUBSCRIBER_IDENTITY, _LOCATION_INFO),
    _op(72, "ss-InvocationNotification"),
    _op(73, "setReportingState", arg=_IMSI_0),
    _op(74, "statusReport", arg=_IMSI_0),
    _op(75, "remoteUserFree", arg=_IMSI_0),
    _op(76, "registerCC-Entry"),
    _op(77, "eraseCC-Entry"),
    _op(78, "secureTransportClass1"),
    _op(79, "secureTransportClass2"),
    _op(80, "secureTransportClass3"),
    _op(81, "secureTransportClass4"),
    _op(83, "provideSubscriberLocation", arg=[((S, 0x82), "imsi"), ((S, 0x83), "msisdn")]),
    _op(84, "sendGroupCallInfo"),
    _op(85, "sendRoutingInfoForLCS",
        arg=[((S, 0xA1, 0x80), "imsi"), ((S, 0xA1, 0x81), "msisdn")],
        res=[((S, 0xA0, 0x80), "imsi"), ((S, 0xA0, 0x81), "msisdn")]),
    _op(86, "subscriberLocationReport", arg=[((S, 0x82), "msisdn"), ((S, 0x83), "imsi")]),
    _op(87, "ist-Alert", arg=_IMSI_0),
    _op(88, "ist-Command", arg=_IMSI_0),
    _op(89, "noteMM-Event", arg=[((S, 0x81), "imsi"), ((S, 0x82), "msisdn")]),
    _op(109, "lcs-PeriodicLocationCancellation"),
    _op(110, "lcs-LocationUpdate"),
    _op(111, "lcs-PeriodicLocationRequest"),
    _op(112, "lcs-AreaEventCancellation"),
    _op(113, "lcs-AreaEventReport"),
    _op(114, "lcs-AreaEventRequest"),
    _op(115, "lcs-MOLR"),
    _op(116, "lcs-LocationNotification"),
    _op(117, "callDeflection"),
    _op(118, "userUserService"),
    _op(119, "accessRegisterCCEntry"),
    _op(120, "forwardCUG-Info"),
    _op(121, "splitMPTY"),
    _op(122, "retrieveMPTY"),
    _op(123, "holdMPTY"),
    _op(124, "buildMPTY"),
    _op(125, "forwardChargeAdvice"),
    _op(126, "explicitCT"),
)
MAP_BY_CODE = {op.code: op for op in MAP_OPERATIONS}
MAP_BY_NAME = {op.name: op for op in MAP_OPERATIONS}

#: GSMA FS.11 screening category -> the operations in it (see the module's
#: documentation).  Category 1: sent inside one network only (routing
#: interrogations, CAMEL/LCS interrogations and changes, IMSI and identity
#: retrieval); category 2: the HLR's (GMLC's) requests to a serving
#: VLR/SGSN; category 3: the serving VLR's/SGSN's requests to the HLR
#: (registration, authentication, supplementary services, USSD).
FS11_CATEGORIES = {
    1: ("sendParameters", "noteSubscriberDataModified", "sendRoutingInfo",
        "sendRoutingInfoForGprs", "sendIdentification", "sendIMSI",
        "anyTimeSubscriptionInterrogation", "anyTimeModification", "anyTimeInterrogation",
        "sendRoutingInfoForLCS"),
    2: ("cancelLocation", "provideRoamingNumber", "insertSubscriberData",
        "deleteSubscriberData", "reset", "activateTraceMode", "deactivateTraceMode",
        "unstructuredSS-Request", "unstructuredSS-Notify", "provideSubscriberInfo",
        "setReportingState", "remoteUserFree", "provideSubscriberLocation", "ist-Command"),
    3: ("updateLocation", "registerSS", "eraseSS", "activateSS", "deactivateSS",
        "interrogateSS", "registerPassword", "authenticationFailureReport",
        "updateGprsLocation", "beginSubscriberActivity", "sendAuthenticationInfo",
        "restoreData", "processUnstructuredSS-Request", "readyForSM", "purgeMS",
        "statusReport", "ist-Alert"),
}
for _category, _names in FS11_CATEGORIES.items():
    for _name in _names:
        if MAP_BY_NAME[_name].fs11 is not None:
            raise ValueError("FS11_CATEGORIES: %s is listed twice" % _name)
        MAP_BY_NAME[_name].fs11 = _category
del _category, _names, _name
#: local code -> name, the decoder's lookup
MAP_OPERATION_NAMES = {op.code: op.name for op in MAP_OPERATIONS}

#: CAMEL (TS 29.078) operation codes, used when the dialogue is CAP.
CAP_OPERATION_NAMES = {
    0: "initialDP", 16: "assistRequestInstructions",
    17: "establishTemporaryConnection", 18: "disconnectForwardConnection",
    19: "connectToResource", 20: "connect", 22: "releaseCall",
    23: "requestReportBCSMEvent", 24: "eventReportBCSM", 31: "continue",
    32: "initiateCallAttempt", 33: "resetTimer", 34: "furnishChargingInformation",
    35: "applyCharging", 36: "applyChargingReport", 41: "callGap",
    44: "callInformationReport", 45: "callInformationRequest",
    46: "sendChargingInformation", 47: "playAnnouncement",
    48: "promptAndCollectUserInformation", 49: "specializedResourceReport",
    53: "cancel", 55: "activityTest", 56: "continueWithArgument",
    60: "initialDPSMS", 61: "furnishChargingInformationSMS", 62: "connectSMS",
    63: "requestReportSMSEvent", 64: "eventReportSMS", 65: "continueSMS",
    66: "releaseSMS", 67: "resetTimerSMS", 70: "activityTestGPRS",
    71: "applyChargingGPRS", 72: "applyChargingReportGPRS", 73: "cancelGPRS",
    74: "connectGPRS", 75: "continueGPRS", 76: "entityReleasedGPRS",
    77: "furnishChargingInformationGPRS", 78: "initialDPGPRS", 79: "releaseGPRS",
    80: "eventReportGPRS", 81: "requestReportGPRSEvent", 82: "resetTimerGPRS",
    83: "sendChargingInformationGPRS", 86: "dFCWithArgument",
    88: "disconnectLeg", 90: "moveLeg", 93: "splitLeg", 96: "playTone",
}

#: MAP error codes (TS 29.002 17.6) that ss7tools sends, by name.
ERRORS = {"unknownSubscriber": 1, "unidentifiedSubscriber": 5,
          "absentSubscriberSM": 6, "roamingNotAllowed": 8,
          "illegalSubscriber": 9, "teleserviceNotProvisioned": 11,
          "callBarred": 13, "facilityNotSupported": 21,
          "absentSubscriber": 27, "systemFailure": 34, "dataMissing": 35,
          "unexpectedDataValue": 36, "ati-NotAllowed": 49,
          "unauthorizedRequestingNetwork": 52}
