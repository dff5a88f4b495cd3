"""TCAP (ITU-T Q.773) messages encoded with pycrate's TCAP-MAP ASN.1 module.

Components are built with ``invoke``, ``return_result_last``,
``return_result_not_last``, ``return_error`` and ``reject``; dialogue
portions with ``dialogue_request`` / ``dialogue_response`` /
``dialogue_abort``.  Arguments, results and error parameters are pycrate
values ``(type name, value)`` (see ``gsmmap``) or already encoded BER bytes.
"""

import struct

from pycrate_asn1dir import TCAP_MAPv2v3 as _asn

from ss7tools.errors import TcapEncodeError

DIALOGUE_AS_OID = (0, 0, 17, 773, 1, 1, 1)
_MESSAGE = _asn.TCAP_MAP_Messages.TCAP_MAP_Message


def transaction_id(value):
    """TIDs are 1-4 octets; an int becomes 4 octets big endian."""
    if isinstance(value, int):
        return struct.pack("!I", value & 0xFFFFFFFF)
    value = bytes(value)
    if not 1 <= len(value) <= 4:
        raise TcapEncodeError("transaction id must be 1-4 octets")
    return value


def _opcode(op):
    return ("global", op) if isinstance(op, tuple) else ("local", op)


def _open(value):
    """An open-type value: (type name, value) or raw BER (one full TLV)."""
    if not isinstance(value, (bytes, bytearray)):
        return value
    value = bytes(value)
    if len(value) < 2:
        raise TcapEncodeError("raw BER needs a tag and a length")
    cls, constructed, tag = value[0] >> 6, (value[0] >> 5) & 1, value[0] & 0x1F
    pos = 1
    if tag == 0x1F:
        tag = 0
        while True:
            tag = (tag << 7) | (value[pos] & 0x7F)
            pos += 1
            if not value[pos - 1] & 0x80:
                break
    length = value[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(value[pos:pos + count], "big")
        pos += count
    if pos + length != len(value):
        raise TcapEncodeError("raw BER is not exactly one TLV")
    return ("_unk_%d%d%d" % (cls, constructed, tag), value[pos:])


def invoke(invoke_id, opcode, argument=None, linked_id=None):
    value = {"invokeId": ("present", invoke_id), "opcode": _opcode(opcode)}
    if linked_id is not None:
        value["linkedId"] = ("present", linked_id)
    if argument is not None:
        value["argument"] = _open(argument)
    return ("basicROS", ("invoke", value))


def _result(invoke_id, opcode, result):
    value = {"invokeId": ("present", invoke_id)}
    if opcode is not None:
        value["result"] = {"opcode": _opcode(opcode), "result": _open(result)}
    return value


def return_result_last(invoke_id, opcode=None, result=None):
    return ("basicROS", ("returnResult", _result(invoke_id, opcode, result)))


def return_result_not_last(invoke_id, opcode, result):
    return ("returnResultNotLast", _result(invoke_id, opcode, result))


def return_error(invoke_id, error_code, parameter=None):
    value = {"invokeId": ("present", invoke_id),
             "errcode": _opcode(error_code)}
    if parameter is not None:
        value["parameter"] = _open(parameter)
    return ("basicROS", ("returnError", value))


REJECT_PROBLEMS = ("general", "invoke", "returnResult", "returnError")


def reject(invoke_id, problem_type="general", problem=0):
    """``invoke_id`` None gives the 'not derivable' form."""
    if problem_type not in REJECT_PROBLEMS:
        raise TcapEncodeError("unknown reject problem %r" % (problem_type,))
    ident = ("absent", 0) if invoke_id is None else ("present", invoke_id)
    return ("basicROS", ("reject", {"invokeId": ident,
                                    "problem": (problem_type, problem)}))


def _external(pdu):
    return {"direct-reference": DIALOGUE_AS_OID,
            "encoding": ("single-ASN1-type", ("DialoguePDU", pdu))}


def dialogue_request(app_context):
    return _external(("dialogueRequest", {
        "protocol-version": (1, 1), "application-context-name": app_context}))


def dialogue_response(app_context, result=0, diagnostic=("dialogue-service-user", 0)):
    """AARE; ``result`` 0 accepted, 1 reject-permanent."""
    return _external(("dialogueResponse", {
        "protocol-version": (1, 1), "application-context-name": app_context,
        "result": result, "result-source-diagnostic": diagnostic}))


def dialogue_abort(source=0):
    return _external(("dialogueAbort", {"abort-source": source}))


def encode(message):
    try:
        _MESSAGE.set_val(message)
        return _MESSAGE.to_ber()
    except Exception as exc:  # pycrate raises many types; keep one
        raise TcapEncodeError("cannot encode TCAP %s: %s"
                              % (message[0], exc)) from exc


def _body(components, dialogue):
    body = {}
    if dialogue is not None:
        body["dialoguePortion"] = dialogue
    if components:
        body["components"] = list(components)
    return body


def tcap_begin(otid, components=(), dialogue=None):
    body = _body(components, dialogue)
    body["otid"] = transaction_id(otid)
    return encode(("begin", body))


def tcap_continue(otid, dtid, components=(), dialogue=None):
    body = _body(components, dialogue)
    body["otid"] = transaction_id(otid)
    body["dtid"] = transaction_id(dtid)
    return encode(("continue", body))


def tcap_end(dtid, components=(), dialogue=None):
    body = _body(components, dialogue)
    body["dtid"] = transaction_id(dtid)
    return encode(("end", body))


def tcap_unidirectional(components, dialogue=None):
    return encode(("unidirectional", _body(components, dialogue)))


def tcap_abort(dtid, p_abort_cause=None, dialogue=None):
    """P-abort with a cause (Q.773 P-AbortCause), or U-abort carrying a
    dialogue portion (e.g. ``dialogue_abort()``)."""
    body = {"dtid": transaction_id(dtid)}
    if p_abort_cause is not None:
        body["reason"] = ("p-abortCause", p_abort_cause)
    elif dialogue is not None:
        body["reason"] = ("u-abortCause", dialogue)
    return encode(("abort", body))
