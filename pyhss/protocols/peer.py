"""
One Diameter peer connection: framing and the base protocol state machine.

L{DiameterProtocol} frames the byte stream into messages (a buffer with an
offset and a size limit), runs the capabilities exchange (CER/CEA), the
transport watchdog (DWR/DWA, RFC 3539) and the disconnect exchange (DPR/DPA),
and hands every other message to its L{pyhss.node.DiameterNode}: requests to
C{node.dispatch}, answers to C{node.answer_received}.  The node owns identity,
the peer table, handlers and timers' values; this class owns one connection.

States::

    wait_cer   responder, connection accepted, waiting for the peer's CER
    wait_cea   initiator, our CER sent, waiting for the CEA
    open       capabilities exchanged; requests flow both ways
    closing    DPR sent or received; waiting for the DPA or the peer's close
    closed     transport gone

Hot path: a read is framed in one pass; every answer produced during that
read is collected and written with one C{transport.write}; a DWR is answered
synchronously from a precomputed DWA body (only the identifiers are packed);
the watchdog notes the time once per read rather than resetting a timer per
message; debug lines are formatted only when the node logs at debug level.
"""

import struct

from twisted.internet import protocol
from twisted.logger import Logger, LogLevel
from twisted.python import failure

from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import (
    APP_BASE, CMD_CER, CMD_DPR, CMD_DWR)
from pyhss.protocols.errors import DecodeError

WAIT_CER = "wait_cer"
WAIT_CEA = "wait_cea"
OPEN = "open"
CLOSING = "closing"
CLOSED = "closed"

ROLE_RESPONDER = "responder"
ROLE_INITIATOR = "initiator"

# RFC 6733 5.4.3 Disconnect-Cause
DISCONNECT_REBOOTING = 0
DISCONNECT_BUSY = 1
DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU = 2

FLAG_REQUEST = codec.FLAG_REQUEST
_REQUEST_DWR = (FLAG_REQUEST << 24) | CMD_DWR
_ANSWER_DWA = CMD_DWR

# version/length, flags/command code, application id, hop-by-hop, end-to-end
_HEADER = struct.Struct("!IIIII")
_AVP_HEADER = struct.Struct("!II")
_SESSION_ID_CODE = 263
_VERSION_1 = 0x01000000


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


