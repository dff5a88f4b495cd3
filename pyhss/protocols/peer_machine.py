"""
The state machine of one Diameter peer connection, without I/O.

RFC 6733 5.6 (capabilities exchange, disconnect) and RFC 3539 (watchdog),
for one transport connection, as a table: (state, event) -> (actions, next
state).  L{PeerMachine.process} looks an event up, moves to the next state
and returns the actions, in order, for the connection to carry out; an
event the table does not name for the current state raises
L{IllegalPeerEvent}.  Timers, bytes and the node are the connection's
business (L{pyhss.protocols.peer.DiameterProtocol}): the machine only says
when to start or stop a timer, what to send and whom to tell.

Two events are judgements the connection makes when an action asks for
them: after L{EXCHANGE_CAPABILITIES} (a CER or CEA to check against the
node's policy) it feeds L{CAPABILITIES_ACCEPTED} or L{CAPABILITIES_REFUSED};
when the watchdog timer fires it feeds what it found (a DWR unanswered, Tw
of silence, or traffic since).

Closing the transport is an action, not a state: the connection stops
reading at once and the state becomes L{CLOSED} when the transport is gone
(L{TRANSPORT_LOST}), whatever state it was in.
"""

from pyhss.protocols.errors import DiameterError

# --- states ---------------------------------------------------------------------
WAIT_CER = "wait_cer"     # responder: accepted, waiting for the peer's CER
WAIT_CEA = "wait_cea"     # initiator: our CER sent, waiting for the CEA
OPEN = "open"             # capabilities exchanged; requests flow both ways
CLOSING = "closing"       # DPR sent or received; waiting for the DPA or close
CLOSED = "closed"         # transport gone

# --- events ---------------------------------------------------------------------
CONNECTED = "connected"                   # the transport is up
RECV_CER = "recv_cer"
RECV_CEA = "recv_cea"
RECV_DWR = "recv_dwr"
RECV_DWA = "recv_dwa"
RECV_DPR = "recv_dpr"
RECV_DPA = "recv_dpa"
RECV_REQUEST = "recv_request"             # any other request
RECV_ANSWER = "recv_answer"               # any other answer
CAPABILITIES_ACCEPTED = "capabilities_accepted"
CAPABILITIES_REFUSED = "capabilities_refused"
CAPABILITIES_TIMEOUT = "capabilities_timeout"
WATCHDOG_SILENCE = "watchdog_silence"     # Tw without traffic: probe
WATCHDOG_TRAFFIC = "watchdog_traffic"     # traffic since: wait the rest of Tw
WATCHDOG_UNANSWERED = "watchdog_unanswered"   # no DWA to our DWR in time
STOP = "stop"                             # we want to disconnect
DPA_TIMEOUT = "dpa_timeout"               # our DPR unanswered, or the peer
                                          # did not close after our DPA
TRANSPORT_LOST = "transport_lost"

# --- actions --------------------------------------------------------------------
START_CAPABILITIES_TIMER = "start_capabilities_timer"
STOP_STATE_TIMER = "stop_state_timer"     # the CER/CEA or DPA timer
SEND_CER = "send_cer"
EXCHANGE_CAPABILITIES = "exchange_capabilities"   # judge the CER/CEA, answer a CER
OPEN_PEER = "open_peer"                   # tell the node; start the watchdog
REOPEN_PEER = "reopen_peer"               # a new CER on an open connection
FAIL_CAPABILITIES = "fail_capabilities"   # an initiator's exchange failed
REFUSE_FIRST_MESSAGE = "refuse_first_message"   # not a CER (CEA) first
CLOSE = "close"                           # write what is queued, then close
DROP_SILENT_PEER = "drop_silent_peer"     # no DWA in time: close now
ANSWER_DWR = "answer_dwr"
WATCHDOG_ANSWERED = "watchdog_answered"   # a DWA: next probe after Tw
SEND_DWR = "send_dwr"                     # and wait watchdog_timeout for it
RESTART_WATCHDOG = "restart_watchdog"     # wait what is left of Tw
ANSWER_DPR = "answer_dpr"
ENTER_CLOSING = "enter_closing"           # stop the watchdog, tell the node
SEND_DPR = "send_dpr"
START_DPA_TIMER = "start_dpa_timer"
DISPATCH = "dispatch"                     # a request to the node
MATCH_ANSWER = "match_answer"             # an answer to the node
IGNORE_UNEXPECTED = "ignore_unexpected"   # log it, keep the connection
CONNECTION_LOST = "connection_lost"       # cancel timers, tell the node


