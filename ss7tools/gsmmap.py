"""GSM MAP (3GPP TS 29.002) operation and application-context names, and the
subscriber / node identities carried by each operation.

Identities are found by walking the BER of the operation's argument or result
along tag paths declared once in :data:`IDENTITY_PATHS`; a step is a tag (its
first occurrence among siblings) or ``(tag, n)`` for the n-th occurrence.
The first step matches the parameter's own tag, so the different encodings
of MAP v1/v2 and v3 are simply listed side by side.
"""

from .ber import BerError, find_path, read_tlv

#: Local operation codes, named as in TS 29.002 (and as Wireshark shows them).
OPERATIONS = {
    2: "updateLocation", 3: "cancelLocation", 4: "provideRoamingNumber",
    5: "noteSubscriberDataModified", 6: "resumeCallHandling",
    7: "insertSubscriberData", 8: "deleteSubscriberData", 9: "sendParameters",
    10: "registerSS", 11: "eraseSS", 12: "activateSS", 13: "deactivateSS",
    14: "interrogateSS", 15: "authenticationFailureReport", 16: "notifySS",
    17: "registerPassword", 18: "getPassword", 19: "processUnstructuredSS-Data",
    20: "releaseResources", 21: "mt-ForwardSM-VGCS", 22: "sendRoutingInfo",
    23: "updateGprsLocation", 24: "sendRoutingInfoForGprs", 25: "failureReport",
    26: "noteMsPresentForGprs", 28: "performHandover", 29: "sendEndSignal",
    30: "performSubsequentHandover", 31: "provideSIWFSNumber",
    32: "sIWFSSignallingModify", 33: "processAccessSignalling",
    34: "forwardAccessSignalling", 35: "noteInternalHandover",
    36: "cancelVcsgLocation", 37: "reset", 38: "forwardCheckSS",
    39: "prepareGroupCall", 40: "sendGroupCallEndSignal",
    41: "processGroupCallSignalling", 42: "forwardGroupCallSignalling",
    43: "checkIMEI", 44: "mt-forwardSM", 45: "sendRoutingInfoForSM",
    46: "mo-forwardSM", 47: "reportSM-DeliveryStatus", 48: "noteSubscriberPresent",
    49: "alertServiceCentreWithoutResult", 50: "activateTraceMode",
    51: "deactivateTraceMode", 52: "traceSubscriberActivity",
    53: "updateVcsgLocation", 54: "beginSubscriberActivity",
    55: "sendIdentification", 56: "sendAuthenticationInfo", 57: "restoreData",
    58: "sendIMSI", 59: "processUnstructuredSS-Request",
    60: "unstructuredSS-Request", 61: "unstructuredSS-Notify",
    62: "anyTimeSubscriptionInterrogation", 63: "informServiceCentre",
    64: "alertServiceCentre", 65: "anyTimeModification", 66: "readyForSM",
    67: "purgeMS", 68: "prepareHandover", 69: "prepareSubsequentHandover",
    70: "provideSubscriberInfo", 71: "anyTimeInterrogation",
    72: "ss-InvocationNotification", 73: "setReportingState", 74: "statusReport",
    75: "remoteUserFree", 76: "registerCC-Entry", 77: "eraseCC-Entry",
    78: "secureTransportClass1", 79: "secureTransportClass2",
    80: "secureTransportClass3", 81: "secureTransportClass4",
    83: "provideSubscriberLocation", 84: "sendGroupCallInfo",
    85: "sendRoutingInfoForLCS", 86: "subscriberLocationReport",
    87: "ist-Alert", 88: "ist-Command", 89: "noteMM-Event",
    109: "lcs-PeriodicLocationCancellation", 110: "lcs-LocationUpdate",
    111: "lcs-PeriodicLocationRequest", 112: "lcs-AreaEventCancellation",
    113: "lcs-AreaEventReport", 114: "lcs-AreaEventRequest", 115: "lcs-MOLR",
    116: "lcs-LocationNotification", 117: "callDeflection",
    118: "userUserService", 119: "accessRegisterCCEntry", 120: "forwardCUG-Info",
    121: "splitMPTY", 122: "retrieveMPTY", 123: "holdMPTY", 124: "buildMPTY",
    125: "forwardChargeAdvice", 126: "explicitCT",
}

