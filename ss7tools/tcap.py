"""TCAP (ITU Q.773) transaction, dialogue and component decoding."""

from .ber import BerError, decode_integer, decode_oid, read_tlv
from .errors import TcapError
from .model import NO_IDENTITIES, NO_SHORT_MESSAGE, Component, Transaction

new_object = object.__new__

MESSAGE_TYPES = {
    0x61: "unidirectional",
    0x62: "begin",
    0x64: "end",
    0x65: "continue",
    0x67: "abort",
}

TAG_OTID = 0x48
TAG_DTID = 0x49
TAG_P_ABORT = 0x4A
TAG_DIALOGUE = 0x6B
TAG_COMPONENTS = 0x6C

COMPONENT_TYPES = {
    0xA1: "invoke",
    0xA2: "returnResultLast",
    0xA3: "returnError",
    0xA4: "reject",
    0xA7: "returnResultNotLast",
}

#: Q.773 dialogue PDUs inside the dialogue portion's single-ASN1-type
DIALOGUE_PDUS = {0x60: "AARQ", 0x61: "AARE", 0x64: "ABRT"}

P_ABORT_CAUSES = {
    0: "unrecognizedMessageType", 1: "unrecognizedTransactionID",
    2: "badlyFormattedTransactionPortion", 3: "incorrectTransactionPortion",
    4: "resourceLimitation",
}


def _small_integer(buf, vstart, vend):
    """An invoke id or a local code: an INTEGER of at most 8 octets (the
    rows' msgpack form holds 64 bits; Q.773's are far smaller)."""
    if vend - vstart > 8:
        raise TcapError("tcap: INTEGER of %d octets" % (vend - vstart,))
    return decode_integer(buf, vstart, vend)


def _code(buf, tag, vstart, vend):
    if tag == 0x02:
        return _small_integer(buf, vstart, vend)
    if tag == 0x06:
        return decode_oid(buf, vstart, vend)
    raise TcapError("tcap: operation/error code tag 0x%02x" % tag)


def decode(data):
    """Decode a TCAP message into a :class:`~ss7tools.model.Transaction`.

    The transaction portion must parse or :class:`TcapError` is raised.  A
    fault later (dialogue, a component) keeps what was decoded before it and
    sets ``error``.
    """
    overrun = None
    try:
        tag, pos, end, _next = read_tlv(data, 0, len(data))
    except BerError as exc:
        # an outer length past the end: decode what is there (as Wireshark
        # does) and say so in ``error``
        header = _outer_header(data)
        if header is None:
            raise TcapError("tcap: %s" % exc)
        tag, pos = header
        end = len(data)
        overrun = "tcap: %s" % exc
    name = MESSAGE_TYPES.get(tag)
    if name is None:
        raise TcapError("tcap: unknown message type tag 0x%02x" % tag)
    # filled in as decoded, so that a fault keeps what came before it;
    # object.__new__ and stores: cheaper than Transaction's __init__ call
    transaction = new_object(Transaction)
    transaction.type_name = name
    transaction.otid = transaction.dtid = transaction.dialogue_pdu = None
    transaction.app_context = transaction.abort_cause = transaction.context_name = None
    transaction.components = components = []
    error = None
    try:
        while pos < end:
            tag, vstart, vend, pos = read_tlv(data, pos, end)
            if tag == TAG_COMPONENTS:
                _components(data, vstart, vend, components)
            elif tag == TAG_OTID:
                transaction.otid = data[vstart:vend].hex()
            elif tag == TAG_DTID:
                transaction.dtid = data[vstart:vend].hex()
            elif tag == TAG_DIALOGUE:
                _dialogue(data, vstart, vend, transaction)
            elif tag == TAG_P_ABORT:
                if vend > vstart:
                    transaction.abort_cause = data[vstart]
            # else an unknown transaction-portion element: skipped, as Q.773
            # extensibility allows
    except (BerError, TcapError) as exc:
        text = str(exc)
        error = text if text.startswith("tcap") else "tcap: %s" % text
    transaction.error = overrun if error is None else error
    return transaction


def _outer_header(data):
    """(tag, value start) of the message TLV when only its length is bad."""
    if len(data) < 2:
        return None
    length = data[1]
    if length < 0x80:
        return data[0], 2
    count = length & 0x7F
    if length == 0x80 or count > 4 or 2 + count > len(data):
        return None
    return data[0], 2 + count


_DIALOGUE_CACHE = {}
_DIALOGUE_CACHE_MAX = 16384


