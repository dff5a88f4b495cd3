"""``twistd ss7replay server``: accepts SIGTRAN associations, answers M3UA
ASP management, logs and records what arrives.

Each association gets an :class:`AssociationProtocol` with its own ASP
state (:class:`~ss7tools.replay.asp.SgpMachine`) and decoder.  With
detection (:mod:`ss7tools.replay.detection`), every SS7 message is judged
before it is recorded: an alert or drop is logged as a JSON line, and a
dropped message is neither recorded nor counted as accepted.  A peer
that sends garbage over TCP (a bad version, an impossible length) gets an
ERR and is disconnected; over SCTP, where each message stands alone, a bad
message gets its ERR and the association goes on.  Either way the other
associations are not affected.  Per-second counters go to the console.
"""

import json

from twisted.internet import task
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from . import asp
from .framing import PPID_M3UA, SigtranProtocol, implied_ppid
from .detection import alert_line
from .record import MessageSummary, summarise

#: Associations served at once; more are refused (closed at once).
DEFAULT_MAX_ASSOCIATIONS = 4096
COUNTER_INTERVAL = 1.0

log = Logger(namespace="ss7replay.server")


def _address(address):
    """``(host, port)`` of a transport address (IPv4/IPv6/SCTP), or Nones."""
    return getattr(address, "host", None), getattr(address, "port", None)


class AssociationProtocol(SigtranProtocol):
    """One association: frames (TCP), answers, logs, records, counts."""

    def __init__(self, server, number):
        self.server = server
        self.number = number
        self.machine = asp.SgpMachine()
        self.messages = 0
        self.octets = 0
        self.refused = 0
        self.dropped = 0
        self.close_reason = None
        self._summary = None

    def connectionMade(self):
        self.peer, self.peer_port = _address(self.transport.getPeer())
        self.local, self.local_port = _address(self.transport.getHost())
        self.server.opened(self)

    def message_received(self, data, stream, ppid):
        server = self.server
        now = server.clock.seconds()
        self.messages += 1
        self.octets += len(data)
        if stream is None:
            stream = 0
        if ppid is None:
            ppid = implied_ppid(data)
        server.received(self, now, stream, ppid, data)
        if not (ppid == PPID_M3UA or (ppid == 0 and implied_ppid(data) == PPID_M3UA)):
            return      # M2PA and other adaptations are recorded, not answered
        replies, note = self.machine.receive(data, stream if self.keeps_boundaries else None)
        for reply in replies:
            self.send_message(reply.data, reply.stream, PPID_M3UA)
        if note is not None:
            self.refused += 1
            server.event(self, "refused", message=self.messages, reason=note,
                         answers=[reply.name for reply in replies])

    def decoded(self, now, stream, ppid, data):
        """The message as the parser decodes it (its frame: its number on
        this association), or None if the decoder failed."""
        if self._summary is None:
            self._summary = MessageSummary()
        return self._summary.decode(self.messages, now, self.peer, self.local, self.peer_port,
                                    self.local_port, stream, ppid, data)

    def framing_failed(self, error):
        # the byte stream cannot be followed any further: say why, and drop it
        self.close_reason = "garbage: %s" % (error,)
        code = "invalid_version" if "version" in str(error) else "protocol_error"
        self.transport.write(asp.err(code))
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if self.close_reason is None:
            partial = self.partial_octets
            if partial:
                self.close_reason = "disconnected mid-message (%d octets of it dropped)" % partial
            else:
                self.close_reason = reason.getErrorMessage()
        self.server.closed(self)


class ServerCounters:
    """Associations and traffic, per interval and in total."""

    def __init__(self):
        self.associations = 0
        self.opened = 0
        self.closed = 0
        self.messages = 0
        self.octets = 0
        self._interval_messages = 0
        self._interval_octets = 0
        self._shown = None

    def add(self, octets):
        self.messages += 1
        self.octets += octets
        self._interval_messages += 1
        self._interval_octets += octets

    def interval_line(self, seconds):
        """The console line for the interval just ended, or None when
        nothing happened and nothing changed since the last line."""
        values = (self.associations, self._interval_messages, self._interval_octets)
        self._interval_messages = self._interval_octets = 0
        if values == self._shown or (values[1] == 0 and self._shown is None and not values[0]):
            return None
        self._shown = values if values[1] == 0 else None
        return "%d associations, %d msg/s, %d B/s (total %d messages, %d associations served)" % (
            values[0], round(values[1] / seconds), round(values[2] / seconds),
            self.messages, self.opened)


