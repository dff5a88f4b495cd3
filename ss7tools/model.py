"""The decoded SS7 message: what ``parse`` writes as rows, and what rules
and live replay read.

An :class:`Ss7Message` is one M3UA/M2PA message of a capture: where it was
captured (frame, SCTP association and stream), its :class:`RoutingLabel`,
its :class:`SccpHeader` with both :class:`~ss7tools.sccp_address.SccpAddress`
parties, its TCAP :class:`Transaction` and the transaction's
:class:`Component` list.  A part the message does not have (an M3UA
management message has no SCCP, a UDTS may carry no TCAP) is None; faults
are text in ``error`` (the layers below the components) and in each
component's ``error`` (its MAP parameter), with what decoded before the
fault kept.

The objects are slotted and built positionally, once per message by the
decoder (:mod:`ss7tools.decoder`); routing labels, SCCP headers and
addresses are shared between the messages that carry the same values, so
treat them all as read-only.  The CSV/msgpack row is one projection of a
message (:func:`ss7tools.rows.messages_rows`).
"""

from .map_catalogue import IDENTITY_FIELDS

NO_IDENTITIES = (None,) * len(IDENTITY_FIELDS)
NO_SHORT_MESSAGE = (None, None)


def _repr(obj):
    return "%s(%s)" % (type(obj).__name__, ", ".join(
        "%s=%r" % (name, getattr(obj, name, None)) for name in type(obj).__slots__))


class RoutingLabel:
    """The M3UA message class and type (RFC 4666 abbreviations; None over
    M2PA) and, for user data, the MTP3 routing label (OPC, DPC, SLS), the
    service information octet (SI, NI) and M3UA's network appearance and
    routing context (None where absent)."""

    __slots__ = ("m3ua_class", "m3ua_type", "opc", "dpc", "si", "ni", "sls",
                 "network_appearance", "routing_context")

    __repr__ = _repr

    def __init__(self, m3ua_class, m3ua_type, opc, dpc, si, ni, sls, network_appearance,
                 routing_context):
        self.m3ua_class, self.m3ua_type = m3ua_class, m3ua_type
        self.opc, self.dpc, self.si, self.ni, self.sls = opc, dpc, si, ni, sls
        self.network_appearance, self.routing_context = network_appearance, routing_context


class SccpHeader:
    """An SCCP connectionless message without its user data: the type name
    (``UDT``, ``XUDTS`` ...), the called and calling party addresses (None
    for a type the decoder does not open), the protocol class (UDT, XUDT,
    LUDT) or return cause (UDTS, XUDTS, LUDTS), the hop counter (XUDT and
    LUDT forms) and the segmentation ``(first, in_sequence, remaining,
    local_reference)`` and importance optional parameters."""

    __slots__ = ("type_name", "called", "calling", "protocol_class", "return_cause",
                 "hop_counter", "segmentation", "importance")

    __repr__ = _repr

    def __init__(self, type_name, called=None, calling=None, protocol_class=None,
                 return_cause=None, hop_counter=None, segmentation=None, importance=None):
        self.type_name, self.called, self.calling = type_name, called, calling
        self.protocol_class, self.return_cause = protocol_class, return_cause
        self.hop_counter, self.segmentation, self.importance = hop_counter, segmentation, importance


class Transaction:
    """A TCAP message: its type (begin / continue / end / abort /
    unidirectional), the transaction ids as lowercase hex, the dialogue PDU
    (``AARQ``, ``AARE``, ``ABRT``) and application context (the dotted OID;
    ``context_name`` is its MAP name such as ``networkLocUpContext-v3``, None
    when it has none), a P-abort cause, its components and the fault that
    ended the decoding (None)."""

    __slots__ = ("type_name", "otid", "dtid", "dialogue_pdu", "app_context", "abort_cause",
                 "components", "error", "context_name")

    __repr__ = _repr

    def __init__(self, type_name, otid, dtid, dialogue_pdu, app_context, abort_cause,
                 components, error, context_name=None):
        self.type_name, self.otid, self.dtid = type_name, otid, dtid
        self.dialogue_pdu, self.app_context, self.abort_cause = dialogue_pdu, app_context, abort_cause
        self.components, self.error, self.context_name = components, error, context_name


class Component:
    """One TCAP component: its type (invoke / returnResultLast /
    returnResultNotLast / returnError / reject), invoke and linked ids, the
    operation code (int for a local code, dotted OID for a global one) and
    its TS 29.002 / TS 29.078 name, the error code, a reject's ``(problem
    type, code)``, ``parameter`` the ``(start, end)`` of the parameter in the
    TCAP message's octets, the identities the MAP decoder found in it
    (``identities``, in :data:`~ss7tools.map_catalogue.IDENTITY_FIELDS`
    order; also as ``imsi``, ``msisdn`` ... properties), the parameter's
    decoding fault (None), and ``short_message`` the ``(TP-PID, TP-DCS)``
    of the short message a forwardSM argument carries (TS 23.040; None
    each where absent)."""

    __slots__ = ("type_name", "invoke_id", "linked_id", "op_code", "error_code", "problem",
                 "parameter", "op_name", "identities", "error", "short_message")

    __repr__ = _repr

    def __init__(self, type_name, invoke_id, linked_id, op_code, error_code, problem,
                 parameter, op_name=None, identities=NO_IDENTITIES, error=None,
                 short_message=NO_SHORT_MESSAGE):
        self.type_name, self.invoke_id, self.linked_id = type_name, invoke_id, linked_id
        self.op_code, self.error_code, self.problem = op_code, error_code, problem
        self.parameter, self.op_name = parameter, op_name
        self.identities, self.error = identities, error
        self.short_message = short_message


def _identity(index):
    return property(lambda component: component.identities[index],
                    doc="the %s digits the parameter carries, or None" % IDENTITY_FIELDS[index])


for _index, _field in enumerate(IDENTITY_FIELDS):
    setattr(Component, _field, _identity(_index))
del _index, _field


class Ss7Message:
    """One SS7 message as decoded: capture position (``frame`` from 1,
    ``chunk`` its index within the frame from 0, ``time_stamp`` epoch
    seconds), SCTP link (addresses, ports, stream, PPID) and the parts
    described in the module's documentation."""

    __slots__ = ("frame", "chunk", "time_stamp", "src_ip", "dst_ip", "src_port", "dst_port",
                 "stream", "ppid", "label", "sccp", "tcap", "components", "error")

    __repr__ = _repr

    def __init__(self, frame, chunk, time_stamp, src_ip, dst_ip, src_port, dst_port, stream,
                 ppid, label=None, sccp=None, tcap=None, components=(), error=None):
        self.frame, self.chunk, self.time_stamp = frame, chunk, time_stamp
        self.src_ip, self.dst_ip, self.src_port, self.dst_port = src_ip, dst_ip, src_port, dst_port
        self.stream, self.ppid = stream, ppid
        self.label, self.sccp, self.tcap = label, sccp, tcap
        self.components, self.error = components, error
