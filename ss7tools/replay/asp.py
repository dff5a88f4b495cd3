"""M3UA ASP management (RFC 4666 4.3), sans-IO: the signalling gateway
side's state machine for one association, and the messages the ASP side
sends and expects.

:class:`SgpMachine` takes each received message (decoded by
:func:`ss7tools.m3ua.decode`) and returns the replies, with the stream each
goes on; the table :data:`TRANSITIONS` says, per (ASP state, message
received), what to answer and which state follows.  The replay server
stands for one SGP whose every association is the one ASP of its own
Application Server, and accepts any routing context: a capture sink has
no routing keys configured.  So the AS goes AS-INACTIVE when its ASP comes
up, AS-ACTIVE when it is activated, and back to AS-INACTIVE when it is
deactivated (no other ASP could take over: no recovery timer T(r), no
AS-PENDING).
"""

import struct

from ss7tools import m3ua
from ss7tools.encode.sigtran import M3UA_TAGS, m3ua_message

DOWN = "ASP-DOWN"
INACTIVE = "ASP-INACTIVE"
ACTIVE = "ASP-ACTIVE"

#: RFC 4666 3.8.1 error codes, by name.
ERROR_CODES = {
    "invalid_version": 0x01,
    "unsupported_message_class": 0x03,
    "unsupported_message_type": 0x04,
    "unsupported_traffic_mode_type": 0x05,
    "unexpected_message": 0x06,
    "protocol_error": 0x07,
    "invalid_stream_identifier": 0x09,
    "refused_management_blocking": 0x0D,
    "asp_identifier_required": 0x0E,
    "invalid_asp_identifier": 0x0F,
    "invalid_parameter_value": 0x11,
    "parameter_field_error": 0x12,
    "unexpected_parameter": 0x13,
    "destination_status_unknown": 0x14,
    "invalid_network_appearance": 0x15,
    "missing_parameter": 0x16,
    "invalid_routing_context": 0x19,
    "no_configured_as_for_asp": 0x1A,
}
ERROR_NAMES = {code: name for name, code in ERROR_CODES.items()}

#: RFC 4666 3.8.2: Status Type 1 (AS-State_Change) and its information.
STATUS_AS_STATE_CHANGE = 1
AS_INACTIVE = 2
AS_ACTIVE = 3
#: RFC 4666 3.6.1 Traffic Mode Types.
TRAFFIC_MODES = {1: "override", 2: "loadshare", 3: "broadcast"}
TRAFFIC_MODE_LOADSHARE = 2

TAG_TRAFFIC_MODE = M3UA_TAGS["traffic_mode"]
TAG_ROUTING_CONTEXT = M3UA_TAGS["routing_context"]
TAG_HEARTBEAT_DATA = M3UA_TAGS["heartbeat_data"]
TAG_ASP_IDENTIFIER = M3UA_TAGS["asp_identifier"]
TAG_AFFECTED_POINT_CODE = M3UA_TAGS["affected_point_code"]
TAG_NETWORK_APPEARANCE = M3UA_TAGS["network_appearance"]
TAG_ERROR_CODE = M3UA_TAGS["error_code"]
TAG_DIAGNOSTIC = M3UA_TAGS["diagnostic_info"]
#: How much of an offending message an ERR carries as diagnostic information.
DIAGNOSTIC_OCTETS = 40

# What each (ASP state, message received) does: the replies, by name, then
# the next state.  Replies: "ack" (the message's own acknowledgement, with
# the parameters RFC 4666 has it echo), "ntfy_inactive" / "ntfy_active"
# (NTFY AS-State_Change after the ack, 4.3.4.5), "err:<name>".  DATA in a
# state other than ASP-ACTIVE is answered with Unexpected Message, and
# delivered all the same (the server records what arrives).
TRANSITIONS = {
    (DOWN, "ASPUP"): (("ack", "ntfy_inactive"), INACTIVE),
    (INACTIVE, "ASPUP"): (("ack",), INACTIVE),
    # 4.3.4.1: an ASP Up from an active ASP gets its ack and an error, and
    # the ASP is inactive again
    (ACTIVE, "ASPUP"): (("err:unexpected_message", "ack", "ntfy_inactive"), INACTIVE),
    # 4.3.4.2: ASP Down is acknowledged in every state
    (DOWN, "ASPDN"): (("ack",), DOWN),
    (INACTIVE, "ASPDN"): (("ack",), DOWN),
    (ACTIVE, "ASPDN"): (("ack",), DOWN),
    (DOWN, "ASPAC"): (("err:unexpected_message",), DOWN),
    (INACTIVE, "ASPAC"): (("ack", "ntfy_active"), ACTIVE),
    (ACTIVE, "ASPAC"): (("ack",), ACTIVE),
    (DOWN, "ASPIA"): (("err:unexpected_message",), DOWN),
    (INACTIVE, "ASPIA"): (("ack",), INACTIVE),
    (ACTIVE, "ASPIA"): (("ack", "ntfy_inactive"), INACTIVE),
    (DOWN, "DATA"): (("err:unexpected_message",), DOWN),
    (INACTIVE, "DATA"): (("err:unexpected_message",), INACTIVE),
    (ACTIVE, "DATA"): ((), ACTIVE),
}

