"""
The Diameter node: identity, peer table, handler registry and dispatch.

A L{DiameterNode} is the controller behind every L{DiameterProtocol}
connection (the twisted.names way: protocols frame bytes, the
factory/controller decides).  It

 - builds our CER/CEA/DWR/DWA/DPR from our identity and the applications
   registered with L{DiameterNode.register_application};
 - checks a peer's capabilities (allow-list, common applications, a second
   connection from an Origin-Host that is already open);
 - keeps the peer table, C{node.peers}: lower-cased Origin-Host -> L{Peer},
   so that later code can send requests to a named peer;
 - dispatches requests by (application id, command code) to handlers, after
   validating them against the dictionary, and turns every failure into the
   right error answer;
 - matches answers to the requests it sent by hop-by-hop identifier
   (L{DiameterNode.send_request}), with a timeout;
 - disconnects every peer with DPR on L{DiameterNode.stop}.

Second connection from an Origin-Host that already has an open connection:
the new one is refused with a CEA carrying 4003 (ELECTION_LOST) and closed,
and the existing connection is kept.  RFC 6733 5.6.4's election only
decides between a connection we initiated and one we accepted at the same
time; an HSS answers connections, and keeping the established one means a
peer cannot hijack a live session by reconnecting.  A stale connection is
cleared by the watchdog (at most Tw + watchdog_timeout), after which the
peer's reconnection succeeds.
"""

import itertools
import random
import struct
import time

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python import failure

from pyhss import logsetup
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import (
    APP_BASE, APP_RELAY, CMD_CER, CMD_DPR, CMD_DWR, VENDOR_3GPP)
from pyhss.protocols.admission import Admission
from pyhss.protocols.peer import OPEN, CLOSING, ROLE_RESPONDER

_HEADER = struct.Struct("!IIIII")
_DEFAULT_WATCHDOG_JITTER = 2.0


class RequestTimeout(Exception):
    """No answer to a request we sent within request_timeout."""


class PeerDisconnected(Exception):
    """The connection closed before the answer to our request arrived."""


class UnknownPeer(Exception):
    """send_request to an Origin-Host that has no open connection."""


class Timers(object):
    """Timer values in seconds (the C{timers} section of the config)."""

    def __init__(self, watchdog=30.0, watchdog_timeout=10.0, cer_timeout=10.0,
                 dpa_timeout=5.0, request_timeout=10.0):
        self.watchdog = watchdog
        self.watchdog_timeout = watchdog_timeout
        self.cer_timeout = cer_timeout
        self.dpa_timeout = dpa_timeout
        self.request_timeout = request_timeout


class Peer(object):
    """
    A peer whose capabilities exchange succeeded.

    @ivar origin_host: its Origin-Host as announced.
    @ivar origin_realm: its Origin-Realm.
    @ivar applications: frozenset of application ids shared with us.
    @ivar announced: frozenset of application ids the peer announced
        (0xffffffff for a relay).
    @ivar connection: the L{DiameterProtocol} carrying it.
    @ivar connected_at: clock time of the capabilities exchange.
    """

    def __init__(self, origin_host, origin_realm, applications, announced,
                 connection, connected_at, host_ip_addresses=(), vendor_id=0,
                 product_name=None, origin_state_id=None):
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.applications = applications
        self.announced = announced
        self.connection = connection
        self.connected_at = connected_at
        self.host_ip_addresses = host_ip_addresses
        self.vendor_id = vendor_id
        self.product_name = product_name
        self.origin_state_id = origin_state_id

    @property
    def state(self):
        return self.connection.state

    @property
    def counters(self):
        return self.connection.counters

    def __repr__(self):
        return "<Peer %s (%s) %s>" % (self.origin_host, self.origin_realm,
                                      self.state)


