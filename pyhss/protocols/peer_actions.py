"""
What a peer connection does for each action of its state machine.

L{PeerActions} is the half of L{pyhss.protocols.peer.DiameterProtocol}
that carries out L{pyhss.protocols.peer_machine}'s actions: the
capabilities exchange, the watchdog timers (RFC 3539), the disconnect
exchange and handing messages to the node.  L{ACTIONS} maps each action to
its method; each method takes the event's argument (a message, a peer, a
reason, a delay), and may feed the machine a judgement in turn.
"""

from twisted.logger import LogLevel
from twisted.python import failure

from pyhss.protocols import codec, results
from pyhss.protocols import peer_machine as machine
from pyhss.protocols.peer_machine import CLOSING, OPEN, WAIT_CER

FLAG_REQUEST = codec.FLAG_REQUEST
_HEADER = codec.HEADER
_AVP_HEADER = codec.AVP_HEADER
_SESSION_ID_CODE = 263


def session_id_avp(data):
    """
    The raw Session-Id AVP at the start of a message's AVPs, or C{None}.

    Used to copy the Session-Id into an error answer for a request whose
    body could not be decoded (RFC 6733 places it first).
    """
    if len(data) < 28:
        return None
    code, flags_length = _AVP_HEADER.unpack_from(data, 20)
    length = flags_length & 0xFFFFFF
    if code != _SESSION_ID_CODE or (flags_length >> 24) & 0x80 \
            or length < 8 or 20 + length > len(data):
        return None
    padded = 20 + ((length + 3) & ~3)
    if padded > len(data) or any(data[20 + length:padded]):
        return None
    try:
        bytes(data[28:20 + length]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return bytes(data[20:padded])


class PeerActions(object):
    """The action methods; the connection provides C{node}, C{settings},
    C{messages}, C{_process}, C{_send}, C{close}, C{abort} and the rest."""

    def _start_capabilities_timer(self, _):
        self._state_call = self.settings.clock.callLater(
            self.settings.timers.cer_timeout, self._capabilities_timed_out)

    def _capabilities_timed_out(self):
        self._state_call = None
        self._process(machine.CAPABILITIES_TIMEOUT, (None, "no %s within %ss" % (
            "CER" if self.state == WAIT_CER else "CEA",
            self.settings.timers.cer_timeout)))

    def _stop_state_timer(self, _):
        self._cancel("_state_call")

    def _send_cer(self, _):
        self._send(self.messages.capabilities_request(self.local_address).encode())

    def _exchange_capabilities(self, message):
        """Judge a CER (and answer it) or a CEA, and say what was found."""
        if message.flags & FLAG_REQUEST:
            code, peer, reason = self._judge_cer(message)
            self._send(self.messages.capabilities_answer(
                message, code, reason, self.local_address).encode())
            if code != results.DIAMETER_SUCCESS:
                self._warn_repeatable(
                    "rejected CER from {remote} ({host}): {code} {reason}",
                    remote=self.remote, host=message.get("Origin-Host"),
                    code=code, reason=reason)
        else:
            code, peer, reason = self._judge_cea(message)
        if code == results.DIAMETER_SUCCESS:
            self._process(machine.CAPABILITIES_ACCEPTED, peer)
        else:
            self._process(machine.CAPABILITIES_REFUSED, (code, reason))

    def _judge_cer(self, cer):
        code, peer, reason = self.node.check_capabilities(self, cer)
        if code == results.DIAMETER_SUCCESS and self.peer is not None \
                and peer.origin_host.lower() != self.peer.origin_host.lower():
            # A CER on an open connection may not change its identity.
            return (results.DIAMETER_UNKNOWN_PEER, None,
                    "CER for %s on the open connection of %s" % (
                        peer.origin_host, self.peer.origin_host))
        return code, peer, reason

    def _judge_cea(self, cea):
        code = cea.get("Result-Code")
        if code != results.DIAMETER_SUCCESS:
            return code, None, "CEA with Result-Code %s (%s)" % (
                code, cea.get("Error-Message", ""))
        return self.node.check_capabilities(self, cea)

    def _open_peer(self, peer):
        self._set_peer(peer)
        self.node.peer_opened(self, peer)
        self._schedule_watchdog(self.settings.watchdog_interval())
        if self.capabilities is not None and not self.capabilities.called:
            self.capabilities.callback(peer)

    def _reopen_peer(self, peer):
        self.log.info("{peer}: capabilities exchanged again on an open"
                      " connection", peer=self.name)
        self._set_peer(peer)
        self.node.peer_opened(self, peer)

    def _set_peer(self, peer):
        self.peer = peer
        self._peer_host = peer.origin_host

    def _fail_capabilities(self, cause):
        """C{cause}: C{(result code or None, reason)}, or the message that
        came instead of a CEA."""
        if isinstance(cause, tuple):
            code, reason = cause
        else:
            code, reason = None, "expected a CEA, got %s" % (describe(cause),)
        self._warn_repeatable("capabilities exchange with {remote} failed: {reason}",
                              remote=self.remote, reason=reason)
        if self.capabilities is not None and not self.capabilities.called:
            self.capabilities.errback(failure.Failure(
                CapabilitiesExchangeFailed(code, reason)))

    def _refuse_first_message(self, message):
        name = describe(message)
        if self.state == WAIT_CER:
            self._warn_repeatable(
                "closing connection from {remote}: first message is"
                " {name}, not a CER", remote=self.remote, name=name)
        else:
            self._warn_repeatable(
                "closing connection to {remote}: expected a CEA, got"
                " {name}", remote=self.remote, name=name)

    def _answer_dwr(self, message):
        problems = codec.validate(message)
        if problems:
            self.send_answer(self.messages.validation_answer(message, problems))
            return
        self.counters["dwa_sent"] += 1
        self._send(self.messages.watchdog_answer_bytes(message))
        if self.settings.debug:
            self.log.debug("{peer} <- DWA hbh={hbh:#x} result=2001",
                           peer=self.name, hbh=message.hop_by_hop)

    def _watchdog_answered(self, _):
        if self._dwr_pending:
            self._dwr_pending = False
            self._cancel("_watchdog_call")
            self._schedule_watchdog(self.settings.watchdog_interval())

    def _send_dwr(self, _):
        self._dwr_pending = True
        self.counters["dwr_sent"] += 1
        self._send(self.messages.watchdog_request().encode())
        self._schedule_watchdog(self.settings.timers.watchdog_timeout)

    def _restart_watchdog(self, delay):
        self._schedule_watchdog(delay)

    def _drop_silent_peer(self, _):
        self.counters["watchdog_failures"] += 1
        self.log.warn("dropping peer {peer} ({remote}): no DWA within {t}s",
                      peer=self.name, remote=self.remote,
                      t=self.settings.timers.watchdog_timeout)
        self.abort()

    def _answer_dpr(self, message):
        self.log.info("{peer} ({remote}) sent DPR (Disconnect-Cause {cause})",
                      peer=self.name, remote=self.remote,
                      cause=message.get("Disconnect-Cause"))
        self._send(self.messages.answer(message, results.DIAMETER_SUCCESS).encode())

    def _enter_closing(self, _):
        self._cancel("_state_call")
        self._cancel("_watchdog_call")
        self.node.peer_closing(self)

    def _send_dpr(self, cause):
        self._send(self.messages.disconnect_request(cause).encode())

    def _start_dpa_timer(self, _):
        # Our DPR's DPA, or the peer's close after our DPA: close anyway.
        self._state_call = self.settings.clock.callLater(
            self.settings.timers.dpa_timeout, self._dpa_timed_out)

    def _dpa_timed_out(self):
        self._state_call = None
        self.log.info("no DPA or close from {peer} within {t}s; closing",
                      peer=self.name, t=self.settings.timers.dpa_timeout)
        self._process(machine.DPA_TIMEOUT)

    def _dispatch(self, message):
        self.node.dispatch(self, message)

    def _match_answer(self, message):
        self.node.answer_received(self, message)

    def _ignore_unexpected(self, message):
        self._warn_repeatable("{peer}: ignoring unexpected {name} in state {state}",
                              peer=self.name, name=describe(message),
                              state=self.state)

    def _close(self, _):
        self.close()

    def _connection_lost(self, reason):
        for name in ("_state_call", "_watchdog_call", "_abort_call", "_stall_call"):
            self._cancel(name)
        self.node.connection_lost(self, reason)
        # The peer refers to this connection: without it, the connection
        # (and the answers its transport still holds) goes with its last
        # reference, not at the next full garbage collection.
        self.peer = None
        if self.capabilities is not None and not self.capabilities.called:
            self.capabilities.errback(failure.Failure(
                CapabilitiesExchangeFailed(None, "connection closed (%s)" % (
                    reason.getErrorMessage(),))))
        waiters, self._close_waiters = self._close_waiters, []
        for d in waiters:
            d.callback(None)

    # --- watchdog timer ----------------------------------------------------------------

    def _schedule_watchdog(self, delay):
        self._watchdog_call = self.settings.clock.callLater(delay, self._watchdog)

    def _watchdog(self):
        self._watchdog_call = None
        if self.state != OPEN:
            return
        if self._dwr_pending:
            self._process(machine.WATCHDOG_UNANSWERED)
            return
        interval = self.settings.watchdog_interval()
        silence = self.settings.clock.seconds() - self._last_received
        if silence < interval:
            # Traffic arrived since the timer was set: wait for the rest of Tw.
            self._process(machine.WATCHDOG_TRAFFIC, interval - silence)
        else:
            self._process(machine.WATCHDOG_SILENCE)

    def _decode_failed(self, data, error):
        """A framed message whose content did not decode."""
        header = _HEADER.unpack_from(data, 0) if len(data) >= 20 else None
        is_request = header is not None and (header[1] >> 24) & FLAG_REQUEST
        state = self.state
        if is_request and state == WAIT_CER and error.result_code is not None:
            # A CER we cannot read is answered (RFC 6733 5.3.2: a CEA with
            # the error) before the connection is closed.
            self._warn_repeatable(
                "rejected undecodable CER from {remote}: {code} {error}",
                remote=self.remote, code=error.result_code, error=error)
            self._send(self.messages.error_answer_for_header(
                header, error.result_code, error.failed_avp,
                session_id_avp(data), str(error.reason)))
            self.close()
            return
        if error.result_code is None or (
                is_request and state not in (OPEN, CLOSING)):
            self._warn_repeatable(
                "closing connection from {remote} ({peer}): undecodable"
                " message: {error}", remote=self.remote,
                peer=self.name, error=error)
            self.close()
            return
        if not is_request:
            self._warn_repeatable(
                "{peer}: dropping undecodable answer (application {app},"
                " command {command}): {error}", peer=self.name,
                app=header[2], command=header[1] & 0xFFFFFF, error=error)
            return
        self._info_repeatable(
            "{peer}: answering undecodable request (application {app},"
            " command {command}) with {code}: {error}",
            peer=self.name, app=header[2],
            command=header[1] & 0xFFFFFF, code=error.result_code, error=error)
        answer = self.messages.error_answer_for_header(
            header, error.result_code, error.failed_avp, session_id_avp(data),
            str(error.reason))
        self.counters["answers_sent"] += 1
        self._send(answer)

    # A warning that a peer can cause at will, per message or per connection:
    # past the first, counted per kind and source address (logsetup).

    def _warn_repeatable(self, format, **fields):
        self.node.log_summary(self.log).emit(
            LogLevel.warn, (format, self.remote_host), format, **fields)

    def _info_repeatable(self, format, **fields):
        self.node.log_summary(self.log).emit(
            LogLevel.info, (format, self.remote_host), format, **fields)


ACTIONS = {
    machine.START_CAPABILITIES_TIMER: PeerActions._start_capabilities_timer,
    machine.STOP_STATE_TIMER: PeerActions._stop_state_timer,
    machine.SEND_CER: PeerActions._send_cer,
    machine.EXCHANGE_CAPABILITIES: PeerActions._exchange_capabilities,
    machine.OPEN_PEER: PeerActions._open_peer,
    machine.REOPEN_PEER: PeerActions._reopen_peer,
    machine.FAIL_CAPABILITIES: PeerActions._fail_capabilities,
    machine.REFUSE_FIRST_MESSAGE: PeerActions._refuse_first_message,
    machine.CLOSE: PeerActions._close,
    machine.DROP_SILENT_PEER: PeerActions._drop_silent_peer,
    machine.ANSWER_DWR: PeerActions._answer_dwr,
    machine.WATCHDOG_ANSWERED: PeerActions._watchdog_answered,
    machine.SEND_DWR: PeerActions._send_dwr,
    machine.RESTART_WATCHDOG: PeerActions._restart_watchdog,
    machine.ANSWER_DPR: PeerActions._answer_dpr,
    machine.ENTER_CLOSING: PeerActions._enter_closing,
    machine.SEND_DPR: PeerActions._send_dpr,
    machine.START_DPA_TIMER: PeerActions._start_dpa_timer,
    machine.DISPATCH: PeerActions._dispatch,
    machine.MATCH_ANSWER: PeerActions._match_answer,
    machine.IGNORE_UNEXPECTED: PeerActions._ignore_unexpected,
    machine.CONNECTION_LOST: PeerActions._connection_lost,
}


def _describe_header(header):
    """A message named from its unpacked header alone."""
    return "command %d (application %d, %s)" % (
        header[1] & 0xFFFFFF, header[2],
        "request" if (header[1] >> 24) & FLAG_REQUEST else "answer")


def describe(message):
    """A message (or its raw bytes, when only the header was read) by name."""
    if isinstance(message, (bytes, bytearray)):
        return _describe_header(_HEADER.unpack_from(message))
    try:
        name = message.name
    except Exception:
        name = None
    return name or _describe_header(
        (0, (message.flags << 24) | message.command_code, message.application_id))


class CapabilitiesExchangeFailed(Exception):
    """
    The capabilities exchange did not open the connection.

    @ivar result_code: the Result-Code involved, or C{None} (timeout,
        connection closed, unexpected message).
    """

    def __init__(self, result_code, reason):
        Exception.__init__(self, result_code, reason)
        self.result_code = result_code
        self.reason = reason

    def __str__(self):
        if self.result_code is None:
            return self.reason
        return "%s (Result-Code %s)" % (self.reason, self.result_code)