class DiameterProtocol(protocol.Protocol):
    """
    One transport connection to a Diameter peer.

    @ivar node: the L{pyhss.node.DiameterNode} this connection belongs to.
    @ivar role: L{ROLE_RESPONDER} (accepted) or L{ROLE_INITIATOR} (dialled).
    @ivar state: one of the module's state constants.
    @ivar peer: the L{pyhss.node.Peer} once the capabilities exchange
        succeeded, else C{None}.
    @ivar pending: number of requests being processed by handlers.
    """

    log = Logger(namespace="pyhss.peer")

    def __init__(self, node, role=ROLE_RESPONDER):
        self.node = node
        self.role = role
        self.state = WAIT_CER if role == ROLE_RESPONDER else WAIT_CEA
        self.peer = None
        self.pending = 0
        self.counters = dict.fromkeys((
            "messages_received", "requests_received", "answers_sent",
            "dwr_received", "dwa_sent", "dwr_sent", "dwa_received",
            "requests_sent", "answers_received"), 0)
        self.remote = "?"
        self.remote_host = None       # source address, for admission
        self.connected_at = None
        self._paused = False          # flow control: not reading the peer
        self._stall_call = None
        self.local_address = None
        self.capabilities = None      # Deferred of an initiator's exchange
        self._close_waiters = []      # Deferreds fired by connectionLost
        # One buffer for a partial message (a list of reads costs ~19 bytes
        # of objects per byte when a peer sends one byte at a time); never
        # longer than max_message_size plus one read.
        self._partial = bytearray()
        self._needed = 0
        self._out = None              # answers collected during one read
        self._last_received = 0.0
        self._watchdog_call = None
        self._dwr_pending = False
        self._state_call = None       # CER/CEA, DPA, close timers
        self._abort_call = None
        self._disconnecting = False   # no more messages will be handled

    # --- connection events -------------------------------------------------------

    def connectionMade(self):
        node = self.node
        peer_address = self.transport.getPeer()
        self.remote_host = getattr(peer_address, "host", None)
        self.remote = "%s:%s" % (self.remote_host or "?",
                                 getattr(peer_address, "port", "?"))
        self.local_address = getattr(self.transport.getHost(), "host", None)
        self.connected_at = self._last_received = node.clock.seconds()
        # Flow control: the transport pauses us (we stop reading this peer's
        # requests) while more than max_write_buffer bytes of our answers
        # wait for it to read them, and resumes us once it has.
        self.transport.bufferSize = node.max_write_buffer
        self.transport.registerProducer(self, True)
        node.connection_made(self)
        if self.role == ROLE_RESPONDER:
            self._state_call = node.clock.callLater(
                node.timers.cer_timeout, self._capabilities_timed_out)
        else:
            self._state_call = node.clock.callLater(
                node.timers.cer_timeout, self._capabilities_timed_out)
            cer = node.capabilities_request(self)
            self._send(cer.encode())

    def connectionLost(self, reason=protocol.connectionDone):
        if reason is None:
            reason = protocol.connectionDone
        previous = self.state
        self.state = CLOSED
        self._disconnecting = True
        for call in (self._state_call, self._watchdog_call, self._abort_call,
                     self._stall_call):
            if call is not None and call.active():
                call.cancel()
        self._state_call = self._watchdog_call = self._abort_call = None
        self._stall_call = None
        self._partial = bytearray()
        if previous != CLOSED:
            self.node.connection_lost(self, reason)
        if self.capabilities is not None and not self.capabilities.called:
            self.capabilities.errback(failure.Failure(
                CapabilitiesExchangeFailed(None, "connection closed (%s)" % (
                    reason.getErrorMessage(),))))
        waiters, self._close_waiters = self._close_waiters, []
        for d in waiters:
            d.callback(None)

    def when_closed(self):
        """A new L{Deferred} that fires once the transport is closed."""
        d = self.node.new_deferred()
        if self.state == CLOSED:
            d.callback(None)
        else:
            self._close_waiters.append(d)
        return d

    # --- flow control (IPushProducer, registered with the transport) -----------

    def pauseProducing(self):
        if self._paused or self.state == CLOSED:
            return
        self._paused = True
        self.transport.pauseProducing()
        self._stall_call = self.node.clock.callLater(
            self.node.write_stall_timeout, self._write_stalled)

    def resumeProducing(self):
        if not self._paused:
            return
        self._paused = False
        if self._stall_call is not None and self._stall_call.active():
            self._stall_call.cancel()
        self._stall_call = None
        if self.state != CLOSED:
            self.transport.resumeProducing()

    def stopProducing(self):
        pass

    def _write_stalled(self):
        self._stall_call = None
        self.log.warn(
            "dropping {peer} ({remote}): it read none of our last {n} bytes"
            " of answers in {t}s (limits.write_stall_timeout)",
            peer=self._peer_name(), remote=self.remote,
            n=self.node.max_write_buffer, t=self.node.write_stall_timeout)
        self.abort()

    # --- framing -----------------------------------------------------------------

    def dataReceived(self, data):
        if self._disconnecting:
            return
        partial = self._partial
        if partial:
            partial += data
            if len(partial) < self._needed:
                return
            data = bytes(partial)
            del partial[:]
        self._out = out = []
        try:
            self._frame(data)
        finally:
            self._out = None
            if out:
                self.transport.write(b"".join(out))

    def _frame(self, data):
        end = len(data)
        offset = 0
        max_size = self.node.max_message_size
        peek = codec.peek_message_length
        handle = self._message_received
        handled = 0
        while not self._disconnecting:
            available = end - offset
            if available < 4:
                needed = 4
                break
            try:
                length = peek(data, offset)
            except DecodeError as e:
                self._framing_failed(
                    "bad message header (%s)" % (e,))
                return
            if length > max_size:
                self._framing_failed(
                    "message of %d bytes exceeds the limit of %d"
                    % (length, max_size))
                return
            if available < length:
                needed = length
                break
            if offset == 0 and length == end:
                message = data
            else:
                message = data[offset:offset + length]
            offset += length
            handled += 1
            handle(message)
        else:
            return
        if handled:
            self._last_received = self.node.clock.seconds()
        if offset < end:
            self._partial += memoryview(data)[offset:]
            self._needed = needed

    def _framing_failed(self, why):
        self._warn_repeatable("closing connection from {remote} ({peer}): {why}",
                      remote=self.remote, peer=self._peer_name(), why=why)
        self.close()

    # --- messages ----------------------------------------------------------------

    def _message_received(self, data):
        node = self.node
        self.counters["messages_received"] += 1
        state = self.state
        if state != OPEN and state != CLOSING:
            self._unopened_message_received(data)
            return
        try:
            message = codec.decode_message(
                data, node.max_message_size, node.max_avp_depth)
        except DecodeError as e:
            self._decode_failed(data, e)
            return
        if node.debug:
            self._debug_received(message)
        if message.flags & FLAG_REQUEST:
            if message.application_id == APP_BASE:
                command = message.command_code
                if command == CMD_DWR:
                    self._dwr_received(message)
                    return
                if command == CMD_DPR:
                    self._dpr_received(message)
                    return
                if command == CMD_CER:
                    self._cer_received_while_open(message)
                    return
            self.counters["requests_received"] += 1
            node.dispatch(self, message)
        else:
            if message.application_id == APP_BASE:
                command = message.command_code
                if command == CMD_DWR:
                    self._dwa_received(message)
                    return
                if command == CMD_DPR:
                    self._dpa_received(message)
                    return
                if command == CMD_CER:
                    self._unexpected(message)
                    return
            self.counters["answers_received"] += 1
            node.answer_received(self, message)

    def _unopened_message_received(self, data):
        """
        Before the capabilities exchange only a CER (responder) or a CEA
        (initiator) is decoded: anything else is judged by its header alone,
        so that an unknown peer cannot make us decode (and cache) more.
        """
        if self.state not in (WAIT_CER, WAIT_CEA):
            return
        header = _HEADER.unpack_from(data, 0)
        command = header[1] & 0xFFFFFF
        is_request = bool((header[1] >> 24) & FLAG_REQUEST)
        expected = command == CMD_CER and header[2] == APP_BASE and (
            is_request == (self.state == WAIT_CER))
        if not expected:
            name = _describe_header(header)
            if self.state == WAIT_CER:
                self._warn_repeatable(
                    "closing connection from {remote}: first message is"
                    " {name}, not a CER", remote=self.remote, name=name)
                self.close()
            elif self.state == WAIT_CEA:
                self.log.warn(
                    "closing connection to {remote}: expected a CEA, got"
                    " {name}", remote=self.remote, name=name)
                self._capabilities_failed(
                    None, "expected a CEA, got %s" % (name,))
            return
        node = self.node
        try:
            message = codec.decode_message(
                data, node.max_message_size, node.max_avp_depth)
        except DecodeError as e:
            self._decode_failed(data, e)
            return
        if node.debug:
            self._debug_received(message)
        if self.state == WAIT_CER:
            self._cer_received(message)
        else:
            self._cea_received(message)

    def _decode_failed(self, data, error):
        """A framed message whose content did not decode."""
        header = _HEADER.unpack_from(data, 0) if len(data) >= 20 else None
        is_request = header is not None and (header[1] >> 24) & FLAG_REQUEST
        if is_request and self.state == WAIT_CER \
                and error.result_code is not None:
            # A CER we cannot read is answered (RFC 6733 5.3.2: a CEA with
            # the error) before the connection is closed.
            self._warn_repeatable(
                "rejected undecodable CER from {remote}: {code} {error}",
                remote=self.remote, code=error.result_code, error=error)
            self._send(self.node.error_answer_for_header(
                header, error.result_code, error.failed_avp,
                session_id_avp(data), str(error.reason)))
            self.close()
            return
        if error.result_code is None or (
                is_request and self.state not in (OPEN, CLOSING)):
            self._warn_repeatable(
                "closing connection from {remote} ({peer}): undecodable"
                " message: {error}", remote=self.remote,
                peer=self._peer_name(), error=error)
            self.close()
            return
        if not is_request:
            self._warn_repeatable(
                "{peer}: dropping undecodable answer (application {app},"
                " command {command}): {error}", peer=self._peer_name(),
                app=header[2], command=header[1] & 0xFFFFFF, error=error)
            return
        self._info_repeatable(
            "{peer}: answering undecodable request (application {app},"
            " command {command}) with {code}: {error}",
            peer=self._peer_name(), app=header[2],
            command=header[1] & 0xFFFFFF, code=error.result_code, error=error)
        answer = self.node.error_answer_for_header(
            header, error.result_code, error.failed_avp, session_id_avp(data),
            str(error.reason))
        self.counters["answers_sent"] += 1
        self._send(answer)

    def _debug_received(self, message):
        if message.application_id == APP_BASE or not (
                message.flags & FLAG_REQUEST):
            # Requests of applications are logged by the node's dispatch.
            self.log.debug("{peer} -> {name} hbh={hbh:#x} result={code}",
                           peer=self._peer_name(), name=_describe(message),
                           hbh=message.hop_by_hop,
                           code=message.get("Result-Code"))

    def _unexpected(self, message):
        self._warn_repeatable("{peer}: ignoring unexpected {name} in state {state}",
                      peer=self._peer_name(), name=_describe(message),
                      state=self.state)

    # --- capabilities exchange ---------------------------------------------------

    def _cer_received(self, message):
        node = self.node
        self._cancel_state_call()
        code, peer, reason = node.check_capabilities(self, message)
        cea = node.capabilities_answer(self, message, code, reason)
        self._send(cea.encode())
        if code != results.DIAMETER_SUCCESS:
            self._warn_repeatable("rejected CER from {remote} ({host}): {code} {reason}",
                          remote=self.remote, host=message.get("Origin-Host"),
                          code=code, reason=reason)
            self.close()
            return
        self._opened(peer)

    def _cer_received_while_open(self, message):
        """
        RFC 6733 5.6 (R-Open/I-Open, Rcv-CER): answer with a CEA.  The same
        peer may announce new applications; another identity on this
        connection is refused and the connection closed.
        """
        node = self.node
        origin_host = message.get("Origin-Host")
        if origin_host is not None and \
                origin_host.lower() != self.peer.origin_host.lower():
            code, peer, reason = (
                results.DIAMETER_UNKNOWN_PEER, None,
                "CER for %s on the open connection of %s" % (
                    origin_host, self.peer.origin_host))
        else:
            code, peer, reason = node.check_capabilities(self, message)
        self._send(node.capabilities_answer(self, message, code, reason)
                   .encode())
        if code != results.DIAMETER_SUCCESS:
            self.log.warn("{peer}: rejected CER on an open connection: {code}"
                          " {reason}", peer=self._peer_name(), code=code,
                          reason=reason)
            self.close()
            return
        self.log.info("{peer}: capabilities exchanged again on an open"
                      " connection", peer=self._peer_name())
        self.peer = peer
        node.peer_opened(self, peer)

    def _cea_received(self, message):
        node = self.node
        self._cancel_state_call()
        code = message.get("Result-Code")
        if code != results.DIAMETER_SUCCESS:
            self._capabilities_failed(
                code, "CEA with Result-Code %s (%s)" % (
                    code, message.get("Error-Message", "")))
            return
        code, peer, reason = node.check_capabilities(self, message)
        if code != results.DIAMETER_SUCCESS:
            self._capabilities_failed(code, reason)
            return
        self._opened(peer)
        if self.capabilities is not None and not self.capabilities.called:
            self.capabilities.callback(peer)

    def _capabilities_failed(self, code, reason):
        self._warn_repeatable("capabilities exchange with {remote} failed: {reason}",
                      remote=self.remote, reason=reason)
        if self.capabilities is not None and not self.capabilities.called:
            self.capabilities.errback(failure.Failure(
                CapabilitiesExchangeFailed(code, reason)))
        self.close()

    def _capabilities_timed_out(self):
        self._state_call = None
        if self.state not in (WAIT_CER, WAIT_CEA):
            return
        what = "CER" if self.state == WAIT_CER else "CEA"
        self._capabilities_failed(None, "no %s within %ss" % (
            what, self.node.timers.cer_timeout))

    def _opened(self, peer):
        self.peer = peer
        self.state = OPEN
        self.node.peer_opened(self, peer)
        self._schedule_watchdog(self.node.watchdog_interval())

    # --- watchdog (RFC 3539) -----------------------------------------------------

    def _schedule_watchdog(self, delay):
        self._watchdog_call = self.node.clock.callLater(delay, self._watchdog)

    def _watchdog(self):
        self._watchdog_call = None
        if self.state != OPEN:
            return
        node = self.node
        now = node.clock.seconds()
        if self._dwr_pending:
            self.log.warn("dropping peer {peer} ({remote}): no DWA within {t}s",
                          peer=self._peer_name(), remote=self.remote,
                          t=node.timers.watchdog_timeout)
            self.abort()
            return
        interval = node.watchdog_interval()
        silence = now - self._last_received
        if silence < interval:
            # Traffic arrived since the timer was set: wait for the rest of Tw.
            self._schedule_watchdog(interval - silence)
            return
        self._dwr_pending = True
        self.counters["dwr_sent"] += 1
        self._send(node.watchdog_request().encode())
        self._schedule_watchdog(node.timers.watchdog_timeout)

    def _dwr_received(self, message):
        node = self.node
        self.counters["dwr_received"] += 1
        problems = codec.validate(message)
        if problems:
            self.send_answer(node.validation_answer(message, problems))
            return
        self.counters["dwa_sent"] += 1
        self._send(node.watchdog_answer_bytes(message))
        if node.debug:
            self.log.debug("{peer} <- DWA hbh={hbh:#x} result=2001",
                           peer=self._peer_name(), hbh=message.hop_by_hop)

    def _dwa_received(self, message):
        self.counters["dwa_received"] += 1
        if self._dwr_pending:
            self._dwr_pending = False
            if self._watchdog_call is not None and self._watchdog_call.active():
                self._watchdog_call.cancel()
            self._schedule_watchdog(self.node.watchdog_interval())

    # --- disconnect --------------------------------------------------------------

    def _dpr_received(self, message):
        node = self.node
        cause = message.get("Disconnect-Cause")
        self.log.info("{peer} ({remote}) sent DPR (Disconnect-Cause {cause})",
                      peer=self._peer_name(), remote=self.remote, cause=cause)
        answer = node.answer(message, results.DIAMETER_SUCCESS)
        self._send(answer.encode())
        self._enter_closing()
        # The DPR sender closes the transport after our DPA; close it
        # ourselves if it does not.
        self._state_call = node.clock.callLater(
            node.timers.dpa_timeout, self.close)

    def _dpa_received(self, message):
        if self.state == CLOSING and self._state_call is not None:
            self._cancel_state_call()
            self.close()
        else:
            self._unexpected(message)

    def _enter_closing(self):
        self._cancel_state_call()
        if self._watchdog_call is not None and self._watchdog_call.active():
            self._watchdog_call.cancel()
        self._watchdog_call = None
        self.state = CLOSING
        self.node.peer_closing(self)

    def disconnect(self, cause=DISCONNECT_REBOOTING):
        """
        Close gracefully: send DPR, close on its DPA or after dpa_timeout.
        Connections not yet open are simply closed.

        @return: L{Deferred} that fires once the transport is closed.
        """
        node = self.node
        if self.state == OPEN:
            self._enter_closing()
            self._send(node.disconnect_request(cause).encode())
            self._state_call = node.clock.callLater(
                node.timers.dpa_timeout, self._dpa_timed_out)
        elif self.state in (WAIT_CER, WAIT_CEA):
            self.close()
        return self.when_closed()

    def _dpa_timed_out(self):
        self._state_call = None
        self.log.info("no DPA from {peer} within {t}s; closing",
                      peer=self._peer_name(), t=self.node.timers.dpa_timeout)
        self.close()

    def close(self):
        """
        Close the transport after writing what is queued; abort it if the
        peer does not let the close finish within dpa_timeout.
        """
        if self.state == CLOSED or self.transport is None:
            return
        self._disconnecting = True
        self._cancel_state_call()
        out = self._out
        if out:
            self.transport.write(b"".join(out))
            del out[:]
        self.transport.loseConnection()
        if self._abort_call is None:
            self._abort_call = self.node.clock.callLater(
                self.node.timers.dpa_timeout, self.abort)

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

    def _cancel_state_call(self):
        if self._state_call is not None and self._state_call.active():
            self._state_call.cancel()
        self._state_call = None

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

    # A warning that a peer can cause at will, per message or per connection:
    # past the first, counted per kind and source address (logsetup).

    def _warn_repeatable(self, format, **fields):
        self.node.log_summary(self.log).emit(
            LogLevel.warn, (format, self.remote_host), format, **fields)

    def _info_repeatable(self, format, **fields):
        self.node.log_summary(self.log).emit(
            LogLevel.info, (format, self.remote_host), format, **fields)

    def _peer_name(self):
        peer = self.peer
        return peer.origin_host if peer is not None else self.remote

    def __repr__(self):
        return "<DiameterProtocol %s %s %s>" % (
            self.role, self._peer_name(), self.state)


def _describe_header(header):
    """A message named from its unpacked header alone."""
    return "command %d (application %d, %s)" % (
        header[1] & 0xFFFFFF, header[2],
        "request" if (header[1] >> 24) & FLAG_REQUEST else "answer")


def _describe(message):
    try:
        name = message.name
    except Exception:
        name = None
    return name or "command %d (application %d, %s)" % (
        message.command_code, message.application_id,
        "request" if message.flags & FLAG_REQUEST else "answer")


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