class DiameterNode(object):
    """
    Our Diameter identity and the controller of every connection.

    @param clock: an L{IReactorTime} (the reactor, or L{task.Clock} in tests).
    @param allowed_peers: C{None}/empty for everyone, else a callable
        C{(origin_host, origin_realm, source_address) -> bool}.
    @param watchdog_jitter: RFC 3539 jitter amplitude in seconds, capped at
        a tenth of Tw (0 makes the watchdog exact, for tests).
    """

    log = Logger(namespace="pyhss.node")

    def __init__(self, origin_host, origin_realm, clock, product_name="pyhss",
                 vendor_id=0, timers=None, max_message_size=65536,
                 max_avp_depth=16, max_pending_requests=4096,
                 max_connections=1024, max_unopened_connections=256,
                 max_unopened_per_address=64, max_write_buffer=1 << 20,
                 write_stall_timeout=30.0, allowed_peers=None,
                 origin_state_id=None, watchdog_jitter=_DEFAULT_WATCHDOG_JITTER,
                 debug=False, rng=None):
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.clock = clock
        self.product_name = product_name
        self.vendor_id = vendor_id
        self.timers = timers if timers is not None else Timers()
        self.max_message_size = max_message_size
        self.max_avp_depth = max_avp_depth
        self.max_pending_requests = max_pending_requests
        self.max_connections = max_connections
        self.admission = Admission(max_connections, max_unopened_connections,
                                   max_unopened_per_address)
        self.max_write_buffer = max_write_buffer
        self.write_stall_timeout = write_stall_timeout
        self.allowed_peers = allowed_peers
        self.origin_state_id = (int(time.time()) if origin_state_id is None
                                else origin_state_id)
        self.debug = debug
        self._random = rng if rng is not None else random.Random()
        self._jitter = min(watchdog_jitter, self.timers.watchdog / 10.0)
        self.applications = {}          # application id -> vendor id
        self.handlers = {}              # (application id, command) -> fn
        self.connections = set()
        self.peers = {}                 # lower-cased Origin-Host -> Peer
        self._pending = {}              # hop-by-hop -> (Deferred, protocol, call)
        self._hop_by_hop = itertools.count(self._random.getrandbits(32))
        self._end_to_end = itertools.count(
            ((int(time.time()) & 0xFFF) << 20) | self._random.getrandbits(20))
        self._stopping = False
        self._summaries = {}            # log namespace -> LogSummariser
        self._origin_avps = (None, None)
        self._dwa_body = b"".join(avp.encode() for avp in (
            codec.Avp.new("Result-Code", results.DIAMETER_SUCCESS),
            codec.Avp.new("Origin-Host", origin_host),
            codec.Avp.new("Origin-Realm", origin_realm),
            codec.Avp.new("Origin-State-Id", self.origin_state_id)))

    @classmethod
    def from_config(cls, config, clock, **overrides):
        """A node for a L{pyhss.config.Config}."""
        hss, limits = config.hss, config.limits
        timers = Timers(**{name: getattr(config.timers, name) for name in (
            "watchdog", "watchdog_timeout", "cer_timeout", "dpa_timeout",
            "request_timeout")})
        arguments = dict(
            origin_host=hss.origin_host, origin_realm=hss.origin_realm,
            clock=clock, product_name=hss.product_name,
            vendor_id=hss.vendor_id, timers=timers,
            max_message_size=limits.max_message_size,
            max_avp_depth=limits.max_avp_depth,
            max_pending_requests=limits.max_pending_requests,
            max_connections=limits.max_connections,
            max_unopened_connections=limits.max_unopened_connections,
            max_unopened_per_address=limits.max_unopened_per_address,
            max_write_buffer=limits.max_write_buffer,
            write_stall_timeout=limits.write_stall_timeout,
            allowed_peers=(hss.peer_allowed if hss.allowed_peers else None),
            debug=config.logging.level == "debug")
        arguments.update(overrides)
        return cls(**arguments)

    # --- applications ------------------------------------------------------------

    def register_application(self, application_id, vendor_id=0, handlers=None):
        """
        Serve an application: advertise it in CER/CEA (as
        Vendor-Specific-Application-Id when C{vendor_id} is set) and dispatch
        its requests, C{handlers} mapping command code -> C{fn(message, peer)}
        returning an answer Message or a Deferred of one.
        """
        self.applications[application_id] = vendor_id
        for command, handler in (handlers or {}).items():
            self.handlers[(application_id, command)] = handler

    # --- identifiers and timers ----------------------------------------------------

    def next_hop_by_hop(self):
        return next(self._hop_by_hop) & 0xFFFFFFFF

    def next_end_to_end(self):
        return next(self._end_to_end) & 0xFFFFFFFF

    def watchdog_interval(self):
        """Tw with RFC 3539 jitter."""
        if self._jitter:
            return self.timers.watchdog + self._random.uniform(
                -self._jitter, self._jitter)
        return self.timers.watchdog

    def new_deferred(self):
        return defer.Deferred()

    # --- messages we build ---------------------------------------------------------

    def _request(self, application_id, command_code, proxiable=False):
        return codec.Message.request(
            application_id, command_code, hop_by_hop=self.next_hop_by_hop(),
            end_to_end=self.next_end_to_end(), proxiable=proxiable)

    def _add_capabilities(self, message, connection):
        message.add("Origin-Host", self.origin_host)
        message.add("Origin-Realm", self.origin_realm)
        if connection.local_address:
            message.add("Host-IP-Address", connection.local_address)
        message.add("Vendor-Id", self.vendor_id)
        message.add("Product-Name", self.product_name)
        message.add("Origin-State-Id", self.origin_state_id)
        message.add("Supported-Vendor-Id", VENDOR_3GPP)
        for application_id, vendor_id in sorted(self.applications.items()):
            if vendor_id:
                message.add("Vendor-Specific-Application-Id", [
                    ("Vendor-Id", vendor_id),
                    ("Auth-Application-Id", application_id)])
            else:
                message.add("Auth-Application-Id", application_id)
        return message

    def capabilities_request(self, connection):
        """Our CER on C{connection}."""
        return self._add_capabilities(
            self._request(APP_BASE, CMD_CER), connection)

    def capabilities_answer(self, connection, cer, result_code, reason=None):
        """Our CEA to C{cer}; RFC 6733 5.3.2 wants our capabilities in
        failures too."""
        answer = cer.answer(result_code)
        self._add_capabilities(answer, connection)
        if reason and result_code != results.DIAMETER_SUCCESS:
            answer.add("Error-Message", reason[:200])
        return answer

    def watchdog_request(self):
        return self._request(APP_BASE, CMD_DWR).add(
            "Origin-Host", self.origin_host).add(
            "Origin-Realm", self.origin_realm).add(
            "Origin-State-Id", self.origin_state_id)

    def watchdog_answer_bytes(self, dwr):
        """The DWA to C{dwr}, encoded: a constant body and packed ids."""
        body = self._dwa_body
        return _HEADER.pack(
            0x01000000 | (20 + len(body)),
            ((dwr.flags & codec.FLAG_PROXIABLE) << 24) | CMD_DWR, APP_BASE,
            dwr.hop_by_hop, dwr.end_to_end) + body

    def disconnect_request(self, cause):
        return self._request(APP_BASE, CMD_DPR).add(
            "Origin-Host", self.origin_host).add(
            "Origin-Realm", self.origin_realm).add("Disconnect-Cause", cause)

    def answer(self, request, result_code=None):
        """
        The answer to C{request} with our Origin-Host and Origin-Realm (and
        Result-Code when given); handlers add the rest.
        """
        answer = request.answer(result_code)
        answer.avps += self.origin_avps()
        return answer

    def origin_avps(self):
        """Our Origin-Host and Origin-Realm AVPs, encoded once: every
        answer carries the same two."""
        origin = self._origin_avps
        if origin[0] != self.origin_host or origin[1] != self.origin_realm:
            origin = self._origin_avps = (
                self.origin_host, self.origin_realm,
                codec.constant_avp("Origin-Host", self.origin_host),
                codec.constant_avp("Origin-Realm", self.origin_realm))
        return origin[2:]

    def error_answer(self, request, result_code, failed_avps=(),
                     error_message=None):
        """An RFC 6733 7.2 error answer (E bit set by the codec for 3xxx)."""
        answer = self.answer(request, result_code)
        if error_message:
            answer.add("Error-Message", error_message[:200])
        if failed_avps:
            answer.append(codec.Avp.new("Failed-AVP", list(failed_avps)))
        return answer

    def validation_answer(self, request, problems):
        """The error answer for C{codec.validate()}'s list of problems: the
        first problem's result code, every AVP with that code in Failed-AVP."""
        code = problems[0][0]
        failed = [avp for problem_code, avp in problems
                  if problem_code == code and avp is not None]
        return self.error_answer(request, code, failed)

    def error_answer_for_header(self, header, result_code, failed_avp=None,
                                session_id=None, error_message=None):
        """
        The encoded error answer to a request whose body did not decode,
        built from its header fields; C{failed_avp} and C{session_id} are
        raw AVP bytes as received.
        """
        _, flags_command, application_id, hop_by_hop, end_to_end = header
        flags = (flags_command >> 24) & codec.FLAG_PROXIABLE
        if 3000 <= result_code < 4000:
            flags |= codec.FLAG_ERROR
        parts = []
        if session_id:
            parts.append(session_id)
        parts.append(codec.Avp.new("Origin-Host", self.origin_host).encode())
        parts.append(codec.Avp.new("Origin-Realm", self.origin_realm).encode())
        parts.append(codec.Avp.new("Result-Code", result_code).encode())
        if error_message:
            parts.append(codec.Avp.new(
                "Error-Message", error_message[:200]).encode())
        if failed_avp:
            parts.append(codec.Avp.new(
                "Failed-AVP", [codec.failed_avp(failed_avp)]).encode())
        body = b"".join(parts)
        return _HEADER.pack(
            0x01000000 | (20 + len(body)),
            (flags << 24) | (flags_command & 0xFFFFFF), application_id,
            hop_by_hop, end_to_end) + body

    # --- capabilities --------------------------------------------------------------

    def check_capabilities(self, connection, message):
        """
        Judge a CER (responder) or CEA (initiator).

        @return: C{(result_code, peer or None, reason)}.
        """
        problems = codec.validate(message)
        if problems:
            code, avp = problems[0]
            return code, None, "invalid %s: %s %s" % (
                message.name, code, getattr(avp, "name", ""))
        origin_host = message.get("Origin-Host")
        origin_realm = message.get("Origin-Realm")
        if self.allowed_peers is not None and not self.allowed_peers(
                origin_host, origin_realm, connection.remote_host):
            return (results.DIAMETER_UNKNOWN_PEER, None,
                    "peer %s (realm %s) is not allowed from %s" % (
                        origin_host, origin_realm, connection.remote_host))
        announced = set()
        for name in ("Auth-Application-Id", "Acct-Application-Id"):
            for avp in message.find_all(name):
                announced.add(avp.value)
        for group in message.find_all("Vendor-Specific-Application-Id"):
            for child in group.value:
                if child.name in ("Auth-Application-Id", "Acct-Application-Id"):
                    announced.add(child.value)
        ours = set(self.applications)
        relay = APP_RELAY in announced or APP_RELAY in ours
        # RFC 6733 5.3: a relay (0xffffffff) shares every application.
        if APP_RELAY in announced:
            common = ours - {APP_RELAY}
        elif APP_RELAY in ours:
            common = set(announced)
        else:
            common = ours & announced
        if not common and not relay:
            return (results.DIAMETER_NO_COMMON_APPLICATION, None,
                    "no common application (peer announced %s, we serve %s)"
                    % (sorted(announced), sorted(ours)))
        existing = self.peers.get(origin_host.lower())
        if existing is not None and existing.connection is not connection:
            return (results.ELECTION_LOST, None,
                    "%s already has an open connection" % (origin_host,))
        peer = Peer(
            origin_host, origin_realm, frozenset(common), frozenset(announced),
            connection, self.clock.seconds(),
            tuple(avp.value for avp in message.find_all("Host-IP-Address")),
            message.get("Vendor-Id", 0), message.get("Product-Name"),
            message.get("Origin-State-Id"))
        return results.DIAMETER_SUCCESS, peer, None

    # --- connection bookkeeping ------------------------------------------------------

    def connection_made(self, connection):
        self.connections.add(connection)
        if connection.role == ROLE_RESPONDER:
            self.admission.added(connection, connection.remote_host)
        if self._stopping:
            connection.close()

    def peer_opened(self, connection, peer):
        self.peers[peer.origin_host.lower()] = peer
        self.admission.opened(connection)
        self.log.info("peer {host} ({realm}) open on {remote}, applications"
                      " {apps}", host=peer.origin_host, realm=peer.origin_realm,
                      remote=connection.remote, apps=sorted(peer.applications))

    def peer_closing(self, connection):
        pass

    def connection_lost(self, connection, reason):
        self.connections.discard(connection)
        if connection.role == ROLE_RESPONDER:
            self.admission.removed(connection)
        peer = connection.peer
        if peer is not None:
            key = peer.origin_host.lower()
            if self.peers.get(key) is peer:
                del self.peers[key]
            self.log.info("peer {host} disconnected ({why})",
                          host=peer.origin_host, why=reason.getErrorMessage())
        if self._pending:
            for hop_by_hop, (d, owner, call) in list(self._pending.items()):
                if owner is connection:
                    del self._pending[hop_by_hop]
                    if call.active():
                        call.cancel()
                    d.errback(failure.Failure(PeerDisconnected(
                        "connection to %s closed before the answer" % (
                            connection._peer_name(),))))

    # --- requests from peers ---------------------------------------------------------

    def dispatch(self, connection, request):
        """Run the handler for C{request} and send its answer."""
        key = (request.application_id, request.command_code)
        if self.debug:
            self.log.debug("{peer} -> {name} hbh={hbh:#x}",
                           peer=connection._peer_name(), name=request.name,
                           hbh=request.hop_by_hop)
        handler = self.handlers.get(key)
        if handler is None:
            # The base protocol (application 0) is served on every
            # connection: an unknown base command is unsupported, not its
            # application.
            if request.application_id in self.applications or request.application_id == APP_BASE:
                code = results.DIAMETER_COMMAND_UNSUPPORTED
            else:
                code = results.DIAMETER_APPLICATION_UNSUPPORTED
            connection.send_answer(self.error_answer(request, code))
            return
        problems = codec.validate(request)
        if problems:
            connection.send_answer(self.validation_answer(request, problems))
            return
        if connection.pending >= self.max_pending_requests:
            connection.send_answer(self.error_answer(
                request, results.DIAMETER_TOO_BUSY))
            return
        connection.pending += 1
        try:
            result = handler(request, connection.peer)
        except Exception:
            self._handler_failed(failure.Failure(), connection, request)
            return
        if isinstance(result, defer.Deferred):
            result.addCallbacks(self._handler_answered, self._handler_failed,
                                (connection, request), None,
                                (connection, request), None)
        else:
            self._handler_answered(result, connection, request)

    def _handler_answered(self, answer, connection, request):
        connection.pending -= 1
        if not isinstance(answer, codec.Message) or answer.is_request:
            self._handler_failed(failure.Failure(TypeError(
                "handler returned %r, not an answer Message" % (answer,))),
                connection, request, counted=False)
            return
        answer.hop_by_hop = request.hop_by_hop
        answer.end_to_end = request.end_to_end
        if self.debug:
            self.log.debug("{peer} <- {name} hbh={hbh:#x} result={code}",
                           peer=connection._peer_name(), name=answer.name,
                           hbh=answer.hop_by_hop,
                           code=answer.get("Result-Code"))
        try:
            connection.send_answer(answer)
        except Exception:
            self._handler_failed(failure.Failure(), connection, request,
                                 counted=False)

    def log_summary(self, log):
        """
        The L{logsetup.LogSummariser} for C{log} (by namespace) on this
        node's clock: a flood of one warning or failure, from this node or
        its connections, is counted, not logged each time.
        """
        summary = self._summaries.get(log.namespace)
        if summary is None:
            summary = self._summaries[log.namespace] = \
                logsetup.LogSummariser(log, self.clock)
        return summary

    def _handler_failed(self, reason, connection, request, counted=True):
        if counted:
            connection.pending -= 1
        # One traceback per command and cause (a full disk fails every request).
        self.log_summary(self.log).failure(
            "handler for {name} from {peer} failed", reason,
            key=(request.name,) + logsetup.failure_key(reason),
            name=request.name, peer=connection._peer_name())
        connection.send_answer(self.error_answer(
            request, results.DIAMETER_UNABLE_TO_COMPLY))

    # --- requests we send -----------------------------------------------------------

    def peer(self, origin_host):
        """The open L{Peer} for C{origin_host} (case-insensitive) or None."""
        return self.peers.get(origin_host.lower())

    def send_request(self, peer_origin_host, message, timeout=None):
        """
        Send C{message} (a request) to the named peer.

        Hop-by-hop and end-to-end identifiers are assigned here (an
        end-to-end id already set is kept).

        @return: L{Deferred} firing with the answer Message, or failing with
            L{UnknownPeer}, L{RequestTimeout} or L{PeerDisconnected}.
        """
        peer = self.peers.get(peer_origin_host.lower())
        if peer is None or peer.connection.state != OPEN:
            return defer.fail(UnknownPeer(
                "no open connection to %s" % (peer_origin_host,)))
        connection = peer.connection
        hop_by_hop = self.next_hop_by_hop()
        while hop_by_hop in self._pending:
            hop_by_hop = self.next_hop_by_hop()
        message.hop_by_hop = hop_by_hop
        if not message.end_to_end:
            message.end_to_end = self.next_end_to_end()
        d = defer.Deferred()
        call = self.clock.callLater(
            self.timers.request_timeout if timeout is None else timeout,
            self._request_timed_out, hop_by_hop)
        self._pending[hop_by_hop] = (d, connection, call)
        if self.debug:
            self.log.debug("{peer} <- {name} hbh={hbh:#x} (request)",
                           peer=peer.origin_host, name=message.name,
                           hbh=hop_by_hop)
        try:
            connection.send_request(message)
        except Exception:
            del self._pending[hop_by_hop]
            call.cancel()
            return defer.fail()
        return d

    def _request_timed_out(self, hop_by_hop):
        d, connection, _ = self._pending.pop(hop_by_hop)
        d.errback(failure.Failure(RequestTimeout(
            "no answer from %s within %ss (hop-by-hop %#x)" % (
                connection._peer_name(), self.timers.request_timeout,
                hop_by_hop))))

    def answer_received(self, connection, answer):
        """An answer that is not CEA/DWA/DPA: match it to our request."""
        entry = self._pending.get(answer.hop_by_hop)
        if entry is None or entry[1] is not connection:
            peer = connection._peer_name()
            self.log_summary(self.log).warn(
                ("unknown hop-by-hop", peer),
                "{peer}: dropping {name} with unknown hop-by-hop {hbh:#x}",
                peer=peer, name=answer.name, hbh=answer.hop_by_hop)
            return
        del self._pending[answer.hop_by_hop]
        d, _, call = entry
        if call.active():
            call.cancel()
        if self.debug:
            self.log.debug("{peer} -> {name} hbh={hbh:#x} (answer)",
                           peer=connection._peer_name(), name=answer.name,
                           hbh=answer.hop_by_hop)
        d.callback(answer)

    # --- shutdown -----------------------------------------------------------------------

    def stop(self, cause=0):
        """
        Send DPR (Disconnect-Cause REBOOTING by default) to every open peer,
        close connections still in the capabilities exchange.

        @return: L{Deferred} firing once every connection is closed (each
            waits at most dpa_timeout for the DPA, then the close).
        """
        self._stopping = True
        for summary in self._summaries.values():
            summary.flush()
        waits = []
        for connection in list(self.connections):
            if connection.state == CLOSING:
                waits.append(connection.when_closed())
            else:
                waits.append(connection.disconnect(cause))
        return defer.DeferredList(waits, consumeErrors=True).addCallback(
                                      lambda _: None)