def _dialogue(data, pos, end, transaction):
    """Set the transaction's ``dialogue_pdu`` and ``app_context``; dialogue
    portions repeat (same PDU, same context): memoised on their octets."""
    raw = data[pos:end]
    hit = _DIALOGUE_CACHE.get(raw)
    if hit is None:
        _dialogue_decode(raw, 0, len(raw), transaction)
        if len(_DIALOGUE_CACHE) >= _DIALOGUE_CACHE_MAX:
            _DIALOGUE_CACHE.clear()
        _DIALOGUE_CACHE[raw] = (transaction.dialogue_pdu, transaction.app_context)
    else:
        transaction.dialogue_pdu, transaction.app_context = hit


def _dialogue_decode(data, pos, end, transaction):
    # EXTERNAL { direct-reference OID, single-ASN1-type [0] { AARQ/AARE/ABRT/AUDT } };
    # what is found before a fault stays set
    tag, pos, end, _n = read_tlv(data, pos, end)
    if tag != 0x28:
        raise TcapError("tcap: dialogue portion without EXTERNAL")
    while pos < end:
        tag, vstart, vend, pos = read_tlv(data, pos, end)
        if tag != 0xA0:
            continue
        ptag, ppos, pend, _n = read_tlv(data, vstart, vend)
        transaction.dialogue_pdu = DIALOGUE_PDUS.get(ptag, "0x%02x" % ptag)
        while ppos < pend:
            tag, s, e, ppos = read_tlv(data, ppos, pend)
            if tag == 0xA1:
                otag, os_, oe, _n = read_tlv(data, s, e)
                if otag == 0x06:
                    transaction.app_context = decode_oid(data, os_, oe)
                break
        break


def _code_at(data, pos, end):
    """``(code, next)`` of the operation or error code TLV at ``pos``: a short
    INTEGER (the usual local code) read directly, the rest through read_tlv."""
    if pos + 2 < end and data[pos] == 0x02:
        length = data[pos + 1]
        if 0 < length < 5:
            nxt = pos + 2 + length
            if nxt <= end:
                return int.from_bytes(data[pos + 2:nxt], "big", signed=True), nxt
    tag, vstart, vend, nxt = read_tlv(data, pos, end)
    return _code(data, tag, vstart, vend), nxt


def _components(data, pos, end, comps):
    """Components; a parameter is ``(start, end)`` up to the end of its component
    (it is the component's last element; the MAP walk checks its encoding).
    A component that fails half-way is kept with what was decoded of it."""
    while pos < end:
        ctag, cpos, cend, pos = read_tlv(data, pos, end)
        name = COMPONENT_TYPES.get(ctag)
        if name is None:
            comps.append(Component("component_0x%02x" % ctag, None, None, None, None, None, None))
            continue
        invoke_id = linked_id = op_code = error_code = problem = parameter = None
        try:
            # invoke id (INTEGER) or, in a reject, possibly NULL; a one-octet
            # INTEGER inline, the rest through read_tlv
            if cpos + 3 <= cend and data[cpos] == 0x02 and data[cpos + 1] == 1:
                invoke_id = data[cpos + 2]
                if invoke_id > 127:
                    invoke_id -= 256
                cpos += 3
            else:
                tag, s, e, cpos = read_tlv(data, cpos, cend)
                if tag == 0x02:
                    invoke_id = _small_integer(data, s, e)
                elif tag != 0x05:
                    raise TcapError("tcap: component without invoke id")
            if ctag == 0xA1:
                if cpos < cend:
                    if data[cpos] == 0x80:
                        tag, s, e, cpos = read_tlv(data, cpos, cend)
                        linked_id = _small_integer(data, s, e)
                    op_code, cpos = _code_at(data, cpos, cend)
                    if cpos < cend:
                        parameter = (cpos, cend)
            elif ctag == 0xA2 or ctag == 0xA7:
                if cpos < cend:
                    tag, s, e, cpos = read_tlv(data, cpos, cend)
                    if tag == 0x30 and s < e:
                        op_code, npos = _code_at(data, s, e)
                        if npos < e:
                            parameter = (npos, e)
            elif ctag == 0xA3:
                error_code, cpos = _code_at(data, cpos, cend)
                if cpos < cend:
                    parameter = (cpos, cend)
            elif ctag == 0xA4:
                if cpos < cend:
                    tag, s, e, cpos = read_tlv(data, cpos, cend)
                    problem = ((tag & 0x1F), decode_integer(data, s, e) if e > s else None)
        finally:
            # object.__new__ and stores: cheaper than Component's __init__ call
            comp = new_object(Component)
            comp.type_name, comp.invoke_id, comp.linked_id = name, invoke_id, linked_id
            comp.op_code, comp.error_code, comp.problem = op_code, error_code, problem
            comp.parameter, comp.op_name, comp.identities = parameter, None, NO_IDENTITIES
            comp.error = None
            comp.short_message = NO_SHORT_MESSAGE
            comps.append(comp)