class IllegalPeerEvent(DiameterError):
    """An event the peer state machine does not allow in its state."""

    def __init__(self, state, event):
        DiameterError.__init__(self, "%s not allowed in state %s" % (event, state))
        self.state = state
        self.event = event


def _table():
    table = {}

    def on(states, events, actions, next_state=None):
        for state in states:
            for event in events:
                table[state, event] = (tuple(actions), next_state or state)

    unopened = (WAIT_CER, WAIT_CEA)
    serving = (OPEN, CLOSING)
    others = (RECV_DWR, RECV_DWA, RECV_DPR, RECV_DPA, RECV_REQUEST, RECV_ANSWER)

    on([WAIT_CER], [CONNECTED], [START_CAPABILITIES_TIMER])
    on([WAIT_CEA], [CONNECTED], [START_CAPABILITIES_TIMER, SEND_CER])
    # Capabilities exchange (RFC 6733 5.3).
    on([WAIT_CER], [RECV_CER], [STOP_STATE_TIMER, EXCHANGE_CAPABILITIES])
    on([WAIT_CER], [RECV_CEA] + list(others), [REFUSE_FIRST_MESSAGE, CLOSE])
    on([WAIT_CEA], [RECV_CEA], [STOP_STATE_TIMER, EXCHANGE_CAPABILITIES])
    on([WAIT_CEA], [RECV_CER] + list(others), [REFUSE_FIRST_MESSAGE, FAIL_CAPABILITIES, CLOSE])
    on(unopened, [CAPABILITIES_ACCEPTED], [OPEN_PEER], OPEN)
    on([WAIT_CER], [CAPABILITIES_REFUSED], [CLOSE])
    on([WAIT_CEA], [CAPABILITIES_REFUSED], [FAIL_CAPABILITIES, CLOSE])
    on(unopened, [CAPABILITIES_TIMEOUT], [FAIL_CAPABILITIES, CLOSE])
    # RFC 6733 5.6, R-Open + R-Rcv-CER: answer it.
    on([OPEN], [RECV_CER], [EXCHANGE_CAPABILITIES])
    on([OPEN], [CAPABILITIES_ACCEPTED], [REOPEN_PEER])
    on([OPEN], [CAPABILITIES_REFUSED], [CLOSE])
    on([CLOSING], [RECV_CER], [IGNORE_UNEXPECTED])
    on(serving, [RECV_CEA], [IGNORE_UNEXPECTED])
    # Requests and answers of applications.
    on(serving, [RECV_REQUEST], [DISPATCH])
    on(serving, [RECV_ANSWER], [MATCH_ANSWER])
    # Watchdog (RFC 3539).
    on(serving, [RECV_DWR], [ANSWER_DWR])
    on([OPEN], [RECV_DWA], [WATCHDOG_ANSWERED])
    on([CLOSING], [RECV_DWA], [])
    on([OPEN], [WATCHDOG_SILENCE], [SEND_DWR])
    on([OPEN], [WATCHDOG_TRAFFIC], [RESTART_WATCHDOG])
    on([OPEN], [WATCHDOG_UNANSWERED], [DROP_SILENT_PEER])
    # Disconnect (RFC 6733 5.4).
    on(serving, [RECV_DPR], [ANSWER_DPR, ENTER_CLOSING, START_DPA_TIMER], CLOSING)
    on([OPEN], [RECV_DPA], [IGNORE_UNEXPECTED])
    on([CLOSING], [RECV_DPA], [STOP_STATE_TIMER, CLOSE])
    on([OPEN], [STOP], [ENTER_CLOSING, SEND_DPR, START_DPA_TIMER], CLOSING)
    on(unopened, [STOP], [CLOSE])
    on([CLOSING, CLOSED], [STOP], [])
    on([CLOSING], [DPA_TIMEOUT], [CLOSE])
    on((WAIT_CER, WAIT_CEA, OPEN, CLOSING), [TRANSPORT_LOST], [CONNECTION_LOST], CLOSED)
    on([CLOSED], [TRANSPORT_LOST], [])
    return table


TRANSITIONS = _table()


class PeerMachine(object):
    """
    The state of one connection.

    @ivar state: one of the module's state constants; a responder starts in
        L{WAIT_CER}, an initiator in L{WAIT_CEA}.
    """

    __slots__ = ("state",)

    def __init__(self, initiator=False):
        self.state = WAIT_CEA if initiator else WAIT_CER

    def process(self, event):
        """
        Move on C{event}.

        @return: the actions to carry out, in order.
        @raise IllegalPeerEvent: the table has no entry for the current
            state and C{event} (the state is left unchanged).
        """
        try:
            actions, self.state = TRANSITIONS[self.state, event]
        except KeyError:
            raise IllegalPeerEvent(self.state, event) from None
        return actions
