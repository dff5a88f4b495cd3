"""
One Diameter peer connection: a thin adapter between a transport, a framer
and the peer state machine.

L{DiameterProtocol} feeds what the transport delivers to a framer
(L{pyhss.protocols.framing}), turns each message into an event of the
state machine (L{pyhss.protocols.peer_machine}) and carries out the
actions the machine returns: timers on the node's clock, messages built by
the node's C{messages}, and a few calls to its node:

    connection_made, check_capabilities, peer_opened, peer_closing,
    dispatch, answer_received, connection_lost

The node (L{pyhss.node.DiameterNode}) owns identity, the peer table,
handlers and settings; this class owns one connection.

Hot path: a read is framed in one pass; every answer produced during that
read is collected and written with one C{transport.writeSequence} (one
message per element: one send over TCP, one SCTP message each over SCTP,
where a peer expects each Diameter message alone); a DWR is answered
synchronously from a precomputed DWA body (only the identifiers are packed);
the watchdog notes the time once per read rather than resetting a timer per
message; debug lines are formatted only when the node logs at debug level.

Flow control: the connection stops reading its peer while more than
C{max_write_buffer} bytes of our answers wait for the peer to read them
(Twisted's producer API: that is also the most one read takes), or while
the node has as many of its requests in handlers as it allows; a peer
whose writes stay stuck for C{write_stall_timeout} seconds is dropped.
"""

from twisted.internet import defer, protocol
from twisted.logger import Logger

from pyhss.protocols import codec
from pyhss.protocols import peer_machine as machine
from pyhss.protocols.dictionary import APP_BASE, CMD_CER, CMD_DPR, CMD_DWR
from pyhss.protocols.errors import DecodeError
from pyhss.protocols.flow import FlowControl
from pyhss.protocols.framing import FramingError, StreamFramer
from pyhss.protocols.peer_actions import (  # noqa: F401 (re-exported)
    ACTIONS, CapabilitiesExchangeFailed, PeerActions, describe, session_id_avp)
from pyhss.protocols.peer_machine import (  # noqa: F401 (re-exported)
    CLOSED, CLOSING, OPEN, WAIT_CEA, WAIT_CER, PeerMachine)

ROLE_RESPONDER = "responder"
ROLE_INITIATOR = "initiator"

# RFC 6733 5.4.3 Disconnect-Cause
DISCONNECT_REBOOTING = 0
DISCONNECT_BUSY = 1
DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU = 2

FLAG_REQUEST = codec.FLAG_REQUEST
_HEADER = codec.HEADER

# Base commands by (command code, is a request) -> event.
_BASE_EVENTS = {
    (CMD_CER, True): machine.RECV_CER, (CMD_CER, False): machine.RECV_CEA,
    (CMD_DWR, True): machine.RECV_DWR, (CMD_DWR, False): machine.RECV_DWA,
    (CMD_DPR, True): machine.RECV_DPR, (CMD_DPR, False): machine.RECV_DPA,
}
# The one message each unopened state decodes; anything else is judged by
# its header alone.
_EXPECTED = {WAIT_CER: machine.RECV_CER, WAIT_CEA: machine.RECV_CEA}
_COUNTERS = {
    machine.RECV_REQUEST: "requests_received", machine.RECV_ANSWER: "answers_received",
    machine.RECV_DWR: "dwr_received", machine.RECV_DWA: "dwa_received",
}



def _event_of(flags_command, application_id):
    """The machine event for a message's header fields."""
    is_request = bool((flags_command >> 24) & FLAG_REQUEST)
    if application_id == APP_BASE:
        event = _BASE_EVENTS.get((flags_command & 0xFFFFFF, is_request))
        if event is not None:
            return event
    return machine.RECV_REQUEST if is_request else machine.RECV_ANSWER