_ACKS = {
    "ASPUP": ("ASPSM", "ASPUP_ACK"),
    "ASPDN": ("ASPSM", "ASPDN_ACK"),
    "BEAT": ("ASPSM", "BEAT_ACK"),
    "ASPAC": ("ASPTM", "ASPAC_ACK"),
    "ASPIA": ("ASPTM", "ASPIA_ACK"),
}
# the parameters an acknowledgement copies from the message it answers
_ECHOED = {
    "ASPUP": (),
    "ASPDN": (),
    "BEAT": (TAG_HEARTBEAT_DATA,),
    "ASPAC": (TAG_TRAFFIC_MODE, TAG_ROUTING_CONTEXT),
    "ASPIA": (TAG_ROUTING_CONTEXT,),
}
# messages an SGP only sends, or that an ASP has no business sending it
_UNEXPECTED_AT_SGP = frozenset((
    "ASPUP_ACK", "ASPDN_ACK", "ASPAC_ACK", "ASPIA_ACK", "DUNA", "DAVA", "SCON", "DUPU", "DRST"))
# messages received and noted without an answer
_NOTED = frozenset(("ERR", "NTFY", "BEAT_ACK"))
# RFC 4666 1.4.7 / 3.8.1: management (MGMT, ASPSM) goes on stream 0
_STREAM_ZERO_CLASSES = frozenset((m3ua.CLASS_MGMT, m3ua.CLASS_ASPSM))


def u32(value):
    return struct.pack("!I", value)


def err(code_name, offending=b""):
    """ERR with an RFC 4666 error code and, as diagnostic information, the
    start of the offending message."""
    params = [(TAG_ERROR_CODE, u32(ERROR_CODES[code_name]))]
    if offending:
        params.append((TAG_DIAGNOSTIC, bytes(offending[:DIAGNOSTIC_OCTETS])))
    return m3ua_message("MGMT", "ERR", params)


def ntfy(status_info, asp_identifier=None, routing_context=None):
    """NTFY AS-State_Change (RFC 4666 3.8.2): ``routing_context`` the raw
    value of a Routing Context parameter (n x 32 bits), or None."""
    params = [(M3UA_TAGS["status"], struct.pack("!HH", STATUS_AS_STATE_CHANGE, status_info))]
    if asp_identifier is not None:
        params.append((TAG_ASP_IDENTIFIER, u32(asp_identifier)))
    if routing_context:
        params.append((TAG_ROUTING_CONTEXT, routing_context))
    return m3ua_message("MGMT", "NTFY", params)


def routing_context_value(contexts):
    """The value of a Routing Context parameter listing ``contexts``."""
    return b"".join(u32(rc) for rc in contexts)


def aspup(asp_identifier=None):
    params = [(TAG_ASP_IDENTIFIER, u32(asp_identifier))] if asp_identifier is not None else []
    return m3ua_message("ASPSM", "ASPUP", params)


def aspdn():
    return m3ua_message("ASPSM", "ASPDN")


def beat(data=b""):
    return m3ua_message("ASPSM", "BEAT", [(TAG_HEARTBEAT_DATA, data)] if data else [])


def aspac(routing_contexts=(), traffic_mode=TRAFFIC_MODE_LOADSHARE):
    params = [(TAG_TRAFFIC_MODE, u32(traffic_mode))]
    if routing_contexts:
        params.append((TAG_ROUTING_CONTEXT, routing_context_value(routing_contexts)))
    return m3ua_message("ASPTM", "ASPAC", params)


def aspia(routing_contexts=()):
    params = []
    if routing_contexts:
        params.append((TAG_ROUTING_CONTEXT, routing_context_value(routing_contexts)))
    return m3ua_message("ASPTM", "ASPIA", params)


def parameter(message, tag):
    """The value of the first parameter ``tag`` of a decoded message, or None."""
    for found, value in message.parameters:
        if found == tag:
            return value
    return None


class Reply:
    """A message to send in answer: bytes, stream, and what it is (for logs)."""

    __slots__ = ("data", "stream", "name")

    def __init__(self, data, stream, name):
        self.data, self.stream, self.name = data, stream, name

    def __repr__(self):
        return "Reply(%s, stream=%r)" % (self.name, self.stream)