#: CAMEL (TS 29.078) operation codes, used when the dialogue is CAP.
CAP_OPERATIONS = {
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
_AC_V1V2_NAMES = {21: "shortMsgRelayContext"}

MAP_AC_PREFIX = "0.4.0.0.1.0."
CAP_AC_PREFIXES = ("0.4.0.0.1.0.50.", "0.4.0.0.1.0.51.", "0.4.0.0.1.0.52.",
                   "0.4.0.0.1.21.3.", "0.4.0.0.1.22.3.", "0.4.0.0.1.23.3.")
SSN_CAP = 146

S = 0x30
IDENTITY_FIELDS = ("imsi", "msisdn", "msc", "vlr", "hlr", "sgsn", "smsc")
_SM_RP = [((S, 0x80), "imsi"), ((S, 0x84), "smsc"), ((S, 0x82), "msisdn"),
          ((S, (0x04, 1)), "imsi")]
_USSD = [((S, 0x80), "msisdn")]
_SUBSCRIBER_IDENTITY = [((S, 0xA0, 0x80), "imsi"), ((S, 0xA0, 0x81), "msisdn")]
_LOCATION_INFO = [((S, S, 0xA0, 0x81), "vlr"), ((S, S, 0xA0, 0x86), "msc")]
_IMSI_0 = [((S, 0x80), "imsi")]

#: op code -> (argument paths, result paths); each path -> identity field.
IDENTITY_PATHS = {
    2: ([((S, 0x04), "imsi"), ((S, 0x81), "msc"), ((S, (0x04, 1)), "vlr")],
        [((S, 0x04), "hlr")]),
    3: ([((0xA3, 0x04), "imsi"), ((0xA3, S, 0x04), "imsi"), ((0x04,), "imsi"),
         ((S, 0x04), "imsi")], []),
    4: ([((S, 0x80), "imsi"), ((S, 0x81), "msc"), ((S, 0x82), "msisdn")], []),
    5: ([((S, 0x04), "imsi"), ((S, (0x04, 1)), "msisdn")], []),
    6: ([((S, 0x83), "imsi")], []),
    7: ([((S, 0x80), "imsi"), ((S, 0x81), "msisdn")], []),
    8: (_IMSI_0, []),
    9: (_IMSI_0, []),
    15: ([((S, 0x04), "imsi")], []),
    22: ([((S, 0x80), "msisdn"), ((S, 0x86), "msc")],
         [((0xA3, 0x89), "imsi"), ((0xA3, 0x82), "msc"), ((S, 0x04), "imsi")]),
    23: ([((S, 0x04), "imsi"), ((S, (0x04, 1)), "sgsn")], [((S, 0x04), "hlr")]),
    24: (_IMSI_0, []),
    25: (_IMSI_0, []),
    26: (_IMSI_0, []),
    36: ([((S, 0x04), "imsi")], []),
    37: ([((S, 0x04), "hlr")], []),
    44: (_SM_RP, []),
    45: ([((S, 0x80), "msisdn"), ((S, 0x82), "smsc")],
         [((S, 0x04), "imsi"), ((S, 0xA0, 0x81), "msc")]),
    46: (_SM_RP, []),
    47: ([((S, 0x04), "msisdn"), ((S, (0x04, 1)), "smsc")], [((S, 0x04), "msisdn")]),
    48: ([((0x04,), "imsi")], []),
    49: ([((S, 0x04), "msisdn"), ((S, (0x04, 1)), "smsc")], []),
    50: (_IMSI_0, []),
    51: (_IMSI_0, []),
    53: ([((S, 0x04), "imsi")], []),
    54: ([((S, 0x04), "imsi")], []),
    55: ([], [((S, 0x04), "imsi"), ((0xA3, 0x04), "imsi")]),  # v3 Res is [3] SEQUENCE
    56: ([((S, 0x80), "imsi"), ((0x04,), "imsi")], []),
    57: ([((S, 0x04), "imsi")], [((S, 0x04), "hlr")]),
    58: ([((0x04,), "msisdn")], [((0x04,), "imsi")]),
    59: (_USSD, []),
    60: (_USSD, []),
    61: (_USSD, []),
    62: (_SUBSCRIBER_IDENTITY, []),
    63: ([((S, 0x04), "msisdn")], []),
    64: ([((S, 0x04), "msisdn"), ((S, (0x04, 1)), "smsc")], []),
    65: (_SUBSCRIBER_IDENTITY, []),
    66: (_IMSI_0, []),
    67: ([((0xA3, 0x04), "imsi"), ((0xA3, 0x80), "vlr"), ((0xA3, 0x81), "sgsn"),
          ((S, 0x04), "imsi"), ((S, (0x04, 1)), "vlr")], []),
    70: (_IMSI_0, _LOCATION_INFO),
    71: (_SUBSCRIBER_IDENTITY, _LOCATION_INFO),
    73: (_IMSI_0, []),
    74: (_IMSI_0, []),
    75: (_IMSI_0, []),
    83: ([((S, 0x82), "imsi"), ((S, 0x83), "msisdn")], []),
    85: ([((S, 0xA1, 0x80), "imsi"), ((S, 0xA1, 0x81), "msisdn")],
         [((S, 0xA0, 0x80), "imsi"), ((S, 0xA0, 0x81), "msisdn")]),
    86: ([((S, 0x82), "msisdn"), ((S, 0x83), "imsi")], []),
    87: (_IMSI_0, []),
    88: (_IMSI_0, []),
    89: ([((S, 0x81), "imsi"), ((S, 0x82), "msisdn")], []),
}

# TBCD is BCD with the low nibble first: swapping the nibbles makes it hex
# text, where a..e stand for * # a b c and f is the filler that ends it
_NIBBLE_SWAP = bytes(((b & 0x0F) << 4) | (b >> 4) for b in range(256))
_TBCD_LETTERS = str.maketrans("abcde", "*#abc")


def tbcd(raw):
    """TBCD digits (TS 29.002 TBCD-STRING), low nibble first; filler F ends."""
    text = bytes(raw).translate(_NIBBLE_SWAP).hex()
    cut = text.find("f")
    if cut >= 0:
        text = text[:cut]
    return text if text.isdigit() else text.translate(_TBCD_LETTERS)


def address_digits(raw):
    """Digits of an AddressString: skip the nature-of-address/plan octet."""
    return tbcd(raw[1:]) if raw else ""


def operation_name(op_code, cap=False):
    """Name of a local operation code (MAP unless ``cap``); None if unknown."""
    if cap:
        return CAP_OPERATIONS.get(op_code)
    return OPERATIONS.get(op_code)


def application_context_name(oid):
    """``networkLocUpContext-v3`` for a MAP AC OID; None when not a MAP context."""
    if oid is None or not oid.startswith(MAP_AC_PREFIX):
        return None
    parts = oid[len(MAP_AC_PREFIX):].split(".")
    if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    ac, version = int(parts[0]), int(parts[1])
    name = APPLICATION_CONTEXTS.get(ac)
    if name is None:
        return None
    if version < 3:
        name = _AC_V1V2_NAMES.get(ac, name)
    return "%s-v%d" % (name, version)


_AC_DISPLAY = {}


def application_context(oid):
    """``(display, is_cap)`` for an AC OID: the MAP name when known, else the OID."""
    hit = _AC_DISPLAY.get(oid)
    if hit is None:
        hit = (application_context_name(oid) or oid, is_cap_context(oid))
        if len(_AC_DISPLAY) < 4096:
            _AC_DISPLAY[oid] = hit
    return hit


def is_cap_context(oid):
    return oid is not None and oid.startswith(CAP_AC_PREFIXES)


def identities(op_code, is_result, buf, start, end):
    """Identities in the parameter TLV ``buf[start:end]``: dict field -> digits.

    Raises :class:`BerError` when the parameter's BER is malformed.
    """
    table = IDENTITY_PATHS.get(op_code)
    if table is None:
        return None
    found = None
    for path, field in table[1 if is_result else 0]:
        if found is not None and field in found:
            continue
        hit = find_path(buf, start, end, path)
        if hit is None:
            continue
        raw = buf[hit[0]:hit[1]]
        if not raw:
            continue
        if found is None:
            found = {}
        found[field] = tbcd(raw) if field == "imsi" else address_digits(raw)
    return found


def _compile(paths):
    """Turn a list of (path, field) into a tree walked in one pass: each node is
    ``(tags, {(tag, nth): child node or field index})``, ``tags`` the set of
    tags the node looks for."""
    tree = {}
    for path, field in paths:
        node = tree
        steps = [s if s.__class__ is tuple else (s, 0) for s in path]
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            if last:
                node.setdefault(step, IDENTITY_FIELDS.index(field))
            else:
                node = node.setdefault(step, {})
    return _freeze(tree) if tree else None


def _freeze(targets):
    return (frozenset(tag for tag, _nth in targets),
            {step: target if target.__class__ is int else _freeze(target)
             for step, target in targets.items()})


_COMPILED = {(op, is_result): _compile(paths[1 if is_result else 0])
             for op, paths in IDENTITY_PATHS.items() for is_result in (False, True)}
_NONE7 = (None,) * 7


def _walk(buf, pos, end, node, out):
    # every TLV of a walked level is read (a malformed one raises), even
    # once the wanted ones are found
    tags, targets = node
    counts = {}
    while pos < end:
        tag, vstart, vend, pos = read_tlv(buf, pos, end)
        if tag not in tags:
            continue
        nth = counts.get(tag, 0)
        counts[tag] = nth + 1
        target = targets.get((tag, nth))
        if target is None:
            continue
        if target.__class__ is int:
            if out[target] is None and vend > vstart:
                raw = buf[vstart:vend]
                out[target] = tbcd(raw) if target == 0 else tbcd(raw[1:])
        else:
            _walk(buf, vstart, vend, target, out)


def identity_row(op_code, is_result, buf, start, end):
    """Identities of a parameter TLV as a 7-tuple in :data:`IDENTITY_FIELDS` order.

    One pass over the BER along the operation's compiled paths; raises
    :class:`BerError` when the walked part is malformed.
    """
    tree = _COMPILED.get((op_code, is_result))
    if not tree:
        return _NONE7
    out = [None] * 7
    _walk(buf, start, end, tree, out)
    return tuple(out)


def walk_errors(op_code, is_result, buf, start, end):
    """Like :func:`identities` but returns ``(found, error_text)``."""
    try:
        return identities(op_code, is_result, buf, start, end), None
    except BerError as exc:
        return None, "gsm_map: %s" % exc
