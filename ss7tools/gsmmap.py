"""GSM MAP (3GPP TS 29.002) decoding: operation and application-context
names, and the subscriber / node identities carried by each operation.

The vocabulary (codes, names, contexts, identity paths) is
:mod:`ss7tools.map_catalogue`'s.  Identities are found by walking the BER of
the operation's argument or result along the catalogue's tag paths, compiled
here into one tree per operation and direction.
"""

from .ber import find_path, read_tlv
from .sms_tpdu import pid_dcs
from .map_catalogue import (APPLICATION_CONTEXTS, APPLICATION_CONTEXTS_V1V2,
                            CAP_AC_PREFIXES, CAP_OPERATION_NAMES, IDENTITY_FIELDS,
                            MAP_AC_PREFIX, MAP_BY_CODE, MAP_OPERATION_NAMES)

#: the operations whose argument carries a short message TPDU (SM-RP-UI):
#: mt-forwardSM, and mo-forwardSM (forwardSM of MAP v1/v2, both ways)
SHORT_MESSAGE_OPERATIONS = frozenset((44, 46))
MT_FORWARD_SM = 44
#: the sm-RP-DA choice that addresses the SMSC: the TPDU comes from the phone
_SERVICE_CENTRE_DA = 0x84
_SIGNAL_INFO = 0x04
NO_SHORT_MESSAGE = (None, None)

#: local code -> name (MAP; CAP when the dialogue is CAMEL)
OPERATIONS = MAP_OPERATION_NAMES
CAP_OPERATIONS = CAP_OPERATION_NAMES
SSN_CAP = 146

#: op code -> (argument paths, result paths), from the catalogue
IDENTITY_PATHS = {op.code: (op.argument_identities, op.result_identities)
                  for op in MAP_BY_CODE.values()
                  if op.argument_identities or op.result_identities}

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
        name = APPLICATION_CONTEXTS_V1V2.get(ac, name)
    return "%s-v%d" % (name, version)


_AC_INFO = {}


def application_context_info(oid):
    """``(name, is_cap)`` for an AC OID: its MAP name or None, and whether it
    is a CAMEL context; memoised (a capture has few)."""
    hit = _AC_INFO.get(oid)
    if hit is None:
        hit = (application_context_name(oid), is_cap_context(oid))
        if len(_AC_INFO) < 4096:
            _AC_INFO[oid] = hit
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


def short_message(op_code, buf, start, end):
    """``(tp_pid, tp_dcs)`` of the TPDU in a forwardSM argument's SM-RP-UI
    (the parameter TLV ``buf[start:end]``: sm-RP-DA, sm-RP-OA, sm-RP-UI,
    ...); ``(None, None)`` when it has none.  The direction comes from the
    operation (mt-forwardSM: to the phone) or, for forwardSM of MAP v1/v2
    and mo-forwardSM, from sm-RP-DA (the SMSC's address: from the phone).

    Raises :class:`BerError` for malformed BER and
    :class:`~ss7tools.errors.TpduError` for a malformed TPDU."""
    tag, pos, vend, _ = read_tlv(buf, start, end)
    if tag != 0x30:
        return NO_SHORT_MESSAGE
    first = None
    while pos < vend:
        tag, vstart, value_end, pos = read_tlv(buf, pos, vend)
        if first is None:
            first = tag
        elif tag == _SIGNAL_INFO:
            from_mobile = op_code != MT_FORWARD_SM and first == _SERVICE_CENTRE_DA
            return pid_dcs(bytes(buf[vstart:value_end]), from_mobile)
    return NO_SHORT_MESSAGE