class DiameterProtocol(PeerActions, FlowControl, protocol.Protocol):
    """
    One transport connection to a Diameter peer.

    @ivar node: the L{pyhss.node.DiameterNode} this connection belongs to.
    @ivar role: L{ROLE_RESPONDER} (accepted) or L{ROLE_INITIATOR} (dialled).
    @ivar machine: its L{PeerMachine}; C{state} is the machine's state.
    @ivar peer: the L{pyhss.node.Peer} once the capabilities exchange
        succeeded, else C{None} (again once the connection is closed).
    """

    log = Logger(namespace="pyhss.peer")

    def __init__(self, node, role=ROLE_RESPONDER, framer=None):
        self.node = node
        self.settings = node.settings
        self.messages = node.messages
        self.role = role
        self.machine = PeerMachine(initiator=role == ROLE_INITIATOR)
        self.framer = framer if framer is not None else StreamFramer(
            self.settings.max_message_size)
        self.peer = None
        self.counters = dict.fromkeys((
            "messages_received", "requests_received", "answers_sent",
            "dwr_received", "dwa_sent", "dwr_sent", "dwa_received",
            "requests_sent", "answers_received", "watchdog_failures"), 0)
        self.remote = "?"
        self.remote_host = None       # source address, for admission
        self.local_address = None
        self.transport_name = None
        self.connected_at = None
        self.capabilities = None      # Deferred of an initiator's exchange
        self._peer_host = None        # the peer's name, kept after close
        self._close_waiters = []      # Deferreds fired by connectionLost
        self._out = None              # answers collected during one read
        self._last_received = 0.0
        self._watchdog_call = None
        self._dwr_pending = False
        self._state_call = None       # CER/CEA and DPA timers
        self._abort_call = None
        self._stall_call = None
        self._not_reading = set()     # why we stopped reading the peer
        self._disconnecting = False   # no more messages will be handled

    @property
    def state(self):
        return self.machine.state

    @property
    def name(self):
        """The peer's Origin-Host once known, else its address."""
        return self._peer_host or self.remote

    def __repr__(self):
        return "<DiameterProtocol %s %s %s>" % (self.role, self.name, self.state)

    def _process(self, event, message=None):
        for action in self.machine.process(event):
            ACTIONS[action](self, message)

    # --- connection events -------------------------------------------------------

    def connectionMade(self):
        settings = self.settings
        transport = self.transport
        peer_address = transport.getPeer()
        self.remote_host = getattr(peer_address, "host", None)
        self.remote = "%s:%s" % (self.remote_host or "?",
                                 getattr(peer_address, "port", "?"))
        self.local_address = getattr(transport.getHost(), "host", None)
        # "tcp" or "sctp", for logs and the peer list.
        self.transport_name = str(getattr(peer_address, "type", "?")).lower()
        self.connected_at = self._last_received = settings.clock.seconds()
        # The transport pauses us (stop reading this peer's requests) while
        # more than max_write_buffer bytes of answers wait for it to read.
        transport.bufferSize = settings.max_write_buffer
        transport.registerProducer(self, True)
        self.node.connection_made(self)
        self._process(machine.CONNECTED)

    def connectionLost(self, reason=protocol.connectionDone):
        if reason is None:
            reason = protocol.connectionDone
        self._disconnecting = True
        self.framer.clear()
        self._process(machine.TRANSPORT_LOST, reason)

    def when_closed(self):
        """A new L{Deferred} that fires once the transport is closed."""
        d = defer.Deferred()
        if self.state == CLOSED:
            d.callback(None)
        else:
            self._close_waiters.append(d)
        return d

    # --- reading -----------------------------------------------------------------

    def dataReceived(self, data):
        if self._disconnecting:
            return
        self._out = out = []
        handled = 0
        try:
            for message in self.framer.messages(data):
                handled += 1
                self._message_received(message)
                if self._disconnecting:
                    break
            else:
                if self.state in _EXPECTED:
                    self._judge_partial_header()
        except FramingError as e:
            self._warn_repeatable(
                "closing connection from {remote} ({peer}): {why}",
                remote=self.remote, peer=self.name, why=e)
            self.close()
        finally:
            self._out = None
            if out:
                # One write per message: over SCTP each is one SCTP message
                # (TCP's transport joins them into one send).
                self.transport.writeSequence(out)
        if handled:
            self._last_received = self.settings.clock.seconds()

    def _message_received(self, data):
        self.counters["messages_received"] += 1
        state = self.machine.state
        expected = _EXPECTED.get(state)
        if expected is not None:
            # Before the capabilities exchange only a CER (responder) or a
            # CEA (initiator) is decoded: anything else is judged by its
            # header, so an unknown peer cannot make us decode (and cache)
            # more.
            word, flags_command, application_id = _HEADER.unpack_from(data)[:3]
            event = _event_of(flags_command, application_id)
            if event is not expected:
                self._process(event, data)
                return
        settings = self.settings
        try:
            message = codec.decode_message(
                data, settings.max_message_size, settings.max_avp_depth)
        except DecodeError as e:
            self._decode_failed(data, e)
            return
        if settings.debug:
            self._debug_received(message)
        event = _event_of((message.flags << 24) | message.command_code,
                          message.application_id)
        counter = _COUNTERS.get(event)
        if counter is not None:
            self.counters[counter] += 1
        self._process(event, message)

    def _judge_partial_header(self):
        """A message still arriving is judged as soon as its header is in."""
        header = self.framer.partial_header()
        if header is not None:
            word, flags_command, application_id = _HEADER.unpack_from(header)[:3]
            event = _event_of(flags_command, application_id)
            if event is not _EXPECTED[self.state]:
                self._process(event, header)

    def _debug_received(self, message):
        if message.application_id == APP_BASE or not (
                message.flags & FLAG_REQUEST):
            # Requests of applications are logged by the node's dispatch.
            self.log.debug("{peer} -> {name} hbh={hbh:#x} result={code}",
                           peer=self.name, name=describe(message),
                           hbh=message.hop_by_hop,
                           code=message.get("Result-Code"))

    # --- closing -------------------------------------------------------------------

    def disconnect(self, cause=DISCONNECT_REBOOTING):
        """
        Close gracefully: send DPR, close on its DPA or after dpa_timeout.
        Connections not yet open are simply closed.

        @return: L{Deferred} that fires once the transport is closed.
        """
        for action in self.machine.process(machine.STOP):
            ACTIONS[action](self, cause)
        return self.when_closed()

    def close(self):
        """
        Close the transport after writing what is queued; abort it if the
        peer does not let the close finish within dpa_timeout.
        """
        if self.state == CLOSED or self.transport is None:
            return
        self._disconnecting = True
        self._cancel("_state_call")
        out = self._out
        if out:
            self.transport.writeSequence(out)
            del out[:]
        self.transport.loseConnection()
        if self._abort_call is None:
            self._abort_call = self.settings.clock.callLater(
                self.settings.timers.dpa_timeout, self.abort)

    def abort(self):
        """Close the transport now, dropping what is queued."""
        self._abort_call = None
        if self.state == CLOSED or self.transport is None:
            return
        self._disconnecting = True
        abort = getattr(self.transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            self.transport.loseConnection()

    def _cancel(self, name):
        call = getattr(self, name)
        if call is not None and call.active():
            call.cancel()
        setattr(self, name, None)

    # --- output ------------------------------------------------------------------

    def _send(self, data):
        out = self._out
        if out is not None:
            out.append(data)
        elif self.state != CLOSED:
            self.transport.write(data)

    def send_answer(self, answer):
        """Write an answer (a codec Message), batched within a read."""
        self.counters["answers_sent"] += 1
        self._send(answer.encode())

    def send_request(self, request):
        """Write a request we originate (identifiers already set)."""
        self.counters["requests_sent"] += 1
        self._send(request.encode())