class SgpMachine:
    """The SGP's view of one association's ASP.

    ``receive(data, stream)`` takes one received M3UA message and returns
    ``(replies, note)``: the :class:`Reply` list to send, in order, and a
    short text for the log when something was refused (None otherwise).
    ``state`` is the ASP state; ``asp_identifier`` and
    ``routing_contexts`` what the ASP announced.
    """

    def __init__(self):
        self.state = DOWN
        self.asp_identifier = None
        self.routing_context = None     # raw value of ASPAC's parameter
        self.traffic_mode = None

    @property
    def routing_contexts(self):
        value = self.routing_context or b""
        return tuple(int.from_bytes(value[i:i + 4], "big") for i in range(0, len(value) - 3, 4))

    def receive(self, data, stream=None):
        if self.state == ACTIVE and len(data) >= 8 and data[0] == 1 and data[2] == 1 \
                and data[3] == 1:
            # DATA to an active ASP, the common case: nothing to answer
            return [], None
        try:
            message = m3ua.decode(data)
        except m3ua.M3uaError as exc:
            code = "invalid_version" if "version" in str(exc) else "protocol_error"
            return [self._err(code, data)], str(exc)
        msg_class = message.msg_class
        if msg_class not in m3ua.CLASS_NAMES:
            return [self._err("unsupported_message_class", data)], \
                "unsupported message class %d" % msg_class
        name = message.type_name
        if name.startswith("type_"):
            return [self._err("unsupported_message_type", data)], \
                "unsupported message type %d of class %s" % (message.msg_type, message.class_name)
        if msg_class == m3ua.CLASS_RKM:
            # dynamic registration is not offered: every routing context is
            # accepted as it is
            return [self._err("unsupported_message_class", data)], "routing key management refused"
        if stream not in (None, 0) and msg_class in _STREAM_ZERO_CLASSES:
            return [self._err("invalid_stream_identifier", data)], \
                "%s on stream %d, not 0" % (name, stream)
        if message.error is not None and msg_class != m3ua.CLASS_TRANSFER:
            return [self._err("parameter_field_error", data)], message.error
        if name == "BEAT":
            return [self._ack(message, name)], None
        if name in _NOTED:
            return [], None
        if name in _UNEXPECTED_AT_SGP:
            return [self._err("unexpected_message", data)], "%s is not sent to an SGP" % name
        if name == "DAUD":
            return [self._dava(message)], None
        if name == "ASPAC":
            mode = parameter(message, TAG_TRAFFIC_MODE)
            if mode is not None and (len(mode) != 4 or int.from_bytes(mode, "big") not in TRAFFIC_MODES):
                return [self._err("unsupported_traffic_mode_type", data)], \
                    "traffic mode type %s" % mode.hex()
        transition = TRANSITIONS.get((self.state, name))
        if transition is None:
            return [], None
        actions, next_state = transition
        before = self.state
        self._remember(message, name)
        self.state = next_state
        replies = [self._action(action, message, name, data) for action in actions]
        note = None
        if any(reply.name.startswith("ERR") for reply in replies):
            note = "%s in %s" % (name, before)
        return replies, note

    def _remember(self, message, name):
        if name == "ASPUP":
            asp_id = parameter(message, TAG_ASP_IDENTIFIER)
            self.asp_identifier = int.from_bytes(asp_id, "big") if asp_id and len(asp_id) == 4 else None
        elif name == "ASPAC" and self.state != DOWN:
            self.routing_context = parameter(message, TAG_ROUTING_CONTEXT)
            mode = parameter(message, TAG_TRAFFIC_MODE)
            self.traffic_mode = int.from_bytes(mode, "big") if mode else None
        elif name == "ASPDN":
            self.routing_context = self.traffic_mode = None

    def _action(self, action, message, name, data):
        if action == "ack":
            return self._ack(message, name)
        if action == "ntfy_inactive":
            return Reply(ntfy(AS_INACTIVE, self.asp_identifier, self.routing_context), 0,
                         "NTFY(AS-INACTIVE)")
        if action == "ntfy_active":
            return Reply(ntfy(AS_ACTIVE, self.asp_identifier, self.routing_context), 0,
                         "NTFY(AS-ACTIVE)")
        return self._err(action.split(":", 1)[1], data)

    @staticmethod
    def _ack(message, name):
        msg_class, msg_type = _ACKS[name]
        params = [(tag, value) for tag, value in message.parameters if tag in _ECHOED[name]]
        return Reply(m3ua_message(msg_class, msg_type, params), 0, msg_type)

    @staticmethod
    def _dava(message):
        # a capture sink reaches every destination: the audited ones are available
        params = [(tag, value) for tag, value in message.parameters
                  if tag in (TAG_NETWORK_APPEARANCE, TAG_ROUTING_CONTEXT, TAG_AFFECTED_POINT_CODE)]
        return Reply(m3ua_message("SSNM", "DAVA", params), 0, "DAVA")

    @staticmethod
    def _err(code_name, data):
        return Reply(err(code_name, data), 0, "ERR(%s)" % code_name)


def describe_err(message):
    """``error code name`` of a decoded ERR message, for reports."""
    value = parameter(message, TAG_ERROR_CODE)
    if value is None or len(value) != 4:
        return "ERR without an error code"
    code = int.from_bytes(value, "big")
    return ERROR_NAMES.get(code, "error code 0x%02x" % code)