class ReplayServer(Factory):
    """The listening side: builds associations and holds the outputs.

    ``event_log`` (an :class:`~ss7tools.replay.record.EventLog`) gets the
    association lines and, when ``log_messages``, one line per message;
    ``recorder`` (a :class:`~ss7tools.replay.record.Recorder`) the
    received messages.  ``clock`` stamps and paces (the reactor).
    """

    noisy = False

    def __init__(self, clock, event_log=None, recorder=None, log_messages=True,
                 max_associations=DEFAULT_MAX_ASSOCIATIONS, console=True, detection=None):
        self.clock = clock
        self.event_log = event_log
        self.recorder = recorder
        self.log_messages = log_messages and event_log is not None
        self.max_associations = max_associations
        self.console = console
        self.counters = ServerCounters()
        self.detection = detection
        self.associations = {}
        self._numbers = 0
        self._ticker = None
        self.closed_waiters = []

    def buildProtocol(self, addr):
        if len(self.associations) >= self.max_associations:
            log.warn("association from {peer} refused: {n} associations already",
                     peer=_address(addr)[0], n=len(self.associations))
            return None
        self._numbers += 1
        protocol = AssociationProtocol(self, self._numbers)
        protocol.factory = self
        return protocol

    def start_counters(self):
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.clock = self.clock
        self._ticker.start(COUNTER_INTERVAL, now=False)

    def stop(self):
        """Stop the counters, close every association, flush and close the
        outputs."""
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        for protocol in list(self.associations.values()):
            # its line is written now, while the log is open
            protocol.close_reason = "server stopping"
            self.closed(protocol)
            protocol.transport.loseConnection()
        if self.detection is not None:
            summary = self.detection.summary()
            if self.event_log is not None:
                self.event_log.write(summary)
            if self.console:
                log.info("{line}", line=_json(summary))
        for output in (self.recorder, self.event_log):
            if output is not None:
                output.close()

    def _tick(self):
        line = self.counters.interval_line(COUNTER_INTERVAL)
        if self.detection is not None:
            judged = self.detection.interval_text()
            if judged:
                line = (line or "no messages accepted") + judged
        if line is not None and self.console:
            log.info("{line}", line=line)
        self.flush()

    def flush(self):
        for output in (self.recorder, self.event_log):
            if output is not None:
                output.flush()

    def event(self, protocol, name, **fields):
        line = {"event": name, "time": round(self.clock.seconds(), 6),
                "association": protocol.number}
        line.update(fields)
        if self.event_log is not None:
            self.event_log.write(line)
        return line

    def opened(self, protocol):
        self.associations[protocol.number] = protocol
        self.counters.associations += 1
        self.counters.opened += 1
        transport = protocol.transport
        line = self.event(
            protocol, "association_opened", transport=protocol.transport_name,
            peer=protocol.peer, peer_port=protocol.peer_port, local=protocol.local,
            local_port=protocol.local_port,
            inbound_streams=getattr(transport, "inbound_streams", None),
            outbound_streams=getattr(transport, "outbound_streams", None))
        if self.console:
            log.info("{line}", line=_json(line))
        if self.recorder is not None:
            self.recorder.open_association(protocol.number, protocol.peer, protocol.peer_port,
                                           protocol.local, protocol.local_port)

    def received(self, protocol, now, stream, ppid, data):
        decoded = None
        if self.detection is not None or self.log_messages:
            decoded = protocol.decoded(now, stream, ppid, data)
        if self.detection is not None and self._judge(protocol, decoded) == "drop":
            protocol.dropped += 1
            return
        self.counters.add(len(data))
        if self.recorder is not None:
            self.recorder.write(protocol.number, now, stream, ppid, data)
        if self.log_messages:
            line = {"event": "message", "time": round(now, 6), "association": protocol.number,
                    "peer": protocol.peer, "peer_port": protocol.peer_port, "stream": stream,
                    "ppid": ppid, "size": len(data)}
            line.update(summarise(decoded))
            self.event_log.write(line)

    def _judge(self, protocol, decoded):
        """The action detection takes on a message (None: not judged)."""
        try:
            verdict = self.detection.judge(decoded)
        except Exception as exc:  # an evaluation fault must not cost the message
            self.detection.errors += 1
            self.event(protocol, "detection_error", message=protocol.messages,
                       error="%s: %s" % (type(exc).__name__, exc))
            return None
        if verdict is None or verdict.action == "allow":
            return None
        line = alert_line(protocol.number, verdict)
        if self.event_log is not None:
            self.event_log.write(line)
        if self.console:
            log.info("{line}", line=_json(line))
        return verdict.action

    def closed(self, protocol):
        if self.associations.pop(protocol.number, None) is None:
            return
        self.counters.associations -= 1
        self.counters.closed += 1
        line = self.event(
            protocol, "association_closed", peer=protocol.peer, peer_port=protocol.peer_port,
            messages=protocol.messages, octets=protocol.octets, refused=protocol.refused,
            dropped=protocol.dropped,
            asp_state=protocol.machine.state, reason=protocol.close_reason)
        if self.console:
            log.info("{line}", line=_json(line))
        if self.recorder is not None:
            self.recorder.close_association(protocol.number)
        waiters, self.closed_waiters = self.closed_waiters, []
        for waiter in waiters:
            waiter(protocol)


def _json(line):
    return json.dumps(line, separators=(",", ":"), default=str)
